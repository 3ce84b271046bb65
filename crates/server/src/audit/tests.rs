//! Events written from calls' typed facts, through the real domain: field
//! by field, and never a secret.

// Tests record calls of service principals, which only service crates make.
#![allow(clippy::disallowed_methods)]

use std::sync::Arc;

use base64::Engine as _;
use keyward_crypto::RootKey;
use keyward_kms::Kms;
use keyward_principal::{Caller, Clock, ServicePrincipal};
use keyward_store::{SqliteStore, Store};
use proptest::prelude::*;
use serde_json::{json, Value};
use time::macros::datetime;

use super::*;
use crate::kms_api::handle;
use crate::protocol::query::QueryRequest;

const ACCOUNT: &str = "111122223333";
const OTHER_ACCOUNT: &str = "444455556666";

fn facts(operation: &str) -> RequestFacts<'_> {
    RequestFacts {
        event_source: "kms.amazonaws.com",
        event_name: operation,
        region: "us-east-1",
        source_ip: Some(std::net::IpAddr::from([127, 0, 0, 1])),
        user_agent: "test-agent",
        request_id: "req-1",
        access_key_id: Some("AKIAEXAMPLE"),
        event_time: datetime!(2026-11-23 20:00 UTC),
    }
}

fn to_json(event: &CloudTrailEvent) -> Value {
    serde_json::from_slice(&event.encode().unwrap()).unwrap()
}

fn entry_json(entry: &keyward_trail::Entry) -> Value {
    serde_json::from_slice(&entry.bytes).unwrap()
}

/// Runs `operation` for `caller` as the wire does, and writes its events:
/// the reply (or the error) and the events' bytes.
fn run_as(
    service: &Service,
    caller: &Caller,
    operation: &str,
    body: &Value,
) -> (
    Result<Option<Vec<u8>>, crate::error::WireError>,
    Vec<keyward_trail::Entry>,
) {
    let body = body.to_string();
    let handled = handle(&service.kms, caller, operation, body.as_bytes());
    let reply = handled.result.map_err(|error| error.wire());
    let events = kms_events(
        &facts(operation),
        caller,
        handled.operation,
        &handled.facts,
        Outcome::of(&reply),
    )
    .unwrap();
    (reply, events)
}

#[test]
fn a_decrypt_event_has_the_fields_aws_writes() {
    let service = service();
    let blob = call(
        &service,
        "Encrypt",
        &json!({"KeyId": service.key_id, "Plaintext": "c2VjcmV0", "EncryptionContext": {"purpose": "test"}}),
    )["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();
    let (reply, events) = run_as(
        &service,
        &Caller::root(ACCOUNT),
        "Decrypt",
        &json!({"CiphertextBlob": blob, "EncryptionContext": {"purpose": "test"}}),
    );
    assert!(reply.is_ok());
    assert_eq!(events.len(), 1);
    let event = entry_json(&events[0]);
    assert_eq!(event["eventName"], "Decrypt");
    assert_eq!(event["eventSource"], "kms.amazonaws.com");
    assert_eq!(event["readOnly"], true);
    assert_eq!(event["responseElements"], Value::Null);
    assert_eq!(
        event["requestParameters"],
        json!({"encryptionContext": {"purpose": "test"}, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"})
    );
    assert_eq!(
        event["additionalEventData"]["keyMaterialId"],
        current_material(&service)
    );
    assert_eq!(
        event["resources"],
        json!([{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn(&service)}])
    );
    assert_eq!(
        event["userIdentity"],
        json!({"type": "Root", "principalId": ACCOUNT, "arn": format!("arn:aws:iam::{ACCOUNT}:root"), "accountId": ACCOUNT, "accessKeyId": "AKIAEXAMPLE"})
    );
    assert_eq!(event["recipientAccountId"], ACCOUNT);
    assert_eq!(event["requestID"], "req-1");
    let text = String::from_utf8(events[0].bytes.clone()).unwrap();
    assert!(!text.contains("c2VjcmV0") && !text.contains(&blob));
}

#[test]
fn a_dry_run_names_its_error_and_its_key() {
    let service = service();
    let (_, events) = run_as(
        &service,
        &Caller::root(ACCOUNT),
        "Encrypt",
        &json!({"KeyId": service.key_id, "Plaintext": "aGk=", "DryRun": true}),
    );
    let event = entry_json(&events[0]);
    assert_eq!(event["errorCode"], "DryRunOperationException");
    assert_eq!(
        event["errorMessage"],
        "The request would have succeeded, but the DryRun option is set."
    );
    assert_eq!(event["requestParameters"]["dryRun"], true);
    assert_eq!(event["requestParameters"]["keyId"], service.key_id);
    assert_eq!(event["resources"][0]["ARN"], key_arn(&service));
}

/// Seed 000's dry-run Decrypt names no key: its event takes the key from
/// the ciphertext, and so does a denied one.
#[test]
fn a_decrypt_without_a_key_id_names_the_key_of_its_ciphertext() {
    let service = service();
    let blob = call(
        &service,
        "Encrypt",
        &json!({"KeyId": service.key_id, "Plaintext": "aGVsbG8="}),
    )["CiphertextBlob"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, events) = run_as(
        &service,
        &Caller::root(ACCOUNT),
        "Decrypt",
        &json!({"CiphertextBlob": blob, "DryRun": true}),
    );
    let event = entry_json(&events[0]);
    assert_eq!(event["errorCode"], "DryRunOperationException");
    assert_eq!(event["resources"][0]["ARN"], key_arn(&service));
    let (_, events) = run_as(
        &service,
        &Caller::root(OTHER_ACCOUNT),
        "Decrypt",
        &json!({"CiphertextBlob": blob}),
    );
    let event = entry_json(&events[0]);
    assert_eq!(event["errorCode"], "AccessDeniedException");
    assert_eq!(event["resources"][0]["ARN"], key_arn(&service));
}

#[test]
fn a_cross_account_call_is_recorded_once_per_account_with_a_shared_id() {
    let service = service();
    let (reply, events) = run_as(
        &service,
        &Caller::root(OTHER_ACCOUNT),
        "GenerateDataKey",
        &json!({"KeyId": key_arn(&service), "KeySpec": "AES_256"}),
    );
    assert_eq!(reply.unwrap_err().code, "AccessDeniedException");
    assert_eq!(events.len(), 2);
    let (a, b) = (entry_json(&events[0]), entry_json(&events[1]));
    assert_eq!(a["recipientAccountId"], OTHER_ACCOUNT);
    assert_eq!(b["recipientAccountId"], ACCOUNT);
    assert_eq!(a["sharedEventID"], b["sharedEventID"]);
    assert_ne!(a["eventID"], b["eventID"]);
}

#[test]
fn service_callers_are_aws_service_or_invoked_by() {
    let streaming = ServicePrincipal::new("emr-serverless.amazonaws.com");
    let service_caller = Caller::service(streaming, ACCOUNT, None);
    assert_eq!(
        serde_json::to_value(user_identity(&service_caller, None)).unwrap(),
        json!({"type": "AWSService", "invokedBy": "emr-serverless.amazonaws.com"})
    );
    let service = service();
    let via = Caller::root(ACCOUNT).via_service(streaming, None);
    let (reply, events) = run_as(
        &service,
        &via,
        "Encrypt",
        &json!({"KeyId": service.key_id, "Plaintext": "aGk="}),
    );
    assert!(reply.is_ok());
    let event = entry_json(&events[0]);
    assert_eq!(
        event["userIdentity"]["invokedBy"],
        "emr-serverless.amazonaws.com"
    );
    assert_eq!(event["sourceIPAddress"], "emr-serverless.amazonaws.com");
}

#[test]
fn query_events_log_names_but_never_secrets() {
    let form =
        QueryRequest::parse(&["Action=CreateUser&UserName=alice&SecretAccessKey=SECRET"]).unwrap();
    let mut facts = facts("CreateUser");
    facts.event_source = "iam.amazonaws.com";
    let event = to_json(&query_event(
        &facts,
        &Caller::root(ACCOUNT),
        false,
        QueryFacts::of_form(Some(&form)),
        Outcome::Success,
    ));
    assert_eq!(event["requestParameters"], json!({"userName": "alice"}));
    assert_eq!(event["readOnly"], false);
    assert!(!event.to_string().contains("SECRET"));
}

/// What a call creates is logged by its id, never its secret.
#[test]
fn query_response_elements_refuse_secrets() {
    let mut facts = QueryFacts::default();
    facts.respond(json!({"accessKey": {"accessKeyId": "AKIAEXAMPLE", "status": "Active"}}));
    assert!(facts.response_elements.is_some());
    facts.respond(json!({"secretAccessKey": "x"}));
    assert!(facts.response_elements.is_none());
    facts.respond(json!({"sessionToken": "x"}));
    assert!(facts.response_elements.is_none());
}

// --- The property: no secret reaches an event, through the real domain. ---

/// A domain on a fresh store with one key of the root caller's account.
pub(super) struct Service {
    _dir: tempfile::TempDir,
    pub(super) kms: Kms,
    pub(super) key_id: String,
}

pub(super) fn service() -> Service {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("db")).unwrap());
    let snapshot = store.load().unwrap();
    let kms = Kms::open(
        store,
        &snapshot,
        RootKey::generate().unwrap(),
        "us-east-1",
        Arc::new(Clock::new()),
    )
    .unwrap();
    let created: Value = serde_json::from_slice(
        &handle(&kms, &Caller::root(ACCOUNT), "CreateKey", b"{}")
            .result
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let key_id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    Service {
        _dir: dir,
        kms,
        key_id,
    }
}

/// The forms a secret could take in an event.
fn forms(secret: &[u8]) -> Vec<String> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let mut forms = vec![b64.trim_end_matches('=').to_owned(), hex::encode(secret)];
    if let Ok(text) = std::str::from_utf8(secret) {
        forms.push(text.to_owned());
    }
    forms.into_iter().filter(|f| f.len() >= 12).collect()
}

fn run(service: &Service, operation: &str, body: &Value, secrets: &mut Vec<Vec<u8>>) -> Vec<u8> {
    let (reply, mut events) = run_as(service, &Caller::root(ACCOUNT), operation, body);
    if let Ok(Some(reply)) = &reply {
        let value: Value = serde_json::from_slice(reply).unwrap();
        for member in ["Plaintext", "CiphertextBlob"] {
            if let Some(text) = value[member].as_str() {
                secrets.push(
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .unwrap(),
                );
                secrets.push(text.as_bytes().to_vec());
            }
        }
    }
    assert_eq!(events.len(), 1);
    events.remove(0).bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn no_plaintext_blob_or_data_key_reaches_an_event(
        plaintexts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 12..64), 1..4),
        token in "[A-Za-z0-9]{20,30}",
        context_value in "[a-z]{1,8}",
    ) {
        let service = service();
        let mut secrets: Vec<Vec<u8>> = vec![token.as_bytes().to_vec()];
        let mut stored: Vec<Vec<u8>> = Vec::new();
        let context = json!({"purpose": context_value});
        for plaintext in &plaintexts {
            secrets.push(plaintext.clone());
            let encoded = base64::engine::general_purpose::STANDARD.encode(plaintext);
            let encrypt = json!({"KeyId": service.key_id, "Plaintext": encoded, "EncryptionContext": context});
            let before = secrets.len();
            stored.push(run(&service, "Encrypt", &encrypt, &mut secrets));
            prop_assert!(secrets.len() > before, "Encrypt failed: {}", String::from_utf8_lossy(stored.last().unwrap()));
            let blob = base64::engine::general_purpose::STANDARD.encode(&secrets[before]);
            stored.push(run(&service, "Decrypt", &json!({"CiphertextBlob": blob, "EncryptionContext": context}), &mut secrets));
            // A grant token (refused, as it is not one keyward issued) is not logged either.
            stored.push(run(&service, "Decrypt", &json!({"CiphertextBlob": blob, "EncryptionContext": context, "GrantTokens": [token]}), &mut secrets));
            stored.push(run(&service, "ReEncrypt", &json!({"CiphertextBlob": blob, "SourceEncryptionContext": context, "DestinationKeyId": service.key_id}), &mut secrets));
            // A dry run and a failing call carry the plaintext too.
            stored.push(run(&service, "Encrypt", &json!({"KeyId": service.key_id, "Plaintext": encoded, "DryRun": true}), &mut secrets));
            stored.push(run(&service, "Encrypt", &json!({"KeyId": "alias/missing", "Plaintext": encoded}), &mut secrets));
        }
        stored.push(run(&service, "GenerateDataKey", &json!({"KeyId": service.key_id, "KeySpec": "AES_256", "EncryptionContext": context}), &mut secrets));
        stored.push(run(&service, "GenerateDataKeyWithoutPlaintext", &json!({"KeyId": service.key_id, "NumberOfBytes": 32}), &mut secrets));
        stored.push(run(&service, "GenerateRandom", &json!({"NumberOfBytes": 32}), &mut secrets));
        // A grant token keyward issued: RetireGrant by token logs the grant, not the token.
        let grant = json!({"KeyId": service.key_id, "GranteePrincipal": format!("arn:aws:iam::{ACCOUNT}:root"), "Operations": ["Decrypt"]});
        let issued = call(&service, "CreateGrant", &grant)["GrantToken"].as_str().unwrap().to_owned();
        secrets.push(issued.as_bytes().to_vec());
        stored.push(run(&service, "RetireGrant", &json!({"GrantToken": issued}), &mut secrets));
        let forms: Vec<String> = secrets.iter().flat_map(|s| forms(s)).collect();
        for event in &stored {
            for form in &forms {
                prop_assert!(
                    !event.windows(form.len()).any(|w| w == form.as_bytes()),
                    "{form} found in {}", String::from_utf8_lossy(event)
                );
            }
        }
    }
}

// --- What the key store tells an event that the request does not. ---

fn event_of(service: &Service, operation: &str, body: &Value) -> Vec<Value> {
    let (_, events) = run_as(service, &Caller::root(ACCOUNT), operation, body);
    events.iter().map(entry_json).collect()
}

/// Runs `operation` as the account's root; it must succeed. Its reply, parsed.
fn call(service: &Service, operation: &str, body: &Value) -> Value {
    let reply = handle(
        &service.kms,
        &Caller::root(ACCOUNT),
        operation,
        body.to_string().as_bytes(),
    )
    .result
    .unwrap();
    reply.map_or(Value::Null, |reply| serde_json::from_slice(&reply).unwrap())
}

fn key_arn(service: &Service) -> String {
    format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/{}", service.key_id)
}

fn current_material(service: &Service) -> String {
    call(service, "DescribeKey", &json!({"KeyId": service.key_id}))["KeyMetadata"]
        ["CurrentKeyMaterialId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn an_encrypt_event_names_the_material_that_sealed_the_blob() {
    let service = service();
    let events = event_of(
        &service,
        "Encrypt",
        &json!({"KeyId": service.key_id, "Plaintext": "aGVsbG8="}),
    );
    assert_eq!(
        events[0]["additionalEventData"],
        json!({"keyMaterialId": current_material(&service)})
    );
}

#[test]
fn retire_grant_by_token_logs_the_grant_and_its_key_but_not_the_token() {
    let service = service();
    let created = call(
        &service,
        "CreateGrant",
        &json!({"KeyId": service.key_id, "GranteePrincipal": format!("arn:aws:iam::{ACCOUNT}:root"), "Operations": ["Decrypt"]}),
    );
    let token = created["GrantToken"].as_str().unwrap();
    let events = event_of(&service, "RetireGrant", &json!({"GrantToken": token}));
    let event = &events[0];
    assert!(event.get("errorCode").is_none(), "{event}");
    assert_eq!(event["requestParameters"], Value::Null);
    assert_eq!(
        event["additionalEventData"],
        json!({"grantId": created["GrantId"]})
    );
    assert_eq!(event["resources"][0]["ARN"], key_arn(&service));
    assert!(!event.to_string().contains(token));
}

#[test]
fn a_failed_call_through_an_alias_names_the_key_behind_it() {
    let service = service();
    call(
        &service,
        "CreateAlias",
        &json!({"AliasName": "alias/app", "TargetKeyId": service.key_id}),
    );
    call(&service, "DisableKey", &json!({"KeyId": service.key_id}));
    let events = event_of(
        &service,
        "Encrypt",
        &json!({"KeyId": "alias/app", "Plaintext": "aGVsbG8="}),
    );
    assert_eq!(events[0]["errorCode"], "DisabledException");
    assert_eq!(events[0]["requestParameters"]["keyId"], "alias/app");
    assert_eq!(
        events[0]["resources"],
        json!([{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": key_arn(&service)}])
    );
    // An alias that names nothing names no key.
    let events = event_of(
        &service,
        "Encrypt",
        &json!({"KeyId": "alias/none", "Plaintext": "aGVsbG8="}),
    );
    assert_eq!(events[0]["errorCode"], "NotFoundException");
    assert!(events[0].get("resources").is_none(), "{}", events[0]);
}

#[test]
fn an_on_demand_rotation_is_also_recorded_as_the_service_rotating_the_key() {
    let service = service();
    let events = event_of(
        &service,
        "RotateKeyOnDemand",
        &json!({"KeyId": service.key_id}),
    );
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["eventType"], "AwsApiCall");
    let rotation = &events[1];
    assert_eq!(rotation["eventName"], "RotateKey");
    assert_eq!(rotation["eventType"], "AwsServiceEvent");
    assert_eq!(
        rotation["serviceEventDetails"],
        json!({"rotationType": "ON_DEMAND", "keyId": service.key_id})
    );
    assert_eq!(rotation["resources"][0]["ARN"], key_arn(&service));
}

#[test]
fn due_work_is_recorded_as_aws_records_deletions_and_rotations() {
    let key = |id: &str| keyward_kms::DueKey {
        key_id: id.to_owned(),
        arn: format!("arn:aws:kms:us-west-2:{ACCOUNT}:key/{id}"),
        account_id: ACCOUNT.to_owned(),
        key_material_id: None,
    };
    let done = keyward_kms::DueWork {
        deleted_keys: vec![key("1234abcd-12ab-34cd-56ef-1234567890ab")],
        rotated_keys: vec![key("0987dcba-09fe-87dc-65ba-ab0987654321")],
    };
    let events: Vec<Value> =
        due_work_events(&done, "us-west-2", datetime!(2021-01-14 01:41:59 UTC))
            .iter()
            .map(to_json)
            .collect();
    assert_eq!(events.len(), 2);
    let (deleted, rotated) = (&events[0], &events[1]);
    for (event, name, id) in [
        (deleted, "DeleteKey", "1234abcd-12ab-34cd-56ef-1234567890ab"),
        (rotated, "RotateKey", "0987dcba-09fe-87dc-65ba-ab0987654321"),
    ] {
        assert_eq!(event["eventName"], name);
        assert_eq!(event["eventType"], "AwsServiceEvent");
        assert_eq!(event["eventSource"], "kms.amazonaws.com");
        assert_eq!(event["eventTime"], "2021-01-14T01:41:59Z");
        assert_eq!(event["awsRegion"], "us-west-2");
        assert_eq!(
            event["userIdentity"],
            json!({"accountId": ACCOUNT, "invokedBy": "AWS Internal"})
        );
        assert_eq!(event["sourceIPAddress"], "AWS Internal");
        assert_eq!(event["requestParameters"], Value::Null);
        assert_eq!(event["responseElements"], Value::Null);
        assert_eq!(event["readOnly"], false);
        assert_eq!(event["managementEvent"], true);
        assert_eq!(event["recipientAccountId"], ACCOUNT);
        assert_eq!(
            event["resources"],
            json!([{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": format!("arn:aws:kms:us-west-2:{ACCOUNT}:key/{id}")}])
        );
    }
    assert!(deleted.get("serviceEventDetails").is_none());
    assert_eq!(
        rotated["serviceEventDetails"],
        json!({"rotationType": "AUTOMATIC", "keyId": "0987dcba-09fe-87dc-65ba-ab0987654321"})
    );
}
