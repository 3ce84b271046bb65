//! Services inside keyward calling KMS, through the same `dispatch` the
//! HTTP layer uses: as themselves (a service principal allowed by
//! `"Principal": {"Service": ...}` with `aws:SourceArn`/`aws:SourceAccount`)
//! and on behalf of an operator (`kms:ViaService`). `BatchDisks` is a
//! test-only service shaped like seed 002's serverless batch jobs: it asks
//! for a data key per job disk and decrypts it when the disk is mounted.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
// A test-only service: it plays the part of a service crate, which is the
// one kind of code allowed to name a service principal (clippy.toml).
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;

use base64::Engine as _;
use keyward_crypto::RootKey;
use keyward_kms::policy::{Policy, PolicyKind};
use keyward_kms::Kms;
use keyward_principal::{Caller, Clock, ServicePrincipal};
use keyward_server::kms_api::handle;
use keyward_store::{SqliteStore, Store};
use serde_json::{json, Value};

const ACCOUNT: &str = "111122223333";
const SERVICE: ServicePrincipal = ServicePrincipal::new("emr-serverless.amazonaws.com");

/// The test-only service. Like any service inside keyward, it builds its
/// `Caller` in process; nothing in a client's request can produce one.
struct BatchDisks {
    kms: Arc<Kms>,
}

impl BatchDisks {
    fn app_arn(app: &str) -> String {
        format!("arn:aws:emr-serverless:us-east-1:{ACCOUNT}:/applications/{app}")
    }

    /// The service itself makes the disk's data key (S-22).
    fn new_disk_key(&self, app: &str, key_arn: &str) -> Result<Value, String> {
        let caller = Caller::service(SERVICE, ACCOUNT, Some(&Self::app_arn(app)));
        call(
            &self.kms,
            &caller,
            "GenerateDataKey",
            json!({
                "KeyId": key_arn, "KeySpec": "AES_256",
                "EncryptionContext": {"applicationId": app}
            }),
        )
    }

    /// A job submitted by `operator`: the service checks with the
    /// operator's own permissions, through the service (S-23, S-24).
    fn submit_job(&self, operator: Caller, app: &str, key_arn: &str) -> Result<Value, String> {
        let via = operator.via_service(SERVICE, Some(&Self::app_arn(app)));
        call(
            &self.kms,
            &via,
            "GenerateDataKey",
            json!({
                "KeyId": key_arn, "KeySpec": "AES_256",
                "EncryptionContext": {"key": "value"}
            }),
        )
    }
}

fn call(kms: &Kms, caller: &Caller, operation: &str, body: Value) -> Result<Value, String> {
    match handle(kms, caller, operation, body.to_string().as_bytes()).result {
        Ok(Some(bytes)) => Ok(serde_json::from_slice(&bytes).unwrap()),
        Ok(None) => Ok(Value::Null),
        Err(error) => Err(error.wire().code.to_string()),
    }
}

fn user(name: &str) -> Caller {
    user_with_policies(name, Vec::new())
}

fn user_with_policies(name: &str, policies: Vec<Arc<Policy>>) -> Caller {
    Caller::user(
        ACCOUNT,
        &format!("arn:aws:iam::{ACCOUNT}:user/{name}"),
        &format!("AIDA{name}"),
        name,
        policies,
    )
}

/// Seed 002's key policy statements, verbatim but for their placeholders,
/// with the account statement a key administrator keeps.
fn seed_002_policy() -> String {
    let app = BatchDisks::app_arn("application-id");
    format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
        {{ "Effect": "Allow", "Principal":{{ "Service": "emr-serverless.amazonaws.com" }}, "Action": [ "kms:Decrypt", "kms:GenerateDataKey" ], "Resource": "*", "Condition": {{ "StringLike": {{ "aws:SourceArn": "{app}" }}, "StringEquals": {{ "kms:EncryptionContext:applicationId": "application-id", "aws:SourceAccount": "{ACCOUNT}" }} }} }},
        {{ "Sid": "Enable DescribeKey", "Effect": "Allow", "Principal":{{ "AWS": "arn:aws:iam::{ACCOUNT}:user/user-name" }}, "Action": [ "kms:DescribeKey" ], "Resource": "*" }},
        {{ "Sid": "Enable GDK and Decrypt", "Effect": "Allow", "Principal":{{ "AWS": "arn:aws:iam::{ACCOUNT}:user/user-name" }}, "Action": [ "kms:GenerateDataKey", "kms:Decrypt" ], "Resource": "*", "Condition": {{ "StringEquals": {{ "kms:ViaService": "emr-serverless.us-east-1.amazonaws.com", "kms:EncryptionContext:key": "value" }} }} }}]}}"#
    )
}

fn setup() -> (tempfile::TempDir, BatchDisks, String) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("k.sqlite")).unwrap());
    let snapshot = store.load().unwrap();
    let kms = Arc::new(
        Kms::open(
            store,
            &snapshot,
            RootKey::generate().unwrap(),
            "us-east-1",
            Arc::new(Clock::new()),
        )
        .unwrap(),
    );
    let created = call(
        &kms,
        &Caller::root(ACCOUNT),
        "CreateKey",
        json!({"Policy": seed_002_policy()}),
    )
    .unwrap();
    let key_arn = created["KeyMetadata"]["Arn"].as_str().unwrap().to_string();
    (dir, BatchDisks { kms }, key_arn)
}

#[test]
fn the_service_principal_is_allowed_only_for_its_application() {
    let (_dir, service, key) = setup();
    let disk = service.new_disk_key("application-id", &key).unwrap();
    assert_eq!(disk["KeyId"], key);
    // The service decrypts what it made, with the same context.
    let caller = Caller::service(
        SERVICE,
        ACCOUNT,
        Some(&BatchDisks::app_arn("application-id")),
    );
    let plain = call(&service.kms, &caller, "Decrypt", json!({
        "CiphertextBlob": disk["CiphertextBlob"], "EncryptionContext": {"applicationId": "application-id"}
    }))
    .unwrap();
    assert_eq!(plain["Plaintext"], disk["Plaintext"]);
    // Each variation of the policy's conditions is refused.
    assert_eq!(
        service.new_disk_key("other-app", &key).unwrap_err(),
        "AccessDeniedException"
    );
    let wrong_account = Caller::service(
        SERVICE,
        "444455556666",
        Some(&BatchDisks::app_arn("application-id")),
    );
    assert_eq!(
        call(&service.kms, &wrong_account, "GenerateDataKey", json!({"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": {"applicationId": "application-id"}})).unwrap_err(),
        "AccessDeniedException"
    );
    let no_source = Caller::service(SERVICE, ACCOUNT, None);
    assert_eq!(
        call(&service.kms, &no_source, "GenerateDataKey", json!({"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": {"applicationId": "application-id"}})).unwrap_err(),
        "AccessDeniedException"
    );
    let other_service = Caller::service(
        keyward_principal::ServicePrincipal::new("glue.amazonaws.com"),
        ACCOUNT,
        Some(&BatchDisks::app_arn("application-id")),
    );
    assert_eq!(
        call(&service.kms, &other_service, "GenerateDataKey", json!({"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": {"applicationId": "application-id"}})).unwrap_err(),
        "AccessDeniedException"
    );
    // Actions the statement does not list.
    assert_eq!(
        call(&service.kms, &caller, "Encrypt", json!({"KeyId": key, "Plaintext": base64::engine::general_purpose::STANDARD.encode(b"x"), "EncryptionContext": {"applicationId": "application-id"}})).unwrap_err(),
        "AccessDeniedException"
    );
}

#[test]
fn an_operator_is_allowed_through_the_service_only() {
    let (_dir, service, key) = setup();
    let operator = user("user-name");
    // DescribeKey is allowed directly (S-24's verification before use).
    assert!(call(
        &service.kms,
        &operator,
        "DescribeKey",
        json!({"KeyId": key})
    )
    .is_ok());
    // GenerateDataKey: only with kms:ViaService, i.e. through the service.
    assert_eq!(
        call(
            &service.kms,
            &operator,
            "GenerateDataKey",
            json!({"KeyId": key, "KeySpec": "AES_256", "EncryptionContext": {"key": "value"}})
        )
        .unwrap_err(),
        "AccessDeniedException"
    );
    assert!(service
        .submit_job(operator.clone(), "application-id", &key)
        .is_ok());
    // Another user gets nothing, through the service or not.
    assert_eq!(
        service
            .submit_job(user("someone-else"), "application-id", &key)
            .unwrap_err(),
        "AccessDeniedException"
    );
}

#[test]
fn identity_policies_still_bind_a_caller_acting_through_a_service() {
    let (_dir, service, key) = setup();
    let deny = Arc::new(
        Policy::parse(
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"kms:GenerateDataKey","Resource":"*","Condition":{"Null":{"kms:ViaService":"false"}}}}"#,
            PolicyKind::Identity,
            2048,
        )
        .unwrap(),
    );
    let operator = user_with_policies("user-name", vec![deny]);
    assert_eq!(
        service
            .submit_job(operator, "application-id", &key)
            .unwrap_err(),
        "AccessDeniedException"
    );
}

/// Seed 003's ephemeral-storage flow through `InternalKms`, KMS as the
/// services inside keyward call it: every call authorized for its service
/// principal and recorded in the trail as AWS records it.
#[test]
fn internal_calls_are_recorded_as_the_services_make_them() {
    use keyward_kms::{
        CreateGrantInput, DecryptInput, GenerateDataKeyInput, GrantConstraints, KmsClient,
        RetireGrantInput,
    };
    use keyward_server::kms_api::InternalKms;
    use keyward_trail::{LookupQuery, Trail, TrailConfig};

    let (dir, disks, _) = setup();
    let key = call(&disks.kms, &Caller::root(ACCOUNT), "CreateKey", json!({})).unwrap();
    let key_arn = key["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    let trail = Arc::new(Trail::open(dir.path(), TrailConfig::new()).unwrap());
    let client = InternalKms::new(Arc::clone(&disks.kms), Some(Arc::clone(&trail)));
    let context: std::collections::BTreeMap<String, String> = [
        ("aws:ecs:clusterAccount", ACCOUNT),
        ("aws:ecs:clusterName", "cluster-name"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let fargate = Caller::service(
        ServicePrincipal::new("fargate.amazonaws.com"),
        ACCOUNT,
        None,
    );
    let frontend = Caller::service(
        ServicePrincipal::new("ec2-frontend-api.amazonaws.com"),
        ACCOUNT,
        None,
    );
    let data_key = |caller: &Caller, dry_run: Option<bool>| {
        client.generate_data_key(
            caller,
            GenerateDataKeyInput {
                key_id: Some(key_arn.clone()),
                encryption_context: Some(context.clone()),
                number_of_bytes: Some(64),
                dry_run,
                ..GenerateDataKeyInput::default()
            },
            false,
        )
    };
    // The default key policy lets the account's root in, not a service:
    // the calls are refused, and recorded.
    assert_eq!(
        data_key(&fargate, Some(true)).unwrap_err().code,
        "AccessDeniedException"
    );
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
        {{"Effect":"Allow","Principal":{{"Service":["fargate.amazonaws.com","ec2-frontend-api.amazonaws.com"]}},"Action":["kms:GenerateDataKeyWithoutPlaintext","kms:CreateGrant"],"Resource":"*"}}]}}"#
    );
    call(
        &disks.kms,
        &Caller::root(ACCOUNT),
        "PutKeyPolicy",
        json!({"KeyId": key_arn, "Policy": policy}),
    )
    .unwrap();
    assert!(data_key(&fargate, Some(true))
        .unwrap_err()
        .is_dry_run_success());
    let generated = data_key(&frontend, None).unwrap();
    assert!(generated.plaintext.is_none());
    let grant = client
        .create_grant(
            &frontend,
            CreateGrantInput {
                key_id: Some(key_arn.clone()),
                grantee_principal: Some("fargate.us-east-1.amazonaws.com".into()),
                retiring_principal: Some("ec2.us-east-1.amazonaws.com".into()),
                operations: Some(vec!["Decrypt".into()]),
                constraints: Some(GrantConstraints {
                    encryption_context_subset: Some(context.clone()),
                    encryption_context_equals: None,
                }),
                ..CreateGrantInput::default()
            },
        )
        .unwrap();
    assert_eq!(grant.key_arn, key_arn);
    let grantee = Caller::service(
        ServicePrincipal::new("fargate.us-east-1.amazonaws.com"),
        ACCOUNT,
        None,
    );
    let decrypted = client
        .decrypt(
            &grantee,
            DecryptInput {
                ciphertext_blob: Some(generated.ciphertext_blob.clone()),
                encryption_context: Some(context.clone()),
                ..DecryptInput::default()
            },
        )
        .unwrap();
    assert_eq!(decrypted.plaintext.expose().len(), 64);
    let retiring = Caller::service(
        ServicePrincipal::new("ec2.us-east-1.amazonaws.com"),
        ACCOUNT,
        None,
    );
    let retired = client
        .retire_grant(
            &retiring,
            RetireGrantInput {
                grant_token: Some(grant.grant_token.clone()),
                ..RetireGrantInput::default()
            },
        )
        .unwrap();
    assert_eq!(
        (retired.grant_id, retired.key_arn),
        (grant.grant_id.clone(), key_arn.clone())
    );

    let page = trail
        .lookup(&LookupQuery {
            account_id: ACCOUNT.into(),
            attribute: None,
            start_time: None,
            end_time: None,
            max_results: 50,
            before_sequence: None,
        })
        .unwrap();
    let events: Vec<Value> = page
        .events
        .iter()
        .rev()
        .map(|found| serde_json::from_slice(&found.event).unwrap())
        .collect();
    let summary: Vec<(String, String, Option<String>)> = events
        .iter()
        .map(|e| {
            (
                e["eventName"].as_str().unwrap().to_owned(),
                e["userIdentity"]["invokedBy"].as_str().unwrap().to_owned(),
                e["errorCode"].as_str().map(str::to_owned),
            )
        })
        .collect();
    let expected = [
        (
            "GenerateDataKeyWithoutPlaintext",
            "fargate.amazonaws.com",
            Some("AccessDeniedException"),
        ),
        (
            "GenerateDataKeyWithoutPlaintext",
            "fargate.amazonaws.com",
            Some("DryRunOperationException"),
        ),
        (
            "GenerateDataKeyWithoutPlaintext",
            "ec2-frontend-api.amazonaws.com",
            None,
        ),
        ("CreateGrant", "ec2-frontend-api.amazonaws.com", None),
        ("Decrypt", "fargate.us-east-1.amazonaws.com", None),
        ("RetireGrant", "ec2.us-east-1.amazonaws.com", None),
    ]
    .map(|(name, by, error)| (name.to_owned(), by.to_owned(), error.map(str::to_owned)));
    assert_eq!(summary, expected);
    for event in &events {
        assert_eq!(event["userIdentity"]["type"], "AWSService", "{event}");
        assert_eq!(event["resources"][0]["ARN"], key_arn, "{event}");
        assert_eq!(event["sourceIPAddress"], event["userIdentity"]["invokedBy"]);
    }
    // Seed 003: the data key's request, the grant's constraints and
    // retiring principal, the retirement's grant id and key.
    assert_eq!(events[2]["requestParameters"]["numberOfBytes"], 64);
    assert_eq!(
        events[3]["requestParameters"]["constraints"]["encryptionContextSubset"]
            ["aws:ecs:clusterName"],
        "cluster-name"
    );
    assert_eq!(
        events[3]["requestParameters"]["retiringPrincipal"],
        "ec2.us-east-1.amazonaws.com"
    );
    assert_eq!(events[3]["responseElements"]["grantId"], grant.grant_id);
    assert_eq!(events[3]["responseElements"]["keyId"], key_arn);
    assert_eq!(events[5]["requestParameters"], Value::Null);
    assert_eq!(events[5]["additionalEventData"]["grantId"], grant.grant_id);
    assert_eq!(events[5]["responseElements"]["keyId"], key_arn);
    let text: String = events.iter().map(Value::to_string).collect();
    assert!(!text.contains(&grant.grant_token));
}
