//! A tamper table: each way of changing a stored trail, and exactly where
//! `verify_trail` says the trail first goes wrong.
//!
//! The trail has 10 records and a digest after every 4, so digests vouch for
//! sequences 4 and 8, and records 9 and 10 are linked but not yet signed.

use keyward_audit::{
    pruning_checkpoint, verify_trail, ChainFault, ChainFaultKind, ChainHead, ChainRecord, Digest,
    DigestFault, DigestFaultKind, TrailFailure, TrailReport,
};

use crate::support::{
    event_time, other_signing_key, rehash, relink_from, sign_next, trail, trusted_keys, Trail,
};

fn verify(records: &[ChainRecord], digests: &[Digest]) -> TrailReport {
    verify_trail(records, digests, &trusted_keys(), ChainHead::GENESIS)
}

fn record_fault(position: u64, sequence: u64, kind: ChainFaultKind) -> Option<TrailFailure> {
    Some(TrailFailure::Record(ChainFault {
        position,
        sequence,
        kind,
    }))
}

fn digest_fault(digest_index: usize, kind: DigestFaultKind) -> Option<TrailFailure> {
    Some(TrailFailure::Digest(DigestFault { digest_index, kind }))
}

struct Case {
    name: &'static str,
    tamper: fn(&mut Trail),
    expected: Option<TrailFailure>,
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "untouched",
            tamper: |_| {},
            expected: None,
        },
        Case {
            name: "one byte of an event changed",
            tamper: |trail| trail.records[5].event[40] ^= 0x01,
            expected: record_fault(5, 6, ChainFaultKind::Modified),
        },
        Case {
            name: "previous hash changed",
            tamper: |trail| trail.records[2].previous_hash.0[0] ^= 0x80,
            expected: record_fault(2, 3, ChainFaultKind::Modified),
        },
        Case {
            name: "stored hash of the unsigned last record changed",
            tamper: |trail| trail.records[9].hash.0[31] ^= 0x01,
            expected: record_fault(9, 10, ChainFaultKind::Modified),
        },
        Case {
            name: "sequence number changed",
            tamper: |trail| trail.records[4].sequence = 50,
            expected: record_fault(4, 5, ChainFaultKind::Missing { found: 50 }),
        },
        Case {
            name: "record deleted",
            tamper: |trail| {
                trail.records.remove(3);
            },
            expected: record_fault(3, 4, ChainFaultKind::Missing { found: 5 }),
        },
        Case {
            name: "two records swapped",
            tamper: |trail| trail.records.swap(6, 7),
            expected: record_fault(6, 7, ChainFaultKind::Reordered { found: 8 }),
        },
        Case {
            name: "an old record replayed",
            tamper: |trail| {
                let copy = trail.records[1].clone();
                trail.records.insert(4, copy);
            },
            expected: record_fault(4, 5, ChainFaultKind::Inserted { found: 2 }),
        },
        Case {
            // The forged record links correctly to record 4, so the break
            // shows where the genuine record 5 no longer fits.
            name: "a forged record inserted with the next sequence number",
            tamper: |trail| {
                let mut forged = trail.records[4].clone();
                forged.event = b"{\"forged\":true}".to_vec();
                rehash(&mut forged);
                trail.records.insert(4, forged);
            },
            expected: record_fault(5, 6, ChainFaultKind::Inserted { found: 5 }),
        },
        Case {
            name: "an event rewritten with its own hash recomputed",
            tamper: |trail| {
                trail.records[8].event[40] ^= 0x01;
                rehash(&mut trail.records[8]);
            },
            expected: record_fault(9, 10, ChainFaultKind::BrokenLink),
        },
        Case {
            // Every hash after the change recomputed: only the digest that
            // signed sequence 4 can tell, so the whole range it covers is suspect.
            name: "a signed event rewritten and the chain relinked",
            tamper: |trail| {
                trail.records[2].event[40] ^= 0x01;
                relink_from(&mut trail.records, 2);
            },
            expected: record_fault(
                0,
                1,
                ChainFaultKind::AnchorMismatch {
                    anchored_sequence: 4,
                    source_index: 0,
                },
            ),
        },
        Case {
            name: "a record of the second digest's range rewritten and relinked",
            tamper: |trail| {
                trail.records[6].event[40] ^= 0x01;
                relink_from(&mut trail.records, 6);
            },
            expected: record_fault(
                4,
                5,
                ChainFaultKind::AnchorMismatch {
                    anchored_sequence: 8,
                    source_index: 1,
                },
            ),
        },
        Case {
            name: "signed tail cut off",
            tamper: |trail| trail.records.truncate(6),
            expected: record_fault(
                6,
                7,
                ChainFaultKind::Truncated {
                    anchored_sequence: 8,
                },
            ),
        },
        Case {
            name: "every record deleted",
            tamper: |trail| trail.records.clear(),
            expected: record_fault(
                0,
                1,
                ChainFaultKind::Truncated {
                    anchored_sequence: 4,
                },
            ),
        },
        Case {
            name: "a digest re-signed by another key",
            tamper: |trail| {
                let previous = trail.digests[0].clone();
                trail.digests[1] = sign_next(
                    &other_signing_key(),
                    Some(&previous),
                    trail.digests[1].last(),
                    trail.digests[1].end_time(),
                );
            },
            expected: digest_fault(
                1,
                DigestFaultKind::UntrustedKey {
                    fingerprint: other_signing_key().public_key().fingerprint(),
                },
            ),
        },
        Case {
            name: "a digest's signed head changed",
            tamper: |trail| {
                let mut bytes = trail.digests[1].encode();
                bytes[24 + 16 + 8 + 8] ^= 0x01; // first byte of last.hash
                trail.digests[1] = Digest::decode(&bytes).unwrap();
            },
            expected: digest_fault(1, DigestFaultKind::BadSignature),
        },
        Case {
            name: "the first digest deleted",
            tamper: |trail| {
                trail.digests.remove(0);
            },
            expected: digest_fault(0, DigestFaultKind::NotAGenesisDigest),
        },
        Case {
            name: "digests swapped",
            tamper: |trail| trail.digests.swap(0, 1),
            expected: digest_fault(0, DigestFaultKind::NotAGenesisDigest),
        },
    ]
}

#[test]
fn each_kind_of_tampering_is_reported_at_its_first_bad_position() {
    for case in cases() {
        let mut trail = trail(10, 4);
        (case.tamper)(&mut trail);
        let report = verify(&trail.records, &trail.digests);
        assert_eq!(report.failure, case.expected, "{}: {report}", case.name);
    }
}

#[test]
fn an_untouched_trail_reports_what_is_signed() {
    let trail = trail(10, 4);
    let report = verify(&trail.records, &trail.digests);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.records_read, 10);
    assert_eq!(report.digests_verified, 2);
    assert_eq!(report.signed_through, 8);
    assert_eq!(report.unsigned_records, 2);
    assert_eq!(report.last, trail.records[9].head());
}

#[test]
fn what_the_unsigned_tail_cannot_show() {
    // Records after the newest digest are only linked: dropping the last one,
    // or rewriting it with a fresh hash, leaves a consistent trail. The next
    // digest (the server signs one at shutdown) closes this window.
    let mut trail = trail(10, 4);
    trail.records.pop();
    trail.records[8].event[40] ^= 0x01;
    rehash(&mut trail.records[8]);
    let report = verify(&trail.records, &trail.digests);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.unsigned_records, 1);
}

#[test]
fn a_pruned_trail_verifies_from_its_checkpoint() {
    let trail = trail(10, 4);
    // Retention cut-off just after the first digest's period.
    let checkpoint = pruning_checkpoint(&trail.digests, event_time(5));
    assert_eq!(checkpoint, trail.records[3].head());
    let kept = &trail.records[4..];
    let report = verify_trail(kept, &trail.digests, &trusted_keys(), checkpoint);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.start, checkpoint);
    assert_eq!(report.records_read, 6);
    assert_eq!(report.signed_through, 8);

    // Nothing to prune before the first digest ends.
    assert_eq!(
        pruning_checkpoint(&trail.digests, event_time(3)),
        ChainHead::GENESIS
    );
}

#[test]
fn tampering_after_pruning_is_reported_relative_to_the_kept_records() {
    let trail = trail(10, 4);
    let checkpoint = trail.digests[0].last();
    let mut kept = trail.records[4..].to_vec();
    kept[2].event[40] ^= 0x01; // sequence 7
    let report = verify_trail(&kept, &trail.digests, &trusted_keys(), checkpoint);
    assert_eq!(report.failure, record_fault(2, 7, ChainFaultKind::Modified));
}

#[test]
fn a_pruned_trail_without_its_checkpoint_fails() {
    let trail = trail(10, 4);
    let kept = &trail.records[4..];
    let report = verify(kept, &trail.digests);
    assert_eq!(
        report.failure,
        record_fault(0, 1, ChainFaultKind::Missing { found: 5 })
    );
}

#[test]
fn a_checkpoint_no_digest_signed_is_refused() {
    // Deleting records 1-5 and claiming a checkpoint at 5 would hide them.
    let trail = trail(10, 4);
    let invented = trail.records[4].head();
    let report = verify_trail(
        &trail.records[5..],
        &trail.digests,
        &trusted_keys(),
        invented,
    );
    assert_eq!(
        report.failure,
        Some(TrailFailure::UnanchoredCheckpoint {
            checkpoint: invented
        })
    );
}

#[test]
fn a_checkpoint_with_a_wrong_hash_is_refused() {
    let trail = trail(10, 4);
    let mut checkpoint = trail.digests[0].last();
    checkpoint.hash.0[0] ^= 0x01;
    let report = verify_trail(
        &trail.records[4..],
        &trail.digests,
        &trusted_keys(),
        checkpoint,
    );
    assert_eq!(
        report.failure,
        Some(TrailFailure::UnanchoredCheckpoint { checkpoint })
    );
}

#[test]
fn the_report_reads_as_a_sentence() {
    let mut trail = trail(10, 4);
    trail.records.remove(3);
    let report = verify(&trail.records, &trail.digests);
    assert_eq!(report.first_bad_record(), Some((3, 4)));
    assert_eq!(
        report.to_string(),
        "trail verification failed: audit trail fault at position 3 (sequence 4): the record is missing (found sequence 5 instead)"
    );
}
