//! Robustness of the JSON edge: any body, for any operation, gets either a
//! success or a client error with an AWS type — never a panic or a 500.

use std::sync::Arc;

use keyward_crypto::RootKey;
use keyward_kms::Kms;
use keyward_principal::{Caller, Clock};
use keyward_store::{SqliteStore, Store};
use proptest::prelude::*;
use serde_json::{json, Value};

use super::{handle, handler};
use crate::error::ApiError;
use keyward_kms::KmsOperation;

fn dispatch(
    kms: &Kms,
    caller: &Caller,
    operation: &str,
    body: &[u8],
) -> Result<Option<Vec<u8>>, ApiError> {
    handle(kms, caller, operation, body).result
}

/// Every operation of the table, and a name that is none.
fn operations() -> Vec<&'static str> {
    KmsOperation::ALL
        .iter()
        .map(|operation| operation.name())
        .chain(["Nope"])
        .collect()
}

/// The table's state column and the handlers agree: every implemented
/// operation has a handler, every other answers UnsupportedOperation.
#[test]
fn every_implemented_row_has_a_handler() {
    let s = service();
    for operation in KmsOperation::ALL {
        assert_eq!(
            handler(*operation).is_some(),
            operation.facts().implemented,
            "{operation:?}"
        );
        if !operation.facts().implemented {
            let error = dispatch(&s.kms, &caller(), operation.name(), b"{}").unwrap_err();
            assert_eq!(error.wire().code, "UnsupportedOperationException");
        }
    }
}

const MEMBERS: &[&str] = &[
    "KeyId",
    "Plaintext",
    "CiphertextBlob",
    "EncryptionContext",
    "GrantTokens",
    "DryRun",
    "NumberOfBytes",
    "KeySpec",
    "Limit",
    "Marker",
    "AliasName",
    "TargetKeyId",
    "Tags",
    "TagKeys",
    "Policy",
    "PolicyName",
    "Description",
    "PendingWindowInDays",
    "RotationPeriodInDays",
    "DestinationKeyId",
    "SourceKeyId",
    "DryRunModifiers",
    "IncludeKeyMaterial",
    "EncryptionAlgorithm",
    "KeyUsage",
    "Origin",
    "MultiRegion",
    "Recipient",
    "GranteePrincipal",
    "RetiringPrincipal",
    "Operations",
    "Constraints",
    "Name",
    "GrantId",
    "GrantToken",
];

struct Service {
    _dir: tempfile::TempDir,
    kms: Kms,
    key_id: String,
    blob: String,
}

fn service() -> Service {
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
        &dispatch(&kms, &caller(), "CreateKey", b"{}")
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let key_id = created["KeyMetadata"]["KeyId"]
        .as_str()
        .unwrap()
        .to_string();
    let body = json!({"KeyId": key_id, "Plaintext": "aGVsbG8="}).to_string();
    let encrypted: Value = serde_json::from_slice(
        &dispatch(&kms, &caller(), "Encrypt", body.as_bytes())
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let blob = encrypted["CiphertextBlob"].as_str().unwrap().to_string();
    Service {
        _dir: dir,
        kms,
        key_id,
        blob,
    }
}

fn caller() -> Caller {
    Caller::root("111122223333")
}

/// Values of every JSON type, biased towards the edges that break decoders.
fn value(key_id: String, blob: String) -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        Just(json!(u64::MAX)),
        Just(json!(0)),
        Just(json!(1024)),
        Just(json!(1025)),
        ".{0,12}".prop_map(Value::String),
        "[A-Za-z0-9+/=]{0,40}".prop_map(Value::String),
        Just(Value::String(key_id.clone())),
        Just(Value::String(format!(
            "arn:aws:kms:us-east-1:111122223333:key/{key_id}"
        ))),
        Just(Value::String("alias/x".into())),
        Just(Value::String(blob)),
        Just(Value::String("A".repeat(9000))),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn body(key_id: String, blob: String) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::btree_map(
            proptest::sample::select(MEMBERS),
            value(key_id, blob),
            0..6
        )
        .prop_map(|m| serde_json::to_vec(
            &m.into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect::<serde_json::Map<_, _>>()
        )
        .unwrap()),
    ]
}

/// One service for all cases: the strategies reference its key and blob.
fn shared() -> &'static Service {
    static SERVICE: std::sync::OnceLock<Service> = std::sync::OnceLock::new();
    SERVICE.get_or_init(service)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_body_gets_a_clean_answer(
        operation in proptest::sample::select(operations()),
        candidate in body(shared().key_id.clone(), shared().blob.clone()),
    ) {
        let s = shared();
        if let Err(error) = dispatch(&s.kms, &caller(), operation, &candidate) {
            let wire = error.wire();
            prop_assert_eq!(wire.status.as_u16(), 400, "{} {:?} -> {:?}", operation, String::from_utf8_lossy(&candidate), error);
        }
    }
}

#[test]
fn typed_edges_answer_with_the_right_aws_error() {
    let s = service();
    let error = |op: &str, body: &str| {
        dispatch(&s.kms, &caller(), op, body.as_bytes())
            .unwrap_err()
            .wire()
            .code
    };
    assert_eq!(error("Encrypt", "{not json"), "SerializationException");
    assert_eq!(error("Encrypt", "[]"), "SerializationException");
    assert_eq!(
        error("Encrypt", r#"{"KeyId": 5}"#),
        "SerializationException"
    );
    assert_eq!(
        error(
            "Encrypt",
            &format!(r#"{{"KeyId": "{}", "Plaintext": "***"}}"#, s.key_id)
        ),
        "SerializationException"
    );
    assert_eq!(
        error("Decrypt", r#"{"CiphertextBlob": "!!"}"#),
        "SerializationException"
    );
    assert_eq!(
        error("Decrypt", r#"{"CiphertextBlob": "AAAA"}"#),
        "InvalidCiphertextException"
    );
    assert_eq!(error("Encrypt", "{}"), "ValidationException");
    assert_eq!(
        error(
            "GenerateDataKey",
            &format!(
                r#"{{"KeyId": "{}", "NumberOfBytes": 99999999999999999999}}"#,
                s.key_id
            )
        ),
        "SerializationException"
    );
    assert_eq!(error("Sign", "{}"), "UnsupportedOperationException");
    assert_eq!(error("Frobnicate", "{}"), "UnknownOperationException");
    // Empty body is an empty input, like `{}`.
    assert_eq!(error("DescribeKey", ""), "ValidationException");
    assert!(dispatch(&s.kms, &caller(), "ListKeys", b"").is_ok());
    let decrypted: Value = serde_json::from_slice(
        &dispatch(
            &s.kms,
            &caller(),
            "Decrypt",
            json!({"CiphertextBlob": s.blob}).to_string().as_bytes(),
        )
        .unwrap()
        .unwrap(),
    )
    .unwrap();
    assert_eq!(decrypted["Plaintext"], "aGVsbG8=");
}
