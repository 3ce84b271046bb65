//! The seed records round-trip through `CloudTrailEvent` unchanged.

use keyward_audit::{CloudTrailEvent, EventType, IdentityType, Member};

const SEEDS: &[(&str, &str)] = &[
    (
        "seed000_decrypt_assumed_role",
        include_str!("../fixtures/seed000_decrypt_assumed_role.json"),
    ),
    (
        "seed000_decrypt_aws_service",
        include_str!("../fixtures/seed000_decrypt_aws_service.json"),
    ),
    (
        "seed003_generate_data_key_without_plaintext",
        include_str!("../fixtures/seed003_generate_data_key_without_plaintext.json"),
    ),
    (
        "seed003_generate_data_key_without_plaintext_dry_run",
        include_str!("../fixtures/seed003_generate_data_key_without_plaintext_dry_run.json"),
    ),
    (
        "seed003_create_grant",
        include_str!("../fixtures/seed003_create_grant.json"),
    ),
    (
        "seed003_create_grant_dry_run",
        include_str!("../fixtures/seed003_create_grant_dry_run.json"),
    ),
    (
        "seed003_retire_grant",
        include_str!("../fixtures/seed003_retire_grant.json"),
    ),
];

/// Drops the whitespace between JSON tokens, keeping strings intact, so that
/// the seed text can be compared with compact output byte for byte.
fn minify(json: &str) -> String {
    let mut compact = String::with_capacity(json.len());
    let mut in_string = false;
    let mut escaped = false;
    for character in json.chars() {
        if in_string {
            compact.push(character);
            if escaped {
                escaped = false;
            } else if character == '\\' {
                escaped = true;
            } else if character == '"' {
                in_string = false;
            }
        } else if character == '"' {
            in_string = true;
            compact.push(character);
        } else if !character.is_whitespace() {
            compact.push(character);
        }
    }
    compact
}

fn parse(text: &str) -> CloudTrailEvent {
    CloudTrailEvent::decode(text.as_bytes()).unwrap()
}

#[test]
fn every_seed_record_round_trips_as_the_same_json_value() {
    for (name, text) in SEEDS {
        let written = parse(text).encode().unwrap();
        let original: serde_json::Value = serde_json::from_str(text).unwrap();
        let round_tripped: serde_json::Value = serde_json::from_slice(&written).unwrap();
        assert_eq!(round_tripped, original, "{name}");
    }
}

#[test]
fn every_seed_record_round_trips_byte_for_byte_modulo_whitespace() {
    // Same members, same order, same values: only the spaces differ.
    for (name, text) in SEEDS {
        let written = String::from_utf8(parse(text).encode().unwrap()).unwrap();
        assert_eq!(written, minify(text), "{name}");
    }
}

#[test]
fn reading_the_written_record_gives_the_same_event() {
    for (name, text) in SEEDS {
        let event = parse(text);
        assert_eq!(
            CloudTrailEvent::decode(&event.encode().unwrap()).unwrap(),
            event,
            "{name}"
        );
    }
}

#[test]
fn absent_and_null_members_stay_apart() {
    let decrypt = parse(SEEDS[0].1);
    assert_eq!(decrypt.response_elements, Member::Null);
    assert_eq!(decrypt.shared_event_id, Member::Absent);
    assert!(decrypt.additional_event_data.get().is_some());

    let generate = parse(SEEDS[2].1);
    assert_eq!(generate.additional_event_data, Member::Absent);
    assert_eq!(generate.error_code, Member::Absent);

    let retire = parse(SEEDS[6].1);
    assert_eq!(retire.request_parameters, Member::Null);
    assert!(retire.response_elements.get().is_some());
}

#[test]
fn seed_fields_are_read_into_their_types() {
    let assumed_role = parse(SEEDS[0].1);
    assert_eq!(assumed_role.event_type, EventType::AwsApiCall);
    let identity = &assumed_role.user_identity;
    assert_eq!(
        identity.identity_type,
        Member::Present(IdentityType::AssumedRole)
    );
    assert_eq!(
        identity.invoked_by.get().map(String::as_str),
        Some("kinesisanalytics.amazonaws.com")
    );
    let session = identity.session_context.get().unwrap();
    let issuer = session.session_issuer.get().unwrap();
    assert_eq!(issuer.user_name.get().map(String::as_str), Some("Operator"));
    let attributes = session.attributes.get().unwrap();
    assert_eq!(
        attributes.mfa_authenticated.get().map(String::as_str),
        Some("false")
    );
    assert_eq!(
        assumed_role.event_time().unwrap(),
        time::macros::datetime!(2025-08-07 13:45:45 UTC)
    );
    assert_eq!(
        assumed_role.error_code.get().map(String::as_str),
        Some("DryRunOperationException")
    );
    let parameters = assumed_role.request_parameters.get().unwrap();
    assert_eq!(
        parameters.get("dryRun"),
        Some(&keyward_audit::JsonValue::Bool(true))
    );

    let service = parse(SEEDS[1].1);
    assert_eq!(
        service.user_identity.identity_type,
        Member::Present(IdentityType::AwsService)
    );
    assert_eq!(
        service.shared_event_id.get().map(String::as_str),
        Some("acbe4a39-ced9-4f53-9f3c-21ef7e89dc37")
    );
    let resources = service.resources.get().unwrap();
    assert_eq!(
        resources[0].resource_type.get().map(String::as_str),
        Some("AWS::KMS::Key")
    );
}

#[test]
fn a_seed_with_a_secret_member_would_not_be_read() {
    let tampered = SEEDS[0].1.replacen(
        "\"dryRun\": true",
        "\"dryRun\": true, \"plaintext\": \"c2VjcmV0\"",
        1,
    );
    assert_ne!(tampered, SEEDS[0].1);
    assert!(CloudTrailEvent::decode(tampered.as_bytes()).is_err());
}
