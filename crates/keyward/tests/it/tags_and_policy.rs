//! TagResource / UntagResource / ListResourceTags and GetKeyPolicy /
//! PutKeyPolicy / ListKeyPolicies (kms-api.md §2.5, §2.7, §3 TagException, §8.1).

use aws_sdk_kms::types::Tag;

use crate::aws_error::assert_failure;
use crate::fixtures::{create_key, drain_pages, key_arn, Must};
use crate::harness::{ServerOptions, TestServer, ACCOUNT_ID};

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder()
        .tag_key(key)
        .tag_value(value)
        .build()
        .unwrap()
}

async fn tags_of(kms: &aws_sdk_kms::Client, key_id: &str) -> Vec<(String, String)> {
    let output = kms
        .list_resource_tags()
        .key_id(key_id)
        .send()
        .await
        .must("ListResourceTags");
    assert!(!output.truncated());
    let mut tags: Vec<(String, String)> = output
        .tags()
        .iter()
        .map(|tag| (tag.tag_key().to_owned(), tag.tag_value().to_owned()))
        .collect();
    tags.sort();
    tags
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[tokio::test]
async fn tags_are_added_overwritten_and_removed() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let created = kms
        .create_key()
        .tags(tag("team", "payments"))
        .tags(tag("env", "prod"))
        .send()
        .await
        .must("CreateKey with Tags");
    let key_id = created.key_metadata().unwrap().key_id().to_owned();
    assert_eq!(
        tags_of(&kms, &key_id).await,
        pairs(&[("env", "prod"), ("team", "payments")])
    );

    kms.tag_resource()
        .key_id(key_arn(&key_id))
        .tags(tag("env", "staging"))
        .tags(tag("cost-center", "42"))
        .tags(tag("empty", ""))
        .send()
        .await
        .must("TagResource");
    assert_eq!(
        tags_of(&kms, &key_id).await,
        pairs(&[
            ("cost-center", "42"),
            ("empty", ""),
            ("env", "staging"),
            ("team", "payments")
        ])
    );

    // Missing tag keys are silently ignored.
    kms.untag_resource()
        .key_id(&key_id)
        .tag_keys("team")
        .tag_keys("never-set")
        .send()
        .await
        .must("UntagResource");
    assert_eq!(
        tags_of(&kms, &key_id).await,
        pairs(&[("cost-center", "42"), ("empty", ""), ("env", "staging")])
    );

    let paged = drain_pages(1, |marker| {
        let kms = kms.clone();
        let key_id = key_id.clone();
        async move {
            let page = kms
                .list_resource_tags()
                .key_id(key_id)
                .limit(1)
                .set_marker(marker)
                .send()
                .await
                .must("ListResourceTags Limit=1");
            let tags: Vec<String> = page
                .tags()
                .iter()
                .map(|tag| tag.tag_key().to_owned())
                .collect();
            (
                tags,
                page.truncated(),
                page.next_marker().map(str::to_owned),
            )
        }
    })
    .await;
    let mut paged = paged;
    paged.sort();
    assert_eq!(paged, ["cost-center", "empty", "env"]);
}

#[tokio::test]
async fn reserved_and_duplicate_tag_keys_are_tag_exceptions() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();

    for reserved in ["aws:owner", "AWS:owner", "Aws:x"] {
        assert_failure(
            kms.tag_resource()
                .key_id(&key_id)
                .tags(tag(reserved, "v"))
                .send()
                .await,
            "TagException",
            "Tags beginning with aws: are reserved",
        );
    }
    assert_failure(
        kms.tag_resource()
            .key_id(&key_id)
            .tags(tag("dup", "1"))
            .tags(tag("dup", "2"))
            .send()
            .await,
        "TagException",
        "Duplicate tag keys",
    );
    assert!(
        tags_of(&kms, &key_id).await.is_empty(),
        "a rejected TagResource must not tag"
    );
}

/// kms-api.md §8.1: the exact document GetKeyPolicy returns for a key created without Policy.
fn default_key_policy(account_id: &str) -> String {
    format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{account_id}:root\"\n    }},\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
    )
}

fn parse_json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|err| panic!("policy is not JSON ({err}): {text}"))
}

#[tokio::test]
async fn a_new_key_has_the_default_key_policy() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();

    let output = kms
        .get_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .send()
        .await
        .must("GetKeyPolicy");
    assert_eq!(output.policy_name(), Some("default"));
    let policy = output.policy().unwrap_or_default();
    let expected = default_key_policy(ACCOUNT_ID);
    assert_eq!(
        parse_json(policy),
        parse_json(&expected),
        "default policy content"
    );
    assert_eq!(
        policy, expected,
        "default policy text, formatted as AWS formats it"
    );

    // PolicyName is optional and defaults to "default".
    let output = kms
        .get_key_policy()
        .key_id(key_arn(&key_id))
        .send()
        .await
        .must("GetKeyPolicy without PolicyName");
    assert_eq!(output.policy(), Some(expected.as_str()));

    let names = kms
        .list_key_policies()
        .key_id(&key_id)
        .send()
        .await
        .must("ListKeyPolicies");
    assert_eq!(names.policy_names(), ["default"]);
    assert!(!names.truncated());
}

#[tokio::test]
async fn put_key_policy_replaces_the_policy() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Id": "custom-policy",
        "Statement": [
            {
                "Sid": "Account administers the key",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "Nobody decrypts with context x=y",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": "kms:Decrypt",
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:EncryptionContext:x": "y"}}
            }
        ]
    });

    kms.put_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .policy(policy.to_string())
        .send()
        .await
        .must("PutKeyPolicy");
    let output = kms
        .get_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .send()
        .await
        .must("GetKeyPolicy");
    assert_eq!(
        parse_json(output.policy().unwrap_or_default()),
        policy,
        "GetKeyPolicy returns what was put"
    );

    // Malformed JSON is a MalformedPolicyDocumentException and changes nothing.
    let result = kms
        .put_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .policy("{not json")
        .send()
        .await;
    crate::aws_error::assert_failure_code(result, "MalformedPolicyDocumentException");
    let output = kms
        .get_key_policy()
        .key_id(&key_id)
        .send()
        .await
        .must("GetKeyPolicy");
    assert_eq!(parse_json(output.policy().unwrap_or_default()), policy);
}

#[tokio::test]
async fn tag_limits_are_enforced() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();

    // 50 tags per key (kms-api.md §13.2), counted over existing and new tags.
    let mut request = kms.tag_resource().key_id(&key_id);
    for n in 0..50 {
        request = request.tags(tag(&format!("key-{n:02}"), "v"));
    }
    request.send().await.must("TagResource with 50 tags");
    assert_eq!(tags_of(&kms, &key_id).await.len(), 50);
    assert_failure(
        kms.tag_resource()
            .key_id(&key_id)
            .tags(tag("one-too-many", "v"))
            .send()
            .await,
        "TagException",
        "Too many tags",
    );
    // Overwriting an existing key does not add a tag.
    kms.tag_resource()
        .key_id(&key_id)
        .tags(tag("key-00", "new value"))
        .send()
        .await
        .must("TagResource overwrite at the limit");

    // Lengths: key 1-128, value 0-256 (ValidationException, not TagException).
    let other = create_key(&kms).await.key_id().to_owned();
    kms.tag_resource()
        .key_id(&other)
        .tags(tag(&"k".repeat(128), &"v".repeat(256)))
        .send()
        .await
        .must("TagResource at the length limits");
    crate::aws_error::assert_failure_code(
        kms.tag_resource()
            .key_id(&other)
            .tags(tag(&"k".repeat(129), "v"))
            .send()
            .await,
        "ValidationException",
    );
    crate::aws_error::assert_failure_code(
        kms.tag_resource()
            .key_id(&other)
            .tags(tag("k", &"v".repeat(257)))
            .send()
            .await,
        "ValidationException",
    );
    assert_eq!(tags_of(&kms, &other).await.len(), 1);
}

/// A key policy this version cannot parse (written by another version, or
/// edited on disk) fails closed (issue 17, item 2): the key is usable by
/// nobody — its Deny could otherwise be lost — except that the account's
/// root user can still describe it, read the stored text and put a valid
/// policy. Grants do not help either. The condition is logged at start and
/// named in every refusal.
#[tokio::test]
async fn a_stored_key_policy_that_does_not_parse_locks_the_key() {
    let mut server = TestServer::start(ServerOptions::signed()).await;
    let root = server.kms_client();
    let alice = crate::identity::user_with_key(&server, "alice").await;
    let key_id = create_key(&root).await.key_id().to_owned();
    let ciphertext = root
        .encrypt()
        .key_id(&key_id)
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"locked".to_vec()))
        .send()
        .await
        .must("Encrypt")
        .ciphertext_blob()
        .unwrap()
        .clone();
    // A grant to the account (root may use it), and the default key policy
    // lets alice in through her identity policy: neither may count once the
    // stored policy cannot be read.
    root.create_grant()
        .key_id(&key_id)
        .grantee_principal(format!("arn:aws:iam::{ACCOUNT_ID}:root"))
        .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
        .send()
        .await
        .must("CreateGrant");
    let alice_kms = crate::identity::kms_with(&server, &alice);
    alice_kms
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await
        .must("Decrypt by alice before");

    // The stored policy denies Decrypt, with an operator this version does
    // not know: read as any other policy, the Deny would be lost.
    server.stop().await;
    let unreadable = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Deny","Principal":"*","Action":"kms:Decrypt","Resource":"*","Condition":{{"StringEqualsSomeFutureOperator":{{"aws:username":"alice"}}}}}},
            {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT_ID}:root"}},"Action":"kms:*","Resource":"*"}}]}}"#
    );
    {
        let data_dir = keyward_store::DataDir::open(server.data_dir()).unwrap();
        let snapshot = keyward_store::Store::load(&*data_dir.store).unwrap();
        let mut row = snapshot
            .keys
            .into_iter()
            .find(|row| row.key_id == key_id)
            .unwrap();
        row.policy = unreadable.clone();
        keyward_store::Store::apply(
            &*data_dir.store,
            &[keyward_store::Mutation::PutKey(Box::new(row))],
        )
        .unwrap();
    }
    server.start_again().await;

    let root = server.kms_client();
    let alice_kms = crate::identity::kms_with(&server, &alice);
    let locked = |principal: &str, action: &str| {
        format!(
            "User: {principal} is not authorized to perform: kms:{action} on resource: {} because the key policy stored for this key does not parse; only the account's root user can describe the key and replace its policy with PutKeyPolicy",
            key_arn(&key_id)
        )
    };
    let root_arn = format!("arn:aws:iam::{ACCOUNT_ID}:root");
    let alice_arn = format!("arn:aws:iam::{ACCOUNT_ID}:user/alice");
    // Root still sees the key and the stored text.
    let metadata = root
        .describe_key()
        .key_id(&key_id)
        .send()
        .await
        .must("DescribeKey");
    assert_eq!(metadata.key_metadata().unwrap().key_id(), key_id);
    let stored = root
        .get_key_policy()
        .key_id(&key_id)
        .send()
        .await
        .must("GetKeyPolicy");
    assert_eq!(stored.policy(), Some(unreadable.as_str()));
    // Nobody may use it: not root (grant or not), not alice.
    assert_failure(
        root.decrypt()
            .ciphertext_blob(ciphertext.clone())
            .send()
            .await,
        "AccessDeniedException",
        &locked(&root_arn, "Decrypt"),
    );
    assert_failure(
        root.encrypt()
            .key_id(&key_id)
            .plaintext(aws_sdk_kms::primitives::Blob::new(b"x".to_vec()))
            .send()
            .await,
        "AccessDeniedException",
        &locked(&root_arn, "Encrypt"),
    );
    assert_failure(
        root.create_grant()
            .key_id(&key_id)
            .grantee_principal(&root_arn)
            .operations(aws_sdk_kms::types::GrantOperation::Decrypt)
            .send()
            .await,
        "AccessDeniedException",
        &locked(&root_arn, "CreateGrant"),
    );
    assert_failure(
        root.disable_key().key_id(&key_id).send().await,
        "AccessDeniedException",
        &locked(&root_arn, "DisableKey"),
    );
    assert_failure(
        alice_kms
            .decrypt()
            .ciphertext_blob(ciphertext.clone())
            .send()
            .await,
        "AccessDeniedException",
        &locked(&alice_arn, "Decrypt"),
    );
    assert_failure(
        alice_kms.describe_key().key_id(&key_id).send().await,
        "AccessDeniedException",
        &locked(&alice_arn, "DescribeKey"),
    );
    assert_failure(
        alice_kms
            .put_key_policy()
            .key_id(&key_id)
            .policy(default_key_policy(ACCOUNT_ID))
            .send()
            .await,
        "AccessDeniedException",
        &locked(&alice_arn, "PutKeyPolicy"),
    );

    let (_, log) = server.captured_output();
    assert!(
        log.contains("the stored key policy does not parse") && log.contains(&key_id),
        "{log}"
    );

    // Root puts a valid policy: the key works again, and stays so.
    root.put_key_policy()
        .key_id(&key_id)
        .policy(default_key_policy(ACCOUNT_ID))
        .send()
        .await
        .must("PutKeyPolicy by root");
    let plaintext = root
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await
        .must("Decrypt after PutKeyPolicy");
    assert_eq!(plaintext.plaintext().unwrap().as_ref(), b"locked");
    server.restart().await;
    let alice_kms = crate::identity::kms_with(&server, &alice);
    alice_kms
        .decrypt()
        .ciphertext_blob(ciphertext)
        .send()
        .await
        .must("Decrypt by alice after the restart");
}
