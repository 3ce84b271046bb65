//! The trail against real files: group commit, digests, tampering, crashes,
//! pruning, lookups, the move from `trail.sqlite`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use keyward_audit::{
    ApiCall, ChainFaultKind, ChainRecord, CloudTrailEvent, KmsRequestParameters, Resource,
    TrailFailure, UserIdentity,
};
use time::OffsetDateTime;

use super::*;
use crate::segment::{encode_frame, segment_header, FrameSummary, SEGMENT_HEADER_BYTES};

const ACCOUNT: &str = "111122223333";
/// Small segments, so that tests write little and cross segment boundaries.
const SEGMENT_BYTES: u64 = 64 * 1024;

fn event(n: u64, at: i64) -> CloudTrailEvent {
    let key_arn = format!("arn:aws:kms:us-east-1:{ACCOUNT}:key/k{}", n % 3);
    CloudTrailEvent::api_call(ApiCall {
        user_identity: UserIdentity::root(ACCOUNT, format!("arn:aws:iam::{ACCOUNT}:root"))
            .with_access_key_id("AKIAEXAMPLE"),
        event_time: OffsetDateTime::from_unix_timestamp(at).unwrap(),
        event_source: "kms.amazonaws.com".into(),
        event_name: if n.is_multiple_of(2) {
            "Encrypt"
        } else {
            "CreateKey"
        }
        .into(),
        aws_region: "us-east-1".into(),
        source_ip_address: "127.0.0.1".into(),
        user_agent: "test".into(),
        request_id: format!("req-{n}"),
        event_id: format!("event-{n}"),
        read_only: n.is_multiple_of(2),
        recipient_account_id: ACCOUNT.into(),
    })
    .with_request_parameters(KmsRequestParameters {
        key_id: Some(key_arn.clone()),
        ..KmsRequestParameters::default()
    })
    .with_resource(Resource::kms_key(ACCOUNT, key_arn))
}

struct Fixture {
    dir: tempfile::TempDir,
    clock: Arc<AtomicI64>,
    segment_bytes: u64,
    write_mode: WriteMode,
}

impl Fixture {
    fn new() -> Self {
        Fixture {
            dir: tempfile::tempdir().unwrap(),
            clock: Arc::new(AtomicI64::new(1_800_000_000)),
            segment_bytes: SEGMENT_BYTES,
            write_mode: WriteMode::Direct,
        }
    }

    fn config(&self) -> TrailConfig {
        let clock = Arc::clone(&self.clock);
        TrailConfig {
            digest_interval: Duration::from_secs(3600),
            retention: None,
            now: Arc::new(move || {
                OffsetDateTime::from_unix_timestamp(clock.load(Ordering::SeqCst)).unwrap()
            }),
            commit_interval: DEFAULT_COMMIT_INTERVAL,
            segment_bytes: self.segment_bytes,
            write_mode: self.write_mode,
        }
    }

    fn open(&self) -> Trail {
        Trail::open(self.dir.path(), self.config()).unwrap()
    }

    fn now(&self) -> i64 {
        self.clock.load(Ordering::SeqCst)
    }

    fn tick(&self, seconds: i64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }

    fn append(&self, trail: &Trail, from: u64, count: u64) {
        for n in from..from + count {
            trail
                .append_blocking(vec![Entry::new(&event(n, self.now())).unwrap()])
                .unwrap();
        }
    }

    fn trail_dir(&self) -> PathBuf {
        self.dir.path().join(TRAIL_DIR)
    }

    fn segments(&self) -> Vec<PathBuf> {
        layout::list_segments(&self.trail_dir())
            .unwrap()
            .into_iter()
            .map(|(_, path)| path)
            .collect()
    }

    fn verify(&self) -> keyward_audit::TrailReport {
        verify_data_dir(self.dir.path(), None).unwrap()
    }
}

fn record_fault(report: &keyward_audit::TrailReport) -> (u64, ChainFaultKind) {
    match &report.failure {
        Some(TrailFailure::Record(fault)) => (fault.position, fault.kind.clone()),
        other => panic!("expected a record fault, got {other:?}"),
    }
}

#[test]
fn an_untouched_trail_verifies_across_restarts() {
    for mode in [WriteMode::Direct, WriteMode::Buffered] {
        let mut fixture = Fixture::new();
        fixture.write_mode = mode;
        let trail = fixture.open();
        fixture.append(&trail, 1, 5);
        trail.shutdown().unwrap();
        let report = fixture.verify();
        assert!(report.is_ok(), "{report}");
        assert_eq!((report.records_read, report.signed_through), (5, 5));

        fixture.tick(10);
        let trail = fixture.open();
        fixture.append(&trail, 6, 3);
        drop(trail); // Drop also signs a final digest.
        let report = fixture.verify();
        assert!(report.is_ok(), "{report}");
        assert_eq!(
            (
                report.records_read,
                report.signed_through,
                report.digests_verified
            ),
            (8, 8, 2),
            "{mode:?}"
        );
    }
}

#[test]
fn concurrent_appends_are_group_committed_into_one_chain() {
    let fixture = Fixture::new();
    let trail = Arc::new(fixture.open());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let trail = Arc::clone(&trail);
            let now = fixture.now();
            std::thread::spawn(move || {
                for i in 0..50 {
                    trail
                        .append_blocking(vec![Entry::new(&event(t * 100 + i, now)).unwrap()])
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    trail.shutdown().unwrap();
    let report = fixture.verify();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.records_read, 400);
    // 400 events of ~700 bytes do not fit in one 64 KiB segment.
    assert!(fixture.segments().len() > 1);
}

#[test]
fn a_requests_events_are_written_together_and_a_refused_append_leaves_no_trace() {
    let fixture = Fixture::new();
    let trail = fixture.open();
    let two = vec![
        Entry::new(&event(1, fixture.now())).unwrap(),
        Entry::new(&event(2, fixture.now())).unwrap(),
    ];
    trail.append_blocking(two).unwrap();
    trail.shutdown().unwrap();
    assert!(trail
        .append_blocking(vec![Entry::new(&event(3, fixture.now())).unwrap()])
        .is_err());
    let report = fixture.verify();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.records_read, 2);
}

/// Every record in stored order, read directly from the files.
fn stored_records(fixture: &Fixture) -> Vec<ChainRecord> {
    let mut records = Vec::new();
    stored::StoredTrail::open(fixture.dir.path())
        .unwrap()
        .for_each_record(|record| {
            records.push(record);
            true
        })
        .unwrap();
    records
}

/// Writes `records` as the whole trail, in frames of `per_frame` records
/// with correct CRCs, as someone with write access to the files could.
fn write_records(fixture: &Fixture, per_frame: usize, records: &[ChainRecord]) {
    for path in fixture.segments() {
        std::fs::remove_file(path).unwrap();
    }
    let mut bytes = segment_header(1).to_vec();
    for chunk in records.chunks(per_frame) {
        let mut payload = Vec::new();
        for record in chunk {
            payload.extend(record.encode().unwrap());
        }
        let summary = FrameSummary {
            first_sequence: chunk[0].sequence,
            last_sequence: chunk[chunk.len() - 1].sequence,
            min_time: 0,
            max_time: i64::MAX,
            records: chunk.len() as u32,
        };
        encode_frame(&mut bytes, &summary, &payload).unwrap();
    }
    bytes.resize(fixture.segment_bytes as usize, 0);
    std::fs::write(fixture.trail_dir().join(layout::segment_name(1)), bytes).unwrap();
}

/// Edits the stored records, writes them back in frames of `per_frame`,
/// and verifies.
fn tampered_records(
    fixture: &Fixture,
    per_frame: usize,
    edit: impl FnOnce(&mut Vec<ChainRecord>),
) -> (u64, ChainFaultKind) {
    let mut records = stored_records(fixture);
    edit(&mut records);
    write_records(fixture, per_frame, &records);
    record_fault(&fixture.verify())
}

fn ten_events() -> Fixture {
    let fixture = Fixture::new();
    let trail = fixture.open();
    fixture.append(&trail, 1, 10);
    trail.shutdown().unwrap();
    assert!(fixture.verify().is_ok());
    fixture
}

/// Sequence `n`'s index among the records.
fn at(records: &[ChainRecord], sequence: u64) -> usize {
    records.iter().position(|r| r.sequence == sequence).unwrap()
}

/// The offset of the first frame's payload in segment 1.
const FIRST_PAYLOAD: usize = SEGMENT_HEADER_BYTES + crate::segment::FRAME_HEADER_BYTES;

#[test]
fn the_tamper_helper_alone_changes_nothing() {
    let fixture = ten_events();
    for per_frame in [1, 3, 10] {
        let records = stored_records(&fixture);
        write_records(&fixture, per_frame, &records);
        assert!(fixture.verify().is_ok(), "{per_frame}");
        assert_eq!(stored_records(&fixture), records);
    }
}

#[test]
fn a_modified_event_is_found_at_its_position() {
    for per_frame in [1, 3, 10] {
        let fixture = ten_events();
        let (position, kind) = tampered_records(&fixture, per_frame, |records| {
            let record = &mut records[3];
            let text = String::from_utf8(record.event.clone()).unwrap();
            record.event = text.replace("Encrypt", "Decrypt").into_bytes();
        });
        assert_eq!(
            (position, kind),
            (3, ChainFaultKind::Modified),
            "{per_frame}"
        );
    }
}

#[test]
fn a_modified_byte_inside_a_frame_is_found_at_its_record() {
    let fixture = ten_events();
    let records = stored_records(&fixture);
    write_records(&fixture, 7, &records);
    // Flip a byte of the seventh record's event (in the first frame, which
    // another follows), leaving the CRC wrong: the frame's records still
    // reach the verifier, which names the record.
    let offset = FIRST_PAYLOAD
        + records[..6]
            .iter()
            .map(|r| keyward_audit::RECORD_HEADER_BYTES + r.event.len())
            .sum::<usize>()
        + keyward_audit::RECORD_HEADER_BYTES
        + 5;
    let path = fixture.segments()[0].clone();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[offset] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(
        record_fault(&fixture.verify()),
        (6, ChainFaultKind::Modified)
    );
}

#[test]
fn bytes_that_are_no_record_are_found_at_their_position() {
    let fixture = ten_events();
    let records = stored_records(&fixture);
    write_records(&fixture, 10, &records);
    let path = fixture.segments()[0].clone();
    let clean = std::fs::read(&path).unwrap();
    // Junk after the last frame: no frame header.
    let end = FIRST_PAYLOAD
        + records
            .iter()
            .map(|r| r.encode().unwrap().len())
            .sum::<usize>();
    let mut bytes = clean.clone();
    bytes[end..end + 4].copy_from_slice(&[0, 0xff, 0, 0xff]);
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(record_fault(&fixture.verify()).0, 10);
    // A segment that is no segment at all.
    let mut bytes = clean;
    bytes[..11].copy_from_slice(b"not a block");
    std::fs::write(&path, &bytes).unwrap();
    assert_eq!(record_fault(&fixture.verify()).0, 0);
}

#[test]
fn a_deleted_event_is_found_at_its_position() {
    for per_frame in [1, 4] {
        let fixture = ten_events();
        let (position, kind) = tampered_records(&fixture, per_frame, |records| {
            records.remove(at(records, 6));
        });
        assert_eq!(position, 5);
        assert!(
            matches!(kind, ChainFaultKind::Missing { found: 7 }),
            "{kind:?}"
        );
    }
}

#[test]
fn reordered_events_are_found_at_the_first_moved_position() {
    for per_frame in [1, 3] {
        let fixture = ten_events();
        let (position, kind) = tampered_records(&fixture, per_frame, |records| {
            let (third, fourth) = (at(records, 3), at(records, 4));
            records.swap(third, fourth);
        });
        assert_eq!(position, 2);
        assert!(
            matches!(kind, ChainFaultKind::Reordered { found: 4 }),
            "{kind:?}"
        );
    }
}

#[test]
fn an_inserted_event_is_found_at_its_position() {
    let fixture = ten_events();
    // A copy of record 2 appended after the last one.
    let (position, kind) = tampered_records(&fixture, 4, |records| {
        let copy = records[at(records, 2)].clone();
        records.push(copy);
    });
    assert_eq!(position, 10);
    assert!(
        matches!(kind, ChainFaultKind::Inserted { found: 2 }),
        "{kind:?}"
    );
}

#[test]
fn a_rewritten_tail_is_caught_by_the_signed_digest() {
    let fixture = ten_events();
    // Delete the last record: the chain alone cannot tell, the digest can.
    let (position, kind) = tampered_records(&fixture, 4, |records| {
        records.pop();
    });
    assert_eq!(position, 9);
    assert!(
        matches!(
            kind,
            ChainFaultKind::Truncated {
                anchored_sequence: 10
            }
        ),
        "{kind:?}"
    );
}

#[test]
fn a_write_cut_short_by_a_crash_is_set_aside_then_cleared() {
    let fixture = Fixture::new();
    let trail = fixture.open();
    fixture.append(&trail, 1, 6);
    // No shutdown digest: as after a crash, the last records are unsigned.
    std::mem::forget(trail);
    let path = fixture.segments()[0].clone();
    let mut bytes = std::fs::read(&path).unwrap();
    let frames: Vec<_> = crate::segment::Frames::of_segment(&bytes)
        .map(|frame| match frame {
            crate::segment::FrameRead::Frame {
                offset, payload, ..
            } => (offset, payload.len()),
            other => panic!("{other:?}"),
        })
        .collect();
    // Zero the second half of the last frame: its write was cut short.
    let (offset, length) = *frames.last().unwrap();
    let payload_end = offset + crate::segment::FRAME_HEADER_BYTES + length;
    bytes[payload_end - length / 2..payload_end].fill(0);
    std::fs::write(&path, &bytes).unwrap();

    let verification = verify_data_dir_in_detail(fixture.dir.path(), None).unwrap();
    assert!(verification.report.is_ok(), "{}", verification.report);
    assert_eq!(verification.report.records_read, 5);
    let cut = verification.cut_short.unwrap();
    assert_eq!(cut.offset, offset as u64);

    // The server clears it and goes on after record 5.
    let trail = fixture.open();
    fixture.append(&trail, 7, 2);
    trail.shutdown().unwrap();
    let verification = verify_data_dir_in_detail(fixture.dir.path(), None).unwrap();
    assert!(verification.report.is_ok(), "{}", verification.report);
    assert_eq!(verification.cut_short, None);
    let sequences: Vec<u64> = stored_records(&fixture)
        .iter()
        .map(|r| r.sequence)
        .collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5, 6, 7]);
}

#[test]
fn a_damaged_last_segment_is_left_for_verify_and_writing_goes_on_after_it() {
    let fixture = ten_events();
    let records = stored_records(&fixture);
    write_records(&fixture, 3, &records);
    let path = fixture.segments()[0].clone();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[FIRST_PAYLOAD + 100] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let trail = fixture.open();
    fixture.append(&trail, 11, 1);
    trail.shutdown().unwrap();
    assert_eq!(fixture.segments().len(), 2);
    assert_eq!(std::fs::read(&path).unwrap(), bytes, "left as it was");
    assert_eq!(record_fault(&fixture.verify()).0, 0);
}

#[test]
fn segments_roll_over_and_lookups_read_across_them() {
    let mut fixture = Fixture::new();
    fixture.segment_bytes = 16 * 1024;
    let trail = fixture.open();
    fixture.append(&trail, 1, 60);
    let segments = fixture.segments().len();
    assert!(segments >= 3, "{segments} segments");
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
    let sequences: Vec<u64> = page.events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (11..=60).rev().collect::<Vec<_>>());
    assert_eq!(page.next_before, Some(11));
    trail.shutdown().unwrap();
    let report = fixture.verify();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.records_read, 60);
    // Reopened with the same size, the last segment is appended to.
    let trail = fixture.open();
    fixture.append(&trail, 61, 1);
    trail.shutdown().unwrap();
    assert!(fixture.verify().is_ok());
    assert!(fixture.segments().len() <= segments + 1);
}

/// A `trail.sqlite` as schema 2 of an earlier keyward wrote it.
fn write_legacy(
    fixture: &Fixture,
    records: &[ChainRecord],
    schema: i64,
    checkpoint: Option<ChainRecord>,
) {
    let connection = rusqlite::Connection::open(fixture.dir.path().join(LEGACY_FILE)).unwrap();
    connection
        .execute_batch(
            "CREATE TABLE blocks (position INTEGER PRIMARY KEY, first_sequence INTEGER NOT NULL,
                 last_sequence INTEGER NOT NULL, min_time INTEGER NOT NULL,
                 max_time INTEGER NOT NULL, records BLOB NOT NULL);
             CREATE TABLE events (position INTEGER PRIMARY KEY, sequence INTEGER NOT NULL,
                 previous_hash BLOB NOT NULL, hash BLOB NOT NULL, event BLOB NOT NULL,
                 event_time INTEGER NOT NULL);
             CREATE TABLE digests (position INTEGER PRIMARY KEY, digest BLOB NOT NULL);
             CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
             INSERT INTO meta VALUES ('created', 1700000000);",
        )
        .unwrap();
    connection
        .execute("INSERT INTO meta VALUES ('schema_version', ?1)", [schema])
        .unwrap();
    if let Some(head) = checkpoint {
        connection
            .execute(
                "INSERT INTO meta VALUES ('checkpoint_sequence', ?1), ('checkpoint_hash', ?2)",
                rusqlite::params![head.sequence as i64, head.hash.as_bytes().as_slice()],
            )
            .unwrap();
    }
    for digest in layout::read_digests(&fixture.trail_dir()).unwrap() {
        connection
            .execute(
                "INSERT INTO digests (digest) VALUES (?1)",
                [digest.encode()],
            )
            .unwrap();
    }
    for chunk in records.chunks(4) {
        let mut payload = Vec::new();
        for record in chunk {
            payload.extend(record.encode().unwrap());
            connection
                .execute(
                    "INSERT INTO events (sequence, previous_hash, hash, event, event_time)
                     VALUES (?1, ?2, ?3, ?4, 1800000000)",
                    rusqlite::params![
                        record.sequence as i64,
                        record.previous_hash.as_bytes().as_slice(),
                        record.hash.as_bytes().as_slice(),
                        record.event
                    ],
                )
                .unwrap();
        }
        connection
            .execute(
                "INSERT INTO blocks (first_sequence, last_sequence, min_time, max_time, records)
                 VALUES (?1, ?2, 0, 0, ?3)",
                rusqlite::params![
                    chunk[0].sequence as i64,
                    chunk[chunk.len() - 1].sequence as i64,
                    payload
                ],
            )
            .unwrap();
    }
}

#[test]
fn a_trail_of_an_earlier_version_is_moved_into_segments_unchanged() {
    for schema in [1, 2] {
        let fixture = ten_events();
        let mut records = stored_records(&fixture);
        // A tampered record stays tampered.
        records[7].event = b"{\"tampered\":true}".to_vec();
        write_legacy(&fixture, &records, schema, None);
        std::fs::remove_dir_all(fixture.trail_dir()).unwrap();
        let refused = verify_data_dir(fixture.dir.path(), None).unwrap_err();
        assert!(refused.to_string().contains("upgrade"), "{refused}");

        let trail = fixture.open();
        fixture.append(&trail, 11, 2);
        trail.shutdown().unwrap();
        assert!(!fixture.dir.path().join(LEGACY_FILE).exists());
        assert_eq!(
            stored_records(&fixture)[..10],
            records[..],
            "schema {schema}"
        );
        assert_eq!(
            record_fault(&fixture.verify()),
            (7, ChainFaultKind::Modified)
        );
        let state = layout::State::read(&fixture.trail_dir()).unwrap();
        assert_eq!(state.created, 1_700_000_000);
    }
}

#[test]
fn pruning_keeps_the_rest_verifiable_and_refuses_invented_checkpoints() {
    let fixture = Fixture::new();
    let trail = fixture.open();
    fixture.append(&trail, 1, 4);
    fixture.tick(100);
    trail.sign_digest().unwrap();
    fixture.tick(100);
    fixture.append(&trail, 5, 4);
    let cutoff = OffsetDateTime::from_unix_timestamp(fixture.now() - 50).unwrap();
    assert_eq!(trail.prune(cutoff).unwrap(), 4);
    assert_eq!(trail.prune(cutoff).unwrap(), 0);
    fixture.append(&trail, 9, 2);
    trail.shutdown().unwrap();
    let report = fixture.verify();
    assert!(report.is_ok(), "{report}");
    assert_eq!((report.start.sequence, report.records_read), (4, 6));
    let lookup = fixture.open().lookup(&LookupQuery {
        account_id: ACCOUNT.into(),
        attribute: None,
        start_time: None,
        end_time: None,
        max_results: 50,
        before_sequence: None,
    });
    assert_eq!(
        lookup.unwrap().events.len(),
        6,
        "pruned events are not found"
    );

    // A checkpoint no digest vouches for is refused.
    let state_path = fixture.trail_dir().join("state");
    let text = std::fs::read_to_string(&state_path).unwrap();
    std::fs::write(
        &state_path,
        text.replace("\"checkpoint_sequence\": 4", "\"checkpoint_sequence\": 5"),
    )
    .unwrap();
    assert!(matches!(
        fixture.verify().failure,
        Some(TrailFailure::UnanchoredCheckpoint { .. })
    ));
}

/// A trail opened again with another segment size (the setting changed)
/// goes on in a new segment of the new size, with a spare of that size, and
/// reads and verifies across both sizes.
#[test]
fn the_segment_size_can_change_between_opens() {
    let mut fixture = Fixture::new();
    let size = |path: &std::path::Path| std::fs::metadata(path).unwrap().len();
    let spare = fixture.trail_dir().join(crate::layout::SPARE_FILE);
    for (bytes, first) in [(32 * 1024, 1), (16 * 1024, 11), (48 * 1024, 21)] {
        fixture.segment_bytes = bytes;
        let trail = fixture.open();
        fixture.append(&trail, first, 10);
        trail.shutdown().unwrap();
        let last = fixture.segments().pop().unwrap();
        assert_eq!(size(&last), bytes, "the active segment");
        assert_eq!(size(&spare), bytes, "the spare");
    }
    let report = fixture.verify();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.records_read, 30);
    let trail = fixture.open();
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
    assert_eq!(page.events.len(), 30);
    trail.shutdown().unwrap();
}

#[test]
fn pruning_deletes_the_segments_it_empties() {
    let mut fixture = Fixture::new();
    fixture.segment_bytes = 16 * 1024;
    let trail = fixture.open();
    fixture.append(&trail, 1, 60);
    fixture.tick(100);
    trail.sign_digest().unwrap();
    fixture.tick(100);
    fixture.append(&trail, 61, 5);
    let before = fixture.segments();
    let cutoff = OffsetDateTime::from_unix_timestamp(fixture.now() - 50).unwrap();
    assert_eq!(trail.prune(cutoff).unwrap(), 60);
    trail.shutdown().unwrap();
    let after = fixture.segments();
    assert!(
        after.len() < before.len(),
        "{} → {}",
        before.len(),
        after.len()
    );
    assert!(!after.contains(&before[0]));
    let report = fixture.verify();
    assert!(report.is_ok(), "{report}");
    assert_eq!((report.start.sequence, report.records_read), (60, 5));
    // Offline pruning of a stopped server's trail works the same way.
    fixture.tick(100);
    let cutoff = OffsetDateTime::from_unix_timestamp(fixture.now()).unwrap();
    assert_eq!(prune_data_dir(fixture.dir.path(), cutoff).unwrap(), 5);
    let report = fixture.verify();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.records_read, 0);
}

#[test]
fn lookups_filter_by_each_attribute_newest_first_and_page() {
    let fixture = Fixture::new();
    let trail = fixture.open();
    fixture.append(&trail, 1, 10);
    let query = |attribute| LookupQuery {
        account_id: ACCOUNT.into(),
        attribute,
        start_time: None,
        end_time: None,
        max_results: 50,
        before_sequence: None,
    };
    let all = trail.lookup(&query(None)).unwrap();
    let sequences: Vec<u64> = all.events.iter().map(|e| e.sequence).collect();
    assert_eq!(sequences, (1..=10).rev().collect::<Vec<_>>());
    let count = |attribute| trail.lookup(&query(Some(attribute))).unwrap().events.len();
    assert_eq!(count(LookupAttribute::EventName("Encrypt".into())), 5);
    assert_eq!(count(LookupAttribute::ReadOnly(false)), 5);
    assert_eq!(count(LookupAttribute::EventId("event-3".into())), 1);
    assert_eq!(count(LookupAttribute::Username("root".into())), 10);
    assert_eq!(
        count(LookupAttribute::AccessKeyId("AKIAEXAMPLE".into())),
        10
    );
    assert_eq!(
        count(LookupAttribute::EventSource("kms.amazonaws.com".into())),
        10
    );
    assert_eq!(
        count(LookupAttribute::ResourceType("AWS::KMS::Key".into())),
        10
    );
    assert_eq!(
        count(LookupAttribute::ResourceName(format!(
            "arn:aws:kms:us-east-1:{ACCOUNT}:key/k1"
        ))),
        4
    );
    let mut other = query(None);
    other.account_id = "999999999999".into();
    assert!(trail.lookup(&other).unwrap().events.is_empty());
    let mut later = query(None);
    later.start_time = Some(fixture.now() + 1);
    assert!(trail.lookup(&later).unwrap().events.is_empty());

    let mut paged = query(None);
    paged.max_results = 4;
    let mut seen = Vec::new();
    loop {
        let page = trail.lookup(&paged).unwrap();
        seen.extend(page.events.iter().map(|e| e.sequence));
        match page.next_before {
            Some(before) => paged.before_sequence = Some(before),
            None => break,
        }
    }
    assert_eq!(seen, sequences);
}

#[test]
fn export_writes_gzipped_log_and_digest_files() {
    let fixture = Fixture::new();
    let trail = fixture.open();
    fixture.append(&trail, 1, 4);
    fixture.tick(100);
    trail.sign_digest().unwrap();
    fixture.append(&trail, 5, 6);
    trail.shutdown().unwrap();
    let out = tempfile::tempdir().unwrap();
    let summary = export_data_dir(fixture.dir.path(), out.path(), None)
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            summary.log_files,
            summary.digest_files,
            summary.records,
            summary.unsigned_records
        ),
        (2, 2, 10, 0)
    );
    assert!(summary.public_key_file.exists());
}

/// Group-commit throughput with 64 concurrent appenders (run with
/// `cargo test -p keyward-trail --release group_commit_throughput -- --ignored --nocapture`).
#[test]
#[ignore = "a measurement, not a check"]
fn group_commit_throughput() {
    let mut fixture = Fixture::new();
    fixture.segment_bytes = DEFAULT_SEGMENT_BYTES;
    let trail = Arc::new(fixture.open());
    let started = std::time::Instant::now();
    let per_thread = 1000;
    let threads: Vec<_> = (0..64)
        .map(|t| {
            let trail = Arc::clone(&trail);
            let now = fixture.now();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    trail
                        .append_blocking(vec![Entry::new(&event(t * 100_000 + i, now)).unwrap()])
                        .unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    let elapsed = started.elapsed();
    println!(
        "{} events in {:?}: {:.0}/s",
        64 * per_thread,
        elapsed,
        (64 * per_thread) as f64 / elapsed.as_secs_f64()
    );
}

#[test]
fn a_failed_write_is_refused_and_the_chain_goes_on_from_what_is_on_disk() {
    let mut fixture = Fixture::new();
    fixture.segment_bytes = 16 * 1024;
    let trail = fixture.open();
    fixture.append(&trail, 1, 2);
    // An event bigger than a segment cannot be written anywhere.
    let mut huge = event(3, fixture.now());
    huge.user_agent = keyward_audit::Member::Present("x".repeat(20 * 1024));
    let refused = trail.append_blocking(vec![Entry::new(&huge).unwrap()]);
    assert!(
        matches!(refused, Err(TrailError::WriteFailed(_))),
        "{refused:?}"
    );
    fixture.append(&trail, 4, 2);
    trail.shutdown().unwrap();
    let report = fixture.verify();
    assert!(report.is_ok(), "{report}");
    let sequences: Vec<u64> = stored_records(&fixture)
        .iter()
        .map(|r| r.sequence)
        .collect();
    assert_eq!(sequences, [1, 2, 3, 4]);
}

#[test]
fn under_load_a_batch_waits_for_calls_in_progress_and_no_longer() {
    let fixture = Fixture::new();
    let mut config = fixture.config();
    config.commit_interval = Duration::from_secs(30);
    let trail = Arc::new(Trail::open(fixture.dir.path(), config).unwrap());
    // A write of two events: the writer now paces.
    let two = vec![
        Entry::new(&event(1, fixture.now())).unwrap(),
        Entry::new(&event(2, fixture.now())).unwrap(),
    ];
    trail.append_blocking(two).unwrap();
    let in_progress = trail.begin_call();
    let (done, finished) = std::sync::mpsc::channel();
    let appender = {
        let trail = Arc::clone(&trail);
        let now = fixture.now();
        std::thread::spawn(move || {
            trail
                .append_blocking(vec![Entry::new(&event(3, now)).unwrap()])
                .unwrap();
            done.send(()).unwrap();
        })
    };
    // Held back while another call may still join...
    assert!(finished.recv_timeout(Duration::from_millis(300)).is_err());
    // ...and written as soon as that call ends without events.
    drop(in_progress);
    finished.recv_timeout(Duration::from_secs(5)).unwrap();
    appender.join().unwrap();
    // A call that appends ends itself.
    let call = trail.begin_call();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime
        .block_on(call.append(vec![Entry::new(&event(4, fixture.now())).unwrap()]))
        .unwrap();
    trail.shutdown().unwrap();
    assert_eq!(fixture.verify().records_read, 4);
}
