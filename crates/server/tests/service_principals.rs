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
