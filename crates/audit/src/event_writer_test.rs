//! The writer's bytes against the typed builders' (the reference model), and
//! the round trip through [`CloudTrailEvent::decode`].

use std::borrow::Cow;
use std::net::IpAddr;

use proptest::prelude::*;
use time::macros::datetime;

use super::*;
use crate::identity::IdentityType;
use crate::identity_view::{SessionAttributesView, SessionContextView, SessionIssuerView};
use crate::kms_elements::{KeyMetadataElement, KmsResponseElements};
use crate::kms_request_view::{ContextView, GrantConstraintsView};

const KEY_ARN: &str = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// Writes `event`, and checks its bytes against the reference and the round trip.
fn check(event: &KmsCallEvent<'_>) -> String {
    let written = event.encode().unwrap();
    let reference = event.reference_event().encode().unwrap();
    let text = String::from_utf8(written.clone()).unwrap();
    assert_eq!(text, String::from_utf8(reference).unwrap());
    let decoded = CloudTrailEvent::decode(&written).unwrap();
    assert_eq!(decoded.encode().unwrap(), written);
    assert_eq!(
        decoded.event_time().unwrap(),
        event.event_time.replace_nanosecond(0).unwrap()
    );
    text
}

fn root() -> IdentityView<'static> {
    IdentityView::root("111122223333", "arn:aws:iam::111122223333:root")
        .with_access_key_id("AKIAEXAMPLE")
}

fn call<'a>(identity: &'a IdentityView<'a>, operation: &'a str) -> KmsCallEvent<'a> {
    KmsCallEvent {
        user_identity: identity,
        event_time: datetime!(2026-11-23 20:00:00.250 UTC),
        event_source: "kms.amazonaws.com",
        event_name: operation,
        aws_region: "us-east-1",
        source_ip_address: SourceAddress::Ip(IpAddr::from([127, 0, 0, 1])),
        user_agent: "aws-cli/2.17",
        error: None,
        request_parameters: None,
        response_elements: None,
        additional_event_data: None,
        request_id: "56764d19-1eb1-48f1-8044-594aa7dd05c4",
        event_id: EventId(0x1371b402_f1dc_4c47_8f3a_1004e4803c5a),
        read_only: true,
        resources: &[],
        recipient_account_id: "111122223333",
        shared_event_id: None,
    }
}

fn context<'a>(pairs: &[(&'a str, &'a str)]) -> ContextView<'a> {
    ContextView::from_members(
        pairs
            .iter()
            .map(|(key, value)| (Cow::Borrowed(*key), Cow::Borrowed(*value)))
            .collect(),
    )
}

#[test]
fn a_generate_data_key_event() {
    let identity = root();
    let parameters = KmsRequestView {
        key_id: Some("alias/app".into()),
        key_spec: Some("AES_256".into()),
        encryption_context: Some(context(&[("purpose", "bench"), ("app", "x")])),
        ..KmsRequestView::default()
    };
    let material = "ab".repeat(32);
    let data = KmsAdditionalView {
        key_material_id: Some(&material),
        ..KmsAdditionalView::default()
    };
    let resources = [KeyResource {
        account_id: "111122223333",
        arn: KEY_ARN,
    }];
    let text = check(&KmsCallEvent {
        request_parameters: Some(&parameters),
        additional_event_data: Some(&data),
        resources: &resources,
        ..call(&identity, "GenerateDataKey")
    });
    assert!(text.contains(r#""requestParameters":{"keyId":"alias/app","encryptionContext":{"app":"x","purpose":"bench"},"keySpec":"AES_256"}"#), "{text}");
}

#[test]
fn a_failed_call_with_a_long_message_is_cut_on_a_character_boundary() {
    let identity = root();
    let message = format!("x{}", "é".repeat(600));
    let parameters = KmsRequestView {
        key_id: Some("k".into()),
        dry_run: Some(true),
        ..KmsRequestView::default()
    };
    for error in [
        CallError {
            code: "AccessDeniedException",
            message: &message,
        },
        CallError {
            code: "",
            message: "",
        },
        CallError {
            code: &message,
            message: "\"quoted\"\n",
        },
    ] {
        let text = check(&KmsCallEvent {
            error: Some(error),
            request_parameters: Some(&parameters),
            read_only: false,
            ..call(&identity, "Encrypt")
        });
        assert!(text.contains("\"errorCode\""));
    }
}

#[test]
fn a_cross_account_copy_and_a_retired_grant() {
    let identity = root();
    let data = KmsAdditionalView {
        grant_id: Some("0123abcd"),
        ..KmsAdditionalView::default()
    };
    let resources = [
        KeyResource {
            account_id: "444455556666",
            arn: "arn:aws:kms:us-east-1:444455556666:key/k",
        },
        KeyResource {
            account_id: "111122223333",
            arn: KEY_ARN,
        },
    ];
    check(&KmsCallEvent {
        additional_event_data: Some(&data),
        resources: &resources,
        recipient_account_id: "444455556666",
        shared_event_id: Some(EventId(0xa24b3967_ddad_417f_9b22_2332b918db06)),
        read_only: false,
        ..call(&identity, "RetireGrant")
    });
}

#[test]
fn response_elements_come_from_the_typed_builders() {
    let identity = root();
    let elements = EventObject::from(KmsResponseElements {
        key_metadata: Some(KeyMetadataElement {
            aws_account_id: Some("111122223333".into()),
            arn: Some(KEY_ARN.into()),
            creation_date: Some(datetime!(2022-08-10 22:38:27 UTC)),
            enabled: Some(true),
            encryption_algorithms: Some(vec!["SYMMETRIC_DEFAULT".into()]),
            multi_region: Some(false),
            ..KeyMetadataElement::default()
        }),
        ..KmsResponseElements::default()
    });
    let parameters = KmsRequestView {
        tags: Some(vec![("Department".into(), "IT".into())]),
        ..KmsRequestView::default()
    };
    check(&KmsCallEvent {
        request_parameters: Some(&parameters),
        response_elements: Some(&elements),
        read_only: false,
        ..call(&identity, "CreateKey")
    });
}

#[test]
fn event_ids_are_written_as_uuid_writes_guids() {
    for (bits, text) in [
        (0, "00000000-0000-0000-0000-000000000000"),
        (u128::MAX, "ffffffff-ffff-ffff-ffff-ffffffffffff"),
        (
            0x1371b402_f1dc_4c47_8f3a_1004e4803c5a,
            "1371b402-f1dc-4c47-8f3a-1004e4803c5a",
        ),
        (1, "00000000-0000-0000-0000-000000000001"),
    ] {
        assert_eq!(EventId(bits).to_string(), text);
    }
}

#[test]
fn addresses_of_both_families_and_service_names() {
    let identity = root();
    for address in [
        SourceAddress::Ip(IpAddr::from([0, 0, 0, 0])),
        SourceAddress::Ip(IpAddr::from([255, 10, 100, 9])),
        SourceAddress::Ip(IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])),
        SourceAddress::Ip("::ffff:192.0.2.1".parse().unwrap()),
        SourceAddress::Name("emr-serverless.amazonaws.com"),
        SourceAddress::Name(""),
    ] {
        check(&KmsCallEvent {
            source_ip_address: address,
            ..call(&identity, "Decrypt")
        });
    }
}

#[test]
fn identities_of_every_shape() {
    let session = SessionContextView {
        session_issuer: Some(SessionIssuerView::role(
            "AROAEXAMPLE",
            "arn:aws:iam::111122223333:role/app",
            "111122223333",
            "app",
        )),
        attributes: Some(SessionAttributesView {
            creation_date: datetime!(2026-11-23 19:00:00 UTC),
            mfa_authenticated: false,
        }),
    };
    let identities = [
        root(),
        IdentityView::iam_user(
            "AIDA",
            "arn:aws:iam::111122223333:user/Alice",
            "111122223333",
            "Alice",
        ),
        IdentityView::assumed_role(
            "AROAEXAMPLE:session",
            "arn:aws:sts::111122223333:assumed-role/app/session",
            "111122223333",
            session,
        )
        .with_access_key_id("ASIAEXAMPLE"),
        IdentityView::aws_service("emr-serverless.amazonaws.com"),
        root().with_invoked_by("emr-serverless.amazonaws.com"),
        IdentityView {
            identity_type: Some(IdentityType::FederatedUser),
            principal_id: Some("1:bob"),
            arn: Some("arn:aws:sts::1:federated-user/bob"),
            account_id: Some("1"),
            ..IdentityView::default()
        },
    ];
    for identity in &identities {
        check(&call(identity, "Decrypt"));
    }
}

// --- The property ---

/// Text with what needs care in JSON: quotes, backslashes, control
/// characters, DEL, non-ASCII, and nothing at all.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[\\x00-\\x1f\"\\\\/a-zA-Z0-9:\u{7f}\u{e9}\u{2028}\u{1f600} ]{0,24}",
        any::<String>(),
        Just(String::new()),
    ]
}

fn identity_of(shape: u8, texts: &[String; 6], creation: Option<i64>) -> IdentityView<'_> {
    let [a, b, c, d, e, f] = texts;
    let view = match shape % 6 {
        0 => IdentityView::root(a, b),
        1 => IdentityView::iam_user(a, b, c, d),
        2 => IdentityView::assumed_role(
            a,
            b,
            c,
            SessionContextView {
                session_issuer: Some(SessionIssuerView::role(d, e, c, f)),
                attributes: creation.map(|seconds| SessionAttributesView {
                    creation_date: time::OffsetDateTime::from_unix_timestamp(seconds).unwrap(),
                    mfa_authenticated: seconds % 2 == 0,
                }),
            },
        ),
        3 => IdentityView::aws_service(a),
        4 => IdentityView {
            identity_type: Some(IdentityType::Unknown),
            principal_id: Some(a),
            account_id: Some(b),
            ..IdentityView::default()
        },
        _ => IdentityView::default(),
    };
    let view = if shape & 0x10 != 0 {
        view.with_access_key_id(e)
    } else {
        view
    };
    if shape & 0x20 != 0 {
        view.with_invoked_by(f)
    } else {
        view
    }
}

fn context_of(pairs: &[(String, String)]) -> ContextView<'_> {
    ContextView::from_members(
        pairs
            .iter()
            .map(|(key, value)| (Cow::Borrowed(key.as_str()), Cow::Borrowed(value.as_str())))
            .collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn any_event_is_written_as_the_typed_builders_write_it(
        shape in any::<u8>(),
        identity_texts in proptest::array::uniform6(text()),
        creation in proptest::option::of(0i64..253_402_300_799),
        event_seconds in 0i64..253_402_300_799,
        facts in proptest::array::uniform7(text()),
        ip in proptest::option::of(proptest::result::maybe_ok(any::<[u8; 4]>(), any::<[u16; 8]>())),
        event_id in any::<u128>(),
        read_only in any::<bool>(),
        error in proptest::option::of((text(), prop_oneof![text(), "[a\u{e9}\u{1f600}]{300,700}"])),
        parameters in proptest::option::of((
            proptest::option::of(text()),
            proptest::option::of(proptest::collection::vec((text(), text()), 0..5)),
            proptest::option::of(text()),
            proptest::option::of(any::<u64>()),
            proptest::option::of(proptest::collection::vec(text(), 0..3)),
            proptest::option::of((text(), text())),
            proptest::option::of(any::<bool>()),
            proptest::option::of(proptest::collection::vec((text(), text()), 0..3)),
        )),
        response in proptest::option::of((proptest::option::of(text()), proptest::option::of(text()), proptest::option::of(0u64..400))),
        additional in proptest::option::of((proptest::option::of(text()), proptest::option::of(text()))),
        resources in proptest::collection::vec((text(), text()), 0..3),
        shared in proptest::option::of(any::<u128>()),
    ) {
        let identity = identity_of(shape, &identity_texts, creation);
        let parameters = parameters.as_ref().map(|(key_id, context, algorithm, bytes, operations, tag, dry_run, subset)| KmsRequestView {
            key_id: key_id.as_deref().map(Cow::Borrowed),
            encryption_context: context.as_deref().map(context_of),
            encryption_algorithm: algorithm.as_deref().map(Cow::Borrowed),
            number_of_bytes: *bytes,
            operations: operations.as_ref().map(|items| items.iter().map(|item| Cow::Borrowed(item.as_str())).collect()),
            tags: tag.as_ref().map(|(key, value)| vec![(Cow::Borrowed(key.as_str()), Cow::Borrowed(value.as_str()))]),
            dry_run: *dry_run,
            constraints: subset.as_deref().map(|pairs| GrantConstraintsView {
                encryption_context_subset: Some(context_of(pairs)),
                encryption_context_equals: None,
            }),
            source_encryption_context: context.as_deref().map(context_of),
            ..KmsRequestView::default()
        });
        let response = response.map(|(grant_id, key_id, days)| EventObject::from(KmsResponseElements {
            grant_id,
            key_id,
            pending_window_in_days: days,
            ..KmsResponseElements::default()
        }));
        let additional = additional.as_ref().map(|(material, grant)| KmsAdditionalView {
            key_material_id: material.as_deref(),
            grant_id: grant.as_deref(),
            custom_key_store_id: None,
        });
        let resources: Vec<KeyResource<'_>> = resources
            .iter()
            .map(|(account_id, arn)| KeyResource { account_id, arn })
            .collect();
        let [source, name, region, address, agent, request_id, recipient] = &facts;
        let event = KmsCallEvent {
            user_identity: &identity,
            event_time: time::OffsetDateTime::from_unix_timestamp(event_seconds).unwrap(),
            event_source: source,
            event_name: name,
            aws_region: region,
            source_ip_address: match ip {
                Some(Ok(v4)) => SourceAddress::Ip(IpAddr::from(v4)),
                Some(Err(v6)) => SourceAddress::Ip(IpAddr::from(v6)),
                None => SourceAddress::Name(address),
            },
            user_agent: agent,
            error: error.as_ref().map(|(code, message)| CallError { code, message }),
            request_parameters: parameters.as_ref(),
            response_elements: response.as_ref(),
            additional_event_data: additional.as_ref(),
            request_id,
            event_id: EventId(event_id),
            read_only,
            resources: &resources,
            recipient_account_id: recipient,
            shared_event_id: shared.map(EventId),
        };
        check(&event);
    }
}

#[test]
fn the_buffer_is_sized_for_the_event_when_nothing_needs_an_escape() {
    // The events of the cryptographic operations: never short (no second
    // allocation), never much over.
    let session = SessionContextView {
        session_issuer: Some(SessionIssuerView::role(
            "AROAEXAMPLE",
            "arn:aws:iam::111122223333:role/app",
            "111122223333",
            "app",
        )),
        attributes: Some(SessionAttributesView {
            creation_date: datetime!(2026-11-23 19:00:00 UTC),
            mfa_authenticated: false,
        }),
    };
    let identities = [
        root(),
        IdentityView::assumed_role(
            "AROAEXAMPLE:s",
            "arn:aws:sts::111122223333:assumed-role/app/s",
            "111122223333",
            session,
        )
        .with_access_key_id("ASIAEXAMPLE")
        .with_invoked_by("emr-serverless.amazonaws.com"),
        IdentityView::iam_user(
            "AIDA",
            "arn:aws:iam::111122223333:user/Alice",
            "111122223333",
            "Alice",
        ),
    ];
    let parameters = KmsRequestView {
        key_id: Some("alias/app".into()),
        key_spec: Some("AES_256".into()),
        encryption_algorithm: Some("SYMMETRIC_DEFAULT".into()),
        encryption_context: Some(context(&[("purpose", "bench"), ("app", "x")])),
        source_key_id: Some(KEY_ARN.into()),
        destination_key_id: Some(KEY_ARN.into()),
        source_encryption_context: Some(context(&[])),
        ..KmsRequestView::default()
    };
    let material = "ab".repeat(32);
    let data = KmsAdditionalView {
        key_material_id: Some(&material),
        grant_id: Some("g"),
        ..KmsAdditionalView::default()
    };
    let resources = [
        KeyResource {
            account_id: "111122223333",
            arn: KEY_ARN,
        },
        KeyResource {
            account_id: "444455556666",
            arn: KEY_ARN,
        },
    ];
    for identity in &identities {
        for event in [
            call(identity, "Decrypt"),
            KmsCallEvent {
                request_parameters: Some(&parameters),
                additional_event_data: Some(&data),
                resources: &resources,
                error: Some(CallError {
                    code: "AccessDeniedException",
                    message: "no",
                }),
                shared_event_id: Some(EventId(7)),
                source_ip_address: SourceAddress::Name("emr-serverless.amazonaws.com"),
                ..call(identity, "ReEncrypt")
            },
        ] {
            let written = event.encode().unwrap().len();
            let hint = event.size_hint();
            assert!(
                hint >= written && hint <= written + written / 4,
                "{hint} for {written}"
            );
        }
    }
}
