//! Two accounts on one server: the second made by `keyward admin
//! create-account`, as an operator would. Each account sees its own events,
//! keys, aliases and grants, and none of the other's, both ways (the Python
//! twin is `test_lookup_events.py::test_another_accounts_events_are_not_visible`).

use std::process::Command;

use aws_sdk_kms::types::GrantOperation;
use serde_json::Value;

use crate::aws_error::service_failure;
use crate::fixtures::Must;
use crate::harness::{parse_shared_credentials, ServerOptions, TestServer, ACCOUNT_ID};
use crate::identity::{kms_with, signed_post, Creds};

const OTHER_ACCOUNT: &str = "444455556666";

/// Every event LookupEvents gives `creds`, as CloudTrail records, following `NextToken`.
async fn all_events(
    server: &TestServer,
    creds: &Creds,
    attribute: Option<(&str, &str)>,
) -> Vec<Value> {
    let mut records = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut request = serde_json::json!({"MaxResults": 50});
        if let Some((key, value)) = attribute {
            request["LookupAttributes"] =
                serde_json::json!([{"AttributeKey": key, "AttributeValue": value}]);
        }
        if let Some(token) = &token {
            request["NextToken"] = Value::String(token.clone());
        }
        let response = signed_post(
            server,
            creds,
            "cloudtrail",
            &[
                ("content-type", "application/x-amz-json-1.1"),
                (
                    "x-amz-target",
                    "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents",
                ),
            ],
            request.to_string().as_bytes(),
        )
        .await;
        assert_eq!(response.status, 200, "{}", response.body_text());
        let page = response.json();
        for event in page["Events"].as_array().unwrap() {
            records.push(serde_json::from_str(event["CloudTrailEvent"].as_str().unwrap()).unwrap());
        }
        match page.get("NextToken").and_then(Value::as_str) {
            Some(next) => token = Some(next.to_owned()),
            None => return records,
        }
    }
}

struct Made {
    key_id: String,
    key_arn: String,
    alias: String,
    grant_id: String,
    root: String,
}

#[tokio::test]
async fn accounts_see_only_their_own_events_keys_aliases_and_grants() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let output = server.data_dir().join("other-account");
    let created = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args([
            "admin",
            "create-account",
            "--endpoint-url",
            server.endpoint(),
        ])
        .arg("--data-dir")
        .arg(server.data_dir())
        .args(["--account-id", OTHER_ACCOUNT, "--output"])
        .arg(&output)
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let other =
        parse_shared_credentials(&std::fs::read_to_string(&output).unwrap(), "default").unwrap();
    let admin = server.admin_credentials();
    let accounts: [(&str, Creds); 2] = [
        (
            ACCOUNT_ID,
            (admin.access_key_id, admin.secret_access_key, None),
        ),
        (
            OTHER_ACCOUNT,
            (other.access_key_id, other.secret_access_key, None),
        ),
    ];

    let mut made = Vec::new();
    for (account, creds) in &accounts {
        let kms = kms_with(&server, creds);
        let root = format!("arn:aws:iam::{account}:root");
        let metadata = kms.create_key().send().await.must("CreateKey");
        let metadata = metadata.key_metadata().unwrap();
        let alias = format!("alias/of-{account}");
        kms.create_alias()
            .alias_name(&alias)
            .target_key_id(metadata.key_id())
            .send()
            .await
            .must("CreateAlias");
        let grant = kms
            .create_grant()
            .key_id(metadata.key_id())
            .grantee_principal(&root)
            .retiring_principal(&root)
            .operations(GrantOperation::Decrypt)
            .send()
            .await
            .must("CreateGrant");
        kms.encrypt()
            .key_id(&alias)
            .plaintext(aws_sdk_kms::primitives::Blob::new(b"x".to_vec()))
            .send()
            .await
            .must("Encrypt");
        made.push(Made {
            key_id: metadata.key_id().to_owned(),
            key_arn: metadata.arn().unwrap().to_owned(),
            alias,
            grant_id: grant.grant_id().unwrap().to_owned(),
            root,
        });
    }

    // The trails first: a call on the other's key, refused or not, is (as in
    // CloudTrail) delivered to the key's owner too.
    for (me, them) in [(0, 1), (1, 0)] {
        let (account, creds) = &accounts[me];
        let (theirs, their_account) = (&made[them], accounts[them].0);
        let records = all_events(&server, creds, None).await;
        for name in ["CreateKey", "CreateAlias", "CreateGrant", "Encrypt"] {
            assert!(
                records.iter().any(|r| r["eventName"] == name),
                "{account} does not see its {name}"
            );
        }
        for record in &records {
            assert_eq!(record["recipientAccountId"], *account, "{record}");
            let text = record.to_string();
            for secret in [&theirs.key_id, &theirs.alias, &theirs.grant_id] {
                assert!(
                    !text.contains(secret.as_str()),
                    "{account} sees {secret}: {text}"
                );
            }
            // The default account's own CreateAccount names the account it made.
            if record["eventName"] != "CreateAccount" {
                assert!(
                    !text.contains(their_account),
                    "{account} sees {their_account}: {text}"
                );
            }
        }
        assert!(
            all_events(&server, creds, Some(("ResourceName", &theirs.key_arn)))
                .await
                .is_empty(),
            "{account} finds events of the other's key"
        );
    }

    for (me, them) in [(0, 1), (1, 0)] {
        let (account, creds) = &accounts[me];
        let (mine, theirs) = (&made[me], &made[them]);
        let kms = kms_with(&server, creds);
        let keys = kms.list_keys().limit(1000).send().await.must("ListKeys");
        let keys: Vec<&str> = keys.keys().iter().filter_map(|k| k.key_id()).collect();
        assert!(keys.contains(&mine.key_id.as_str()), "{account}: {keys:?}");
        assert!(
            !keys.contains(&theirs.key_id.as_str()),
            "{account}: {keys:?}"
        );
        let aliases = kms
            .list_aliases()
            .limit(100)
            .send()
            .await
            .must("ListAliases");
        let aliases: Vec<&str> = aliases
            .aliases()
            .iter()
            .filter_map(|a| a.alias_name())
            .collect();
        assert!(
            aliases.contains(&mine.alias.as_str()),
            "{account}: {aliases:?}"
        );
        assert!(
            !aliases.contains(&theirs.alias.as_str()),
            "{account}: {aliases:?}"
        );
        let code = |failure: crate::aws_error::ServiceFailure| failure.code;
        assert_eq!(
            code(service_failure(
                kms.describe_key().key_id(&theirs.alias).send().await
            )),
            "NotFoundException"
        );
        assert_eq!(
            code(service_failure(
                kms.describe_key().key_id(&theirs.key_arn).send().await
            )),
            "AccessDeniedException"
        );
        let grants = kms
            .list_grants()
            .key_id(&mine.key_id)
            .send()
            .await
            .must("ListGrants");
        let grants: Vec<&str> = grants
            .grants()
            .iter()
            .filter_map(|g| g.grant_id())
            .collect();
        assert_eq!(grants, [mine.grant_id.as_str()]);
        assert_eq!(
            code(service_failure(
                kms.list_grants().key_id(&theirs.key_arn).send().await
            )),
            "AccessDeniedException"
        );
        let retirable = kms
            .list_retirable_grants()
            .retiring_principal(&mine.root)
            .send()
            .await
            .must("ListRetirableGrants");
        let retirable: Vec<&str> = retirable
            .grants()
            .iter()
            .filter_map(|g| g.grant_id())
            .collect();
        assert_eq!(retirable, [mine.grant_id.as_str()]);
        assert_eq!(
            code(service_failure(
                kms.list_retirable_grants()
                    .retiring_principal(&theirs.root)
                    .send()
                    .await
            )),
            "AccessDeniedException"
        );
    }
}
