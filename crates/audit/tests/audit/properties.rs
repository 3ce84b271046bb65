//! Properties over random chains, digests and events.

use keyward_audit::{
    verify_chain, verify_digest, ApiCall, ChainAnchor, ChainFaultKind, ChainHead, ChainRecord,
    CloudTrailEvent, Digest, KmsAdditionalEventData, KmsRequestParameters, KmsResponseElements,
    Resource, UserIdentity,
};
use proptest::prelude::*;
use proptest::sample::Index;

use crate::support::{rehash, signing_key, trail};

fn chain_of(events: Vec<Vec<u8>>) -> Vec<ChainRecord> {
    let mut head = ChainHead::GENESIS;
    events
        .into_iter()
        .map(|event| head.append(event).unwrap())
        .collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipEventBit { at: Index, byte: Index, bit: u8 },
    FlipPreviousHashBit { at: Index, byte: Index, bit: u8 },
    FlipHashBit { at: Index, byte: Index, bit: u8 },
    SetSequence { at: Index, sequence: u64 },
    Delete { at: Index },
    Swap { first: Index, second: Index },
    InsertCopy { from: Index, at: Index },
    RewriteAndRehash { at: Index },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<Index>(), 0u8..8)
            .prop_map(|(at, byte, bit)| Mutation::FlipEventBit { at, byte, bit }),
        (any::<Index>(), any::<Index>(), 0u8..8)
            .prop_map(|(at, byte, bit)| Mutation::FlipPreviousHashBit { at, byte, bit }),
        (any::<Index>(), any::<Index>(), 0u8..8)
            .prop_map(|(at, byte, bit)| Mutation::FlipHashBit { at, byte, bit }),
        (any::<Index>(), 0u64..64)
            .prop_map(|(at, sequence)| Mutation::SetSequence { at, sequence }),
        any::<Index>().prop_map(|at| Mutation::Delete { at }),
        (any::<Index>(), any::<Index>())
            .prop_map(|(first, second)| Mutation::Swap { first, second }),
        (any::<Index>(), any::<Index>()).prop_map(|(from, at)| Mutation::InsertCopy { from, at }),
        any::<Index>().prop_map(|at| Mutation::RewriteAndRehash { at }),
    ]
}

/// Applies `mutation`; returns where verification must fail first and why,
/// or `None` when the mutation changed nothing.
fn apply(records: &mut Vec<ChainRecord>, mutation: &Mutation) -> Option<(u64, ChainFaultKind)> {
    let count = records.len();
    let last_sequence = count as u64;
    let position = |index: usize| index as u64;
    match mutation {
        Mutation::FlipEventBit { at, byte, bit } => {
            let at = at.index(count);
            let record = &mut records[at];
            if record.event.is_empty() {
                record.hash.0[byte.index(32)] ^= 1 << bit;
            } else {
                let byte = byte.index(record.event.len());
                record.event[byte] ^= 1 << bit;
            }
            Some((position(at), ChainFaultKind::Modified))
        }
        Mutation::FlipPreviousHashBit { at, byte, bit } => {
            let at = at.index(count);
            records[at].previous_hash.0[byte.index(32)] ^= 1 << bit;
            Some((position(at), ChainFaultKind::Modified))
        }
        Mutation::FlipHashBit { at, byte, bit } => {
            let at = at.index(count);
            records[at].hash.0[byte.index(32)] ^= 1 << bit;
            Some((position(at), ChainFaultKind::Modified))
        }
        Mutation::SetSequence { at, sequence } => {
            let at = at.index(count);
            let original = records[at].sequence;
            if *sequence == original {
                return None;
            }
            records[at].sequence = *sequence;
            let kind = if *sequence < original {
                ChainFaultKind::Inserted { found: *sequence }
            } else {
                ChainFaultKind::Missing { found: *sequence }
            };
            Some((position(at), kind))
        }
        Mutation::Delete { at } => {
            let at = at.index(count);
            records.remove(at);
            let kind = if at + 1 == count {
                ChainFaultKind::Truncated {
                    anchored_sequence: last_sequence,
                }
            } else {
                ChainFaultKind::Missing {
                    found: at as u64 + 2,
                }
            };
            Some((position(at), kind))
        }
        Mutation::Swap { first, second } => {
            let (first, second) = (first.index(count), second.index(count));
            let (low, high) = (first.min(second), first.max(second));
            if low == high {
                return None;
            }
            records.swap(low, high);
            Some((
                position(low),
                ChainFaultKind::Reordered {
                    found: high as u64 + 1,
                },
            ))
        }
        Mutation::InsertCopy { from, at } => {
            let from = from.index(count);
            let at = at.index(count + 1);
            let copy = records[from].clone();
            records.insert(at, copy);
            let found = from as u64 + 1;
            Some(match from.cmp(&at) {
                std::cmp::Ordering::Less => (position(at), ChainFaultKind::Inserted { found }),
                std::cmp::Ordering::Equal => (position(at + 1), ChainFaultKind::Inserted { found }),
                std::cmp::Ordering::Greater => (position(at), ChainFaultKind::Reordered { found }),
            })
        }
        Mutation::RewriteAndRehash { at } => {
            let at = at.index(count);
            records[at].event.push(b'!');
            rehash(&mut records[at]);
            Some(if at + 1 == count {
                // Only the anchor on the final head can tell.
                (
                    0,
                    ChainFaultKind::AnchorMismatch {
                        anchored_sequence: last_sequence,
                        source_index: 0,
                    },
                )
            } else {
                (position(at + 1), ChainFaultKind::BrokenLink)
            })
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_single_mutation_is_found_at_its_position(
        events in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 1..24),
        mutation in mutation(),
    ) {
        let mut records = chain_of(events);
        let anchor = ChainAnchor { head: records.last().unwrap().head(), source: 0 };
        prop_assert!(verify_chain(&records, ChainHead::GENESIS, &[anchor]).is_ok());
        if let Some((position, kind)) = apply(&mut records, &mutation) {
            let fault = verify_chain(&records, ChainHead::GENESIS, &[anchor]).unwrap_err();
            prop_assert_eq!(fault.position, position, "{:?}", fault);
            prop_assert_eq!(fault.kind, kind);
            prop_assert_eq!(fault.sequence, position + 1);
        }
    }

    #[test]
    fn records_read_back_as_written(
        sequence in any::<u64>(),
        previous in any::<[u8; 32]>(),
        hash in any::<[u8; 32]>(),
        event in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let record = ChainRecord {
            sequence,
            previous_hash: keyward_audit::Sha256Hash(previous),
            hash: keyward_audit::Sha256Hash(hash),
            event,
        };
        let bytes = record.encode().unwrap();
        let (read, used) = ChainRecord::decode(&bytes).unwrap();
        prop_assert_eq!(read, record);
        prop_assert_eq!(used, bytes.len());
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        keyward_audit::fuzzing::chain_record(&bytes);
        keyward_audit::fuzzing::digest(&bytes);
        keyward_audit::fuzzing::cloudtrail_event(&bytes);
        keyward_audit::fuzzing::digest_file(&bytes);
    }

    #[test]
    fn decoders_accept_what_the_encoders_wrote(
        events in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..24), 1..6),
    ) {
        for record in chain_of(events) {
            keyward_audit::fuzzing::chain_record(&record.encode().unwrap());
        }
        let trail = trail(8, 4);
        for digest in &trail.digests {
            keyward_audit::fuzzing::digest(&digest.encode());
        }
        for record in &trail.records {
            keyward_audit::fuzzing::cloudtrail_event(&record.event);
        }
    }

    #[test]
    fn changing_any_bit_of_a_digest_breaks_its_signature(
        digest_index in 0usize..2,
        byte in any::<Index>(),
        bit in 0u8..8,
    ) {
        let trail = trail(8, 4);
        let mut bytes = trail.digests[digest_index].encode();
        let byte = byte.index(bytes.len());
        bytes[byte] ^= 1 << bit;
        match Digest::decode(&bytes) {
            Err(_) => {}
            Ok(digest) => {
                prop_assert!(verify_digest(&digest, &signing_key().public_key()).is_err(), "byte {}", byte);
                let mut digests = trail.digests.clone();
                digests[digest_index] = digest;
                let report = keyward_audit::verify_trail(
                    &trail.records, &digests, &[signing_key().public_key()], ChainHead::GENESIS);
                prop_assert!(!report.is_ok());
            }
        }
    }

    #[test]
    fn events_read_back_as_written(
        name in "[A-Za-z]{1,20}",
        text in "\\PC{0,20}",
        number in any::<u64>(),
        read_only in any::<bool>(),
        context in prop::collection::vec(("[a-z:]{1,8}", "\\PC{0,8}"), 0..4),
        error in prop::option::of(("[A-Za-z]{1,20}", "\\PC{0,40}")),
        granted in any::<bool>(),
    ) {
        let mut event = CloudTrailEvent::api_call(ApiCall {
            user_identity: UserIdentity::aws_service(text.clone()),
            event_time: time::OffsetDateTime::UNIX_EPOCH + time::Duration::seconds((number % 4_000_000_000) as i64),
            event_source: "kms.amazonaws.com".into(),
            event_name: name.clone(),
            aws_region: "us-east-1".into(),
            source_ip_address: text.clone(),
            user_agent: text.clone(),
            request_id: number.to_string(),
            event_id: name.clone(),
            read_only,
            recipient_account_id: "111122223333".into(),
        })
        .with_request_parameters(KmsRequestParameters {
            key_id: Some(text.clone()),
            encryption_context: Some(context.clone()),
            number_of_bytes: Some(number),
            dry_run: Some(read_only),
            ..KmsRequestParameters::default()
        })
        .with_additional_event_data(KmsAdditionalEventData {
            key_material_id: Some(name.clone()),
            ..KmsAdditionalEventData::default()
        })
        .with_resource(Resource::kms_key("111122223333", text.clone()));
        if granted {
            event = event.with_response_elements(KmsResponseElements {
                grant_id: Some(name),
                key_id: Some(text),
                ..KmsResponseElements::default()
            });
        }
        if let Some((code, message)) = error {
            event = event.with_error(code, message);
        }
        let bytes = event.encode().unwrap();
        let read = CloudTrailEvent::decode(&bytes).unwrap();
        prop_assert_eq!(&read, &event);
        prop_assert_eq!(read.encode().unwrap(), bytes);
    }
}
