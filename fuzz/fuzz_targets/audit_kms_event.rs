//! The events of a KMS call, written in one pass from the raw request and
//! reply bodies (keyward-server `audit_event/kms_call.rs`): whatever the
//! bodies hold — invalid UTF-8, odd escapes, deep nesting, members of the
//! wrong type — writing never panics, and every event written is a
//! CloudTrail record that decodes and re-encodes to exactly its bytes, the
//! trail's canonical form (so the hand-written JSON output is well formed).
//!
//! Input: operation selector, shape selector, then the request body and,
//! after the first NUL byte, the reply body (or the error message).
#![no_main]

use keyward_audit::CloudTrailEvent;
use keyward_principal::Caller;
use keyward_server::audit_event::{kms_events, time_of_ms, KeyNames, Outcome, RequestFacts};
use libfuzzer_sys::fuzz_target;

const OPERATIONS: &[&str] = &[
    "CreateKey", "DescribeKey", "ListKeys", "UpdateKeyDescription", "EnableKey", "DisableKey", "ScheduleKeyDeletion",
    "CancelKeyDeletion", "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
    "GenerateDataKeyPair", "GenerateRandom", "CreateAlias", "UpdateAlias", "DeleteAlias", "ListAliases",
    "EnableKeyRotation", "DisableKeyRotation", "GetKeyRotationStatus", "RotateKeyOnDemand", "ListKeyRotations",
    "TagResource", "UntagResource", "ListResourceTags", "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies",
    "CreateGrant", "ListGrants", "ListRetirableGrants", "RetireGrant", "RevokeGrant", "NoSuchOperation",
];

/// A key store that knows no names: failed calls name only what the request said.
struct NoNames;

impl KeyNames for NoNames {
    fn key_arn_named(&self, _caller: &Caller, _key_id: &str) -> Option<String> {
        None
    }
    fn grant_named_by_token(&self, _token: &str) -> Option<(String, String)> {
        None
    }
}

fuzz_target!(|data: &[u8]| {
    let [operation, shape, rest @ ..] = data else { return };
    let event_name = OPERATIONS[usize::from(*operation) % OPERATIONS.len()];
    let (request, reply) = match rest.iter().position(|&byte| byte == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let outcome = match shape % 3 {
        0 => Outcome::Success(Some(reply)),
        1 => Outcome::Success(None),
        _ => Outcome::Failure {
            code: "ValidationException",
            message: std::str::from_utf8(reply).ok(),
        },
    };
    let caller = if shape & 4 == 0 {
        Caller::root("111122223333")
    } else {
        Caller::root("111122223333").via_service(keyward_principal::ServicePrincipal::new("s3.amazonaws.com"), None)
    };
    let facts = RequestFacts {
        event_source: "kms.amazonaws.com",
        event_name,
        region: "us-east-1",
        source_ip: None,
        user_agent: "fuzz",
        request_id: "00000000-0000-4000-8000-000000000000",
        access_key_id: Some("AKIAIOSFODNN7EXAMPLE"),
        event_time: time_of_ms(1_700_000_000_000),
    };
    let Ok(entries) = kms_events(&facts, &caller, request, outcome, &NoNames) else { return };
    for entry in entries {
        let event = CloudTrailEvent::decode(&entry.bytes)
            .unwrap_or_else(|error| panic!("{event_name}: the event does not decode: {error}"));
        let again = event.encode().unwrap_or_else(|error| panic!("{event_name}: re-encode failed: {error}"));
        assert_eq!(again, entry.bytes, "{event_name}: the event is not in canonical form");
    }
});
