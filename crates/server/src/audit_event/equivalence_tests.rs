//! The event writer's bytes against the typed build path's (`reference.rs`):
//! per operation family through the real domain, and a property over
//! generated callers, bodies (odd member types included), replies and
//! outcomes. Event ids come from a counter, so the two paths can be compared
//! byte for byte.

// Tests record calls of service principals, which only service crates make.
#![allow(clippy::disallowed_methods)]

use std::net::IpAddr;

use keyward_kms::Kms;
use keyward_principal::Caller;
use proptest::prelude::*;
use serde_json::{json, Value};
use time::macros::datetime;
use uuid::Uuid;

use super::kms_call::{self, kms_events_with_ids};
use super::*;
use crate::kms_api::dispatch;

const ACCOUNT: &str = "111122223333";
const OTHER: &str = "444455556666";

fn counter() -> impl FnMut() -> Uuid {
    let mut next = 0u128;
    move || {
        next += 1;
        Uuid::from_u128(next)
    }
}

/// Both paths write the same events, byte for byte, with the same times,
/// and each event reads back and re-encodes to its bytes.
fn same_events(
    facts: &RequestFacts<'_>,
    caller: &Caller,
    body: &[u8],
    outcome: Outcome<'_>,
    names: &dyn KeyNames,
) -> Vec<Value> {
    let written = kms_events_with_ids(facts, caller, body, outcome, names, &mut counter()).unwrap();
    let built = reference::kms_events(facts, caller, body, outcome, names, &mut counter());
    assert_eq!(
        written.len(),
        built.len(),
        "{}",
        String::from_utf8_lossy(body)
    );
    written
        .iter()
        .zip(&built)
        .map(|(entry, event)| {
            let expected = keyward_trail::Entry::new(event).unwrap();
            assert_eq!(
                String::from_utf8_lossy(&entry.bytes),
                String::from_utf8_lossy(&expected.bytes),
                "body {}",
                String::from_utf8_lossy(body)
            );
            assert_eq!(entry.event_time, expected.event_time);
            let decoded = CloudTrailEvent::decode(&entry.bytes).unwrap();
            assert_eq!(decoded.encode().unwrap(), entry.bytes);
            serde_json::from_slice(&entry.bytes).unwrap()
        })
        .collect()
}

fn facts(operation: &str) -> RequestFacts<'_> {
    RequestFacts {
        event_source: "kms.amazonaws.com",
        event_name: operation,
        region: "us-east-1",
        source_ip: Some(IpAddr::from([192, 0, 2, 7])),
        user_agent: "aws-sdk-rust/1.0 \"quoted\" \u{e9}",
        request_id: "56764d19-1eb1-48f1-8044-594aa7dd05c4",
        access_key_id: Some("AKIAEXAMPLE"),
        event_time: datetime!(2026-11-23 20:00:00.750 UTC),
    }
}

fn assumed_role(issued_ms: Option<i64>) -> Caller {
    Caller::role_session(
        ACCOUNT,
        &format!("arn:aws:iam::{ACCOUNT}:role/path/app"),
        &format!("arn:aws:sts::{ACCOUNT}:assumed-role/app/session-1"),
        "AROAEXAMPLE:session-1",
        Vec::new(),
        issued_ms.unwrap_or(0),
    )
}

fn iam_user(username: Option<&str>) -> Caller {
    Caller::user(
        ACCOUNT,
        &format!("arn:aws:iam::{ACCOUNT}:user/dept/Alice"),
        "AIDAEXAMPLE",
        username.unwrap_or("Alice"),
        Vec::new(),
    )
}

/// Every kind of caller keyward records.
fn callers() -> Vec<Caller> {
    let with_address =
        |caller: Caller, address: IpAddr| caller.with_transport(Some(address), false);
    vec![
        Caller::root(ACCOUNT),
        with_address(
            Caller::root(ACCOUNT),
            IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]),
        ),
        iam_user(Some("Alice")),
        iam_user(None),
        assumed_role(Some(1_795_000_000_123)),
        assumed_role(None),
        Caller::service(
            keyward_principal::ServicePrincipal::new("emr-serverless.amazonaws.com"),
            ACCOUNT,
            None,
        ),
        Caller::root(ACCOUNT).via_service(
            keyward_principal::ServicePrincipal::new("emr-serverless.amazonaws.com"),
            None,
        ),
        assumed_role(Some(5)).via_service(
            keyward_principal::ServicePrincipal::new("logs.amazonaws.com"),
            Some("arn:aws:logs:x"),
        ),
    ]
}

/// A key store that names `alias/known…` and tokens starting `tok`.
struct FakeNames;

impl KeyNames for FakeNames {
    fn key_arn_named(&self, _: &Caller, key_id: &str) -> Option<String> {
        key_id
            .starts_with("alias/known")
            .then(|| format!("arn:aws:kms:us-east-1:{OTHER}:key/from-alias"))
    }
    fn grant_named_by_token(&self, token: &str) -> Option<(String, String)> {
        token.starts_with("tok").then(|| {
            (
                "grant-\u{e9}".to_owned(),
                format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/by-token"),
            )
        })
    }
}

#[test]
fn a_generate_data_key_event_for_every_kind_of_caller() {
    let key = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let response = json!({"KeyId": key, "Plaintext": "c2VjcmV0", "CiphertextBlob": "AQID", "KeyMaterialId": "ab".repeat(32)}).to_string();
    let request = json!({"KeyId": "alias/app", "KeySpec": "AES_256", "EncryptionContext": {"purpose": "test", "app": "x"}}).to_string();
    for caller in callers() {
        for facts in [
            facts("GenerateDataKey"),
            RequestFacts {
                source_ip: None,
                access_key_id: None,
                ..facts("GenerateDataKey")
            },
        ] {
            let outcomes = [
                Outcome::Success(Some(response.as_bytes())),
                Outcome::Success(None),
                Outcome::Failure {
                    code: "AccessDeniedException",
                    message: Some("User: x is not authorized"),
                },
                Outcome::Failure {
                    code: "InternalFailure",
                    message: None,
                },
            ];
            for outcome in outcomes {
                same_events(&facts, &caller, request.as_bytes(), outcome, &FakeNames);
            }
        }
    }
}

#[test]
fn failures_name_their_keys_and_keep_a_kilobyte_of_message() {
    let long = format!(
        "{} is disabled. {}",
        "arn:aws:kms:us-east-1:444455556666:key/k",
        "é".repeat(700)
    );
    let cases = [
        (json!({"KeyId": "alias/known-app"}), "Encrypt"),
        (json!({"KeyId": "alias/none"}), "Decrypt"),
        (
            json!({"KeyId": "1234abcd-12ab-34cd-56ef-1234567890ab"}),
            "Encrypt",
        ),
        (
            json!({"KeyId": "mrk-1234abcd12ab34cd56ef1234567890ab"}),
            "Sign",
        ),
        (
            json!({"SourceKeyId": "alias/known-s", "DestinationKeyId": format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/d")}),
            "ReEncrypt",
        ),
        (
            json!({"TargetKeyId": "1234abcd-12ab-34cd-56ef-1234567890ab", "AliasName": "alias/a"}),
            "CreateAlias",
        ),
        (json!({}), "Decrypt"),
    ];
    for (body, operation) in cases {
        let body = body.to_string();
        for message in [Some(long.as_str()), Some("no key here"), None] {
            let outcome = Outcome::Failure {
                code: "DisabledException",
                message,
            };
            same_events(
                &facts(operation),
                &Caller::root(ACCOUNT),
                body.as_bytes(),
                outcome,
                &FakeNames,
            );
        }
    }
}

#[test]
fn odd_member_types_are_logged_as_the_typed_path_logged_them() {
    let bodies = [
        r#"{"KeyId": 12, "KeySpec": {"b": 1, "a": [true, null]}, "NumberOfBytes": "32"}"#,
        r#"{"KeyId": null, "EncryptionContext": {"z": 1.5, "a": {"x": "y"}, "m": null, "a": "again"}}"#,
        r#"{"KeyId": "k\u00e9\n\"\\", "EncryptionContext": "not an object", "DryRun": "true"}"#,
        r#"{"EncryptionContext": {"\ud83d\ude00": "\u0000", "": ""}, "Limit": -1, "PendingWindowInDays": 7.0}"#,
        r#"{"Operations": ["Decrypt", 1, null, "Encrypt"], "TagKeys": "x", "Tags": [{"TagKey": "a"}, 3, {"TagValue": 1}]}"#,
        r#"{"Constraints": {"EncryptionContextSubset": {"b": "2", "a": "1"}, "EncryptionContextEquals": [1]}}"#,
        r#"{"Constraints": {"EncryptionContextSubset": {"b": "2"}, "x": 1, "EncryptionContextSubset": {"c": "3"}}}"#,
        r#"{"Constraints": "none", "GranteePrincipal": ["a"]}"#,
        r#"{"Constraints": {"EncryptionContextEquals": {"b": 2, "a": "1"}, "EncryptionContextSubset": null}}"#,
        r#"{"Constraints": {"EncryptionContextSubset": {"a": "1"}, "EncryptionContextEquals": {"e": "1"}, "x": 1, "EncryptionContextEquals": {"e": "2"}}}"#,
        r#"{"KeyId": "a", "KeyId": "b"}"#,
        r#"{"KeyId": "\ud800"}"#,
        r#"{"KeyId": 1e400}"#,
        r#"{"Plaintext": "\ud800", "KeyId": "k"}"#,
        r#"{"KeyId": 18446744073709551616, "NumberOfBytes": 18446744073709551615}"#,
        r#"["KeyId"]"#,
        "",
        "null",
        "{",
        r#"{"KeyId": "k"} trailing"#,
        r#"  {"DryRun": true, "BypassPolicyLockoutSafetyCheck": 0, "MultiRegion": false}  "#,
    ];
    for body in bodies {
        for operation in ["Encrypt", "Decrypt", "CreateGrant", "ListKeys"] {
            same_events(
                &facts(operation),
                &Caller::root(ACCOUNT),
                body.as_bytes(),
                Outcome::Success(None),
                &FakeNames,
            );
        }
    }
}

#[test]
fn odd_replies_are_read_as_the_typed_path_read_them() {
    use base64::Engine as _;
    // A blob whose header names material 0x07…: version 1, key id, material, salt, and a tag.
    let mut blob = vec![1u8];
    blob.extend([0xAA; 16]);
    blob.extend([0x07; 32]);
    blob.extend([0x55; 16]);
    blob.extend([0x33; 48]);
    let blob = base64::engine::general_purpose::STANDARD.encode(blob);
    let key = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab");
    let other = format!("arn:aws:kms:us-east-1:{OTHER}:key/k");
    let replies = [
        format!(
            r#"{{"CiphertextBlob":"{blob}","KeyId":"{key}","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}}"#
        ),
        format!(r#"{{"CiphertextBlob":"{blob}","KeyId":"{key}","CiphertextBlob":"{blob}"}}"#),
        format!(
            r#"{{"CiphertextBlob":"{blob}","KeyId":"{key}","GrantToken":"t","GrantToken":"t"}}"#
        ),
        format!(r#"{{"CiphertextBlob":"{blob}","GrantToken":5,"KeyId":"{key}"}}"#),
        format!(
            r#"{{"CiphertextBlob":"{}","KeyId":"{key}"}}"#,
            blob.replace('/', "\\/")
        ),
        format!(r#"{{ "CiphertextBlob": "{blob}", "KeyId": "{key}" }}"#),
        format!(r#"{{"KeyId":"{key}","KeyId":"{other}","KeyMaterialId":"ab"}}"#),
        format!(
            r#"{{"KeyId":"{key}","KeyMaterialId":"ab","SourceKeyId":"{other}","DestinationKeyMaterialId":"cd","SourceKeyMaterialId":"ef"}}"#
        ),
        format!(r#"{{"KeyId":"{key}","DeletionDate":"soon"}}"#),
        format!(r#"{{"KeyId":"{key}","KeyMetadata":"none"}}"#),
        format!(r#"{{"KeyId":"{key}","KeyMaterialId":null}}"#),
        format!(r#"{{"KeyId":"{key}\u0041","KeyMaterialId":"ab"}}"#),
        format!(r#"{{"KeyId":"{key}"}} "#),
        format!(r#"{{"KeyId":"{key}",}}"#),
        format!(r#"{{"Plaintext":"c2VjcmV0","KeyId":"{key}","Unknown":"x","Unknown":"y"}}"#),
        "{}".to_owned(),
        String::new(),
    ];
    for reply in &replies {
        for operation in [
            "Encrypt",
            "GenerateDataKey",
            "ReEncrypt",
            "CancelKeyDeletion",
        ] {
            same_events(
                &facts(operation),
                &Caller::root(ACCOUNT),
                br#"{"KeyId":"alias/app"}"#,
                Outcome::Success(Some(reply.as_bytes())),
                &FakeNames,
            );
        }
    }
}

#[test]
fn retire_grant_by_token_and_by_id() {
    for body in [
        json!({"GrantToken": "tok-1"}),
        json!({"GrantToken": "tok-1", "KeyId": "k"}),
        json!({"GrantToken": "unknown"}),
        json!({"GrantToken": 5}),
        json!({"GrantId": "g", "KeyId": format!("arn:aws:kms:us-east-1:{OTHER}:key/k")}),
    ] {
        let body = body.to_string();
        same_events(
            &facts("RetireGrant"),
            &Caller::root(ACCOUNT),
            body.as_bytes(),
            Outcome::Success(None),
            &FakeNames,
        );
    }
}

// --- Through the real domain: every operation family, as it answers. ---

/// Runs `operation` and checks its events; the reply, parsed.
fn run(kms: &Kms, operation: &str, body: Value) -> Value {
    let body = body.to_string();
    let caller = Caller::root(ACCOUNT);
    let result = dispatch(kms, &caller, operation, body.as_bytes());
    let wire = result.as_ref().err().map(|error| error.wire());
    let outcome = match (&result, &wire) {
        (Ok(reply), _) => Outcome::Success(reply.as_deref()),
        (Err(_), Some(wire)) => Outcome::Failure {
            code: wire.code,
            message: wire.message.as_deref(),
        },
        (Err(_), None) => unreachable!(),
    };
    same_events(&facts(operation), &caller, body.as_bytes(), outcome, kms);
    match result {
        Ok(Some(reply)) => serde_json::from_slice(&reply).unwrap(),
        _ => Value::Null,
    }
}

#[test]
fn every_operation_family_through_the_domain() {
    // Kept whole: its temporary directory holds the store.
    let service = super::tests::service();
    let (kms, key_id) = (&service.kms, &service.key_id);
    let context = json!({"purpose": "test", "tenant": "a\"b"});
    run(
        kms,
        "CreateKey",
        json!({"Description": "d\u{e9}", "Tags": [{"TagKey": "k", "TagValue": "v"}]}),
    );
    let sealed = run(
        kms,
        "Encrypt",
        json!({"KeyId": key_id, "Plaintext": "aGVsbG8=", "EncryptionContext": context}),
    );
    let blob = sealed["CiphertextBlob"].as_str().unwrap().to_owned();
    run(
        kms,
        "Decrypt",
        json!({"CiphertextBlob": blob, "EncryptionContext": context}),
    );
    run(kms, "Decrypt", json!({"CiphertextBlob": blob}));
    run(
        kms,
        "ReEncrypt",
        json!({"CiphertextBlob": blob, "SourceEncryptionContext": context, "DestinationKeyId": key_id}),
    );
    run(
        kms,
        "GenerateDataKey",
        json!({"KeyId": key_id, "KeySpec": "AES_256", "EncryptionContext": context}),
    );
    run(
        kms,
        "GenerateDataKeyWithoutPlaintext",
        json!({"KeyId": key_id, "NumberOfBytes": 32}),
    );
    run(kms, "GenerateRandom", json!({"NumberOfBytes": 16}));
    run(
        kms,
        "Encrypt",
        json!({"KeyId": key_id, "Plaintext": "aGVsbG8=", "DryRun": true}),
    );
    run(
        kms,
        "Encrypt",
        json!({"KeyId": "alias/missing", "Plaintext": "aGVsbG8="}),
    );
    run(
        kms,
        "CreateAlias",
        json!({"AliasName": "alias/app", "TargetKeyId": key_id}),
    );
    run(kms, "DescribeKey", json!({"KeyId": "alias/app"}));
    run(kms, "ListAliases", json!({"Limit": 10}));
    let grant = run(
        kms,
        "CreateGrant",
        json!({"KeyId": key_id, "GranteePrincipal": format!("arn:aws:iam::{ACCOUNT}:root"), "Operations": ["Decrypt", "Encrypt"], "Constraints": {"EncryptionContextSubset": {"tenant": "a"}}}),
    );
    let token = grant["GrantToken"].as_str().unwrap().to_owned();
    run(kms, "RetireGrant", json!({"GrantToken": token}));
    run(
        kms,
        "TagResource",
        json!({"KeyId": key_id, "Tags": [{"TagKey": "Department", "TagValue": "IT"}]}),
    );
    run(
        kms,
        "UntagResource",
        json!({"KeyId": key_id, "TagKeys": ["Department"]}),
    );
    run(kms, "RotateKeyOnDemand", json!({"KeyId": key_id}));
    run(
        kms,
        "EnableKeyRotation",
        json!({"KeyId": key_id, "RotationPeriodInDays": 90}),
    );
    run(kms, "DisableKey", json!({"KeyId": key_id}));
    run(
        kms,
        "Encrypt",
        json!({"KeyId": "alias/app", "Plaintext": "aGVsbG8="}),
    );
    run(kms, "EnableKey", json!({"KeyId": key_id}));
    run(
        kms,
        "ScheduleKeyDeletion",
        json!({"KeyId": key_id, "PendingWindowInDays": 7}),
    );
    run(kms, "CancelKeyDeletion", json!({"KeyId": key_id}));
    run(
        kms,
        "GetKeyPolicy",
        json!({"KeyId": key_id, "PolicyName": "default"}),
    );
    run(kms, "NoSuchOperation", json!({"KeyId": key_id}));
}

// --- The property ---

/// Text that needs care in JSON.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\x00-\\x1f\"\\\\/a-z0-9:\u{7f}\u{e9}\u{2028}\u{1f600} ]{0,16}",
        Just(String::new()),
        any::<String>(),
    ]
}

/// A JSON value as text, with what a client might send: escapes, odd
/// numbers, nesting, repeated names, and now and then something invalid.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        text().prop_map(|text| serde_json::to_string(&text).unwrap()),
        Just(r#""\u00e9\/\ud83d\ude00""#.to_owned()),
        Just(r#""\ud800""#.to_owned()),
        prop_oneof![
            Just("0"),
            Just("-1"),
            Just("1.5"),
            Just("-0"),
            Just("1E2"),
            Just("1e400"),
            Just("18446744073709551615"),
            Just("18446744073709551616"),
            Just("123456789012345678901234"),
            Just("true"),
            Just("false"),
            Just("null"),
        ]
        .prop_map(str::to_owned),
        any::<i64>().prop_map(|number| number.to_string()),
        any::<f64>()
            .prop_filter("finite", |number| number.is_finite())
            .prop_map(|number| Value::from(number).to_string()),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4)
                .prop_map(|items| format!("[{}]", items.join(","))),
            proptest::collection::vec((object_name(), inner), 0..4).prop_map(|members| {
                let members: Vec<String> = members
                    .iter()
                    .map(|(name, value)| {
                        format!("{}:{value}", serde_json::to_string(name).unwrap())
                    })
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

/// A member name inside a member's value: the names some members look for
/// (grant constraints, tags), and others.
fn object_name() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        proptest::sample::select(
            &[
                "a",
                "b",
                "EncryptionContextSubset",
                "EncryptionContextEquals",
                "TagKey",
                "TagValue"
            ][..]
        )
        .prop_map(str::to_owned),
    ]
}

const MEMBERS: &[&str] = &[
    "KeyId",
    "GrantId",
    "EncryptionContext",
    "EncryptionAlgorithm",
    "KeySpec",
    "NumberOfBytes",
    "KeyPairSpec",
    "MacAlgorithm",
    "SigningAlgorithm",
    "MessageType",
    "SourceKeyId",
    "SourceEncryptionContext",
    "SourceEncryptionAlgorithm",
    "DestinationKeyId",
    "DestinationEncryptionContext",
    "DestinationEncryptionAlgorithm",
    "GranteePrincipal",
    "RetiringPrincipal",
    "Operations",
    "Constraints",
    "Name",
    "Policy",
    "PolicyName",
    "BypassPolicyLockoutSafetyCheck",
    "Description",
    "KeyUsage",
    "Origin",
    "CustomerMasterKeySpec",
    "MultiRegion",
    "CustomKeyStoreId",
    "XksKeyId",
    "Tags",
    "TagKeys",
    "AliasName",
    "TargetKeyId",
    "PendingWindowInDays",
    "RotationPeriodInDays",
    "WrappingAlgorithm",
    "WrappingKeySpec",
    "ExpirationModel",
    "ReplicaRegion",
    "PrimaryRegion",
    "Limit",
    "Marker",
    "DryRun",
    "GrantToken",
    "GrantTokens",
    "Plaintext",
    "CiphertextBlob",
    "ValidTo",
    "Unknown",
    "keyId",
];

/// A member value: usually of the expected kind, sometimes anything.
fn member_value(name: &'static str) -> BoxedStrategy<String> {
    let key_like = prop_oneof![
        Just(format!(
            "arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        )),
        Just(format!("arn:aws:kms:us-east-1:{OTHER}:key/k")),
        Just("1234abcd-12ab-34cd-56ef-1234567890ab".to_owned()),
        Just("alias/known-app".to_owned()),
        Just("alias/other".to_owned()),
        Just("tok-1".to_owned()),
        text(),
    ]
    .prop_map(|text| serde_json::to_string(&text).unwrap());
    let context = proptest::collection::vec((text(), text()), 0..4)
        .prop_map(|pairs| {
            let members: Vec<String> = pairs
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}:{}",
                        serde_json::to_string(k).unwrap(),
                        serde_json::to_string(v).unwrap()
                    )
                })
                .collect();
            format!("{{{}}}", members.join(","))
        })
        .boxed();
    let constraints = (
        proptest::option::of(context.clone()),
        proptest::option::of(context.clone()),
    )
        .prop_map(|(subset, equals)| {
            let members: Vec<String> = [
                ("EncryptionContextSubset", subset),
                ("EncryptionContextEquals", equals),
            ]
            .into_iter()
            .filter_map(|(name, value)| Some(format!("\"{name}\":{}", value?)))
            .collect();
            format!("{{{}}}", members.join(","))
        });
    let tags = proptest::collection::vec((text(), text()), 0..3).prop_map(|tags| {
        let tags: Vec<String> = tags
            .iter()
            .map(|(k, v)| json!({"TagKey": k, "TagValue": v}).to_string())
            .collect();
        format!("[{}]", tags.join(","))
    });
    let strings = proptest::collection::vec(text(), 0..3)
        .prop_map(|items| serde_json::to_string(&items).unwrap());
    let expected = match name {
        "KeyId" | "SourceKeyId" | "DestinationKeyId" | "TargetKeyId" | "GrantToken" => {
            key_like.boxed()
        }
        "EncryptionContext" | "SourceEncryptionContext" | "DestinationEncryptionContext" => {
            context.boxed()
        }
        "Constraints" => constraints.boxed(),
        "Tags" => tags.boxed(),
        "Operations" | "TagKeys" => strings.boxed(),
        "NumberOfBytes" | "Limit" | "PendingWindowInDays" | "RotationPeriodInDays" => {
            (0u64..2000).prop_map(|n| n.to_string()).boxed()
        }
        "DryRun" | "MultiRegion" | "BypassPolicyLockoutSafetyCheck" => {
            any::<bool>().prop_map(|b| b.to_string()).boxed()
        }
        _ => text()
            .prop_map(|text| serde_json::to_string(&text).unwrap())
            .boxed(),
    };
    prop_oneof![3 => expected, 1 => json_text()].boxed()
}

fn body() -> impl Strategy<Value = String> {
    let members = proptest::collection::vec(
        proptest::sample::select(MEMBERS).prop_flat_map(|name| (Just(name), member_value(name))),
        0..6,
    )
    .prop_map(|members| {
        let members: Vec<String> = members
            .iter()
            .map(|(name, value)| format!("\"{name}\":{value}"))
            .collect();
        format!("{{{}}}", members.join(","))
    });
    prop_oneof![8 => members, 1 => json_text(), 1 => Just(String::new())]
}

/// A reply as keyward writes one (right types, any values).
fn reply() -> impl Strategy<Value = Option<String>> {
    let key = prop_oneof![
        Just(format!(
            "arn:aws:kms:us-east-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
        )),
        Just(format!("arn:aws:kms:us-east-1:{OTHER}:key/k")),
        Just("alias/x".to_owned()),
        text(),
    ]
    .boxed();
    proptest::option::of((
        proptest::option::of(key.clone()),
        proptest::option::of(key.clone()),
        proptest::option::of(text()),
        proptest::option::of(text()),
        proptest::option::of((key, any::<bool>(), 0.0f64..4e9, text())),
        proptest::option::of(text()),
        proptest::option::of(0u64..400),
        proptest::option::of(prop_oneof![Just("AQID".to_owned()), text()]),
    ))
    .prop_map(|members| {
        members.map(|(key_id, source_key_id, material, destination_material, metadata, grant_id, days, blob)| {
            let mut reply = serde_json::Map::new();
            let mut put = |name: &str, value: Option<Value>| {
                if let Some(value) = value {
                    reply.insert(name.to_owned(), value);
                }
            };
            put("KeyId", key_id.map(Value::from));
            put("SourceKeyId", source_key_id.map(Value::from));
            put("KeyMaterialId", material.map(Value::from));
            put("DestinationKeyMaterialId", destination_material.map(Value::from));
            put(
                "KeyMetadata",
                metadata.map(|(arn, enabled, created, description)| {
                    json!({"Arn": arn, "Enabled": enabled, "CreationDate": created, "Description": description, "AWSAccountId": ACCOUNT, "EncryptionAlgorithms": ["SYMMETRIC_DEFAULT"]})
                }),
            );
            put("GrantId", grant_id.map(Value::from));
            put("PendingWindowInDays", days.map(Value::from));
            put("DeletionDate", days.map(|days| Value::from(1.8e9 + days as f64 * 0.5)));
            put("CiphertextBlob", blob.map(Value::from));
            put("Plaintext", Some(Value::from("c2VjcmV0")));
            Value::Object(reply).to_string()
        })
    })
}

const OPERATIONS: &[&str] = &[
    "Encrypt",
    "Decrypt",
    "ReEncrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateRandom",
    "Sign",
    "CreateKey",
    "CreateGrant",
    "RetireGrant",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
    "RotateKeyOnDemand",
    "TagResource",
    "CreateAlias",
    "ListKeys",
    "DescribeKey",
    "Unknown\"Op\u{e9}",
    "",
];

proptest! {
    #[test]
    fn the_account_of_an_arn_is_its_fifth_field(arn in "[a:b]{0,12}") {
        prop_assert_eq!(
            kms_call::arn_account(&arn),
            arn.split(':').nth(4).filter(|account| !account.is_empty())
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    #[test]
    fn any_call_is_written_as_the_typed_path_built_it(
        caller_index in any::<proptest::sample::Index>(),
        operation in proptest::sample::select(OPERATIONS),
        body in body(),
        reply in reply(),
        failure in proptest::option::of((text(), proptest::option::of(prop_oneof![
            text(),
            Just(format!("arn:aws:kms:us-east-1:{OTHER}:key/k is disabled.")),
            "[a\u{e9}\u{1f600}]{300,700}",
        ]))),
        region in text(),
        user_agent in text(),
        request_id in text(),
        access_key_id in proptest::option::of(text()),
        address in proptest::option::of(any::<[u8; 4]>()),
        seconds in 0i64..253_402_300_799,
    ) {
        let callers = callers();
        let caller = caller_index.get(&callers);
        let facts = RequestFacts {
            event_source: "kms.amazonaws.com",
            event_name: operation,
            region: &region,
            source_ip: address.map(IpAddr::from),
            user_agent: &user_agent,
            request_id: &request_id,
            access_key_id: access_key_id.as_deref(),
            event_time: time::OffsetDateTime::from_unix_timestamp(seconds).unwrap(),
        };
        let outcome = match &failure {
            Some((code, message)) => Outcome::Failure { code, message: message.as_deref() },
            None => Outcome::Success(reply.as_deref().map(str::as_bytes)),
        };
        same_events(&facts, caller, body.as_bytes(), outcome, &FakeNames);
    }
}
