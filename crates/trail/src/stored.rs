//! Reading a stored trail: its state, digests and records, in stored order.
//!
//! **Stored order** is segment number, then frame order within a segment,
//! then record order within a frame — not sequence number. Verification reads
//! records in that order and checks their sequence numbers, so a record moved,
//! deleted or inserted directly in a file is found and named by its place
//! among all records.
//!
//! **What is handed on, and what is set aside.** Every byte that was written
//! reaches the verifier, tampered or not: the records of a frame whose CRC
//! fails are decoded anyway (the chain names the changed record), and bytes
//! that are no frame or no record come as one record no chain has. One thing
//! is set aside: a damaged frame at the very end of the last segment, followed
//! only by zeros — the write a crash cut short, which was never acknowledged
//! (the server clears it when it next starts). The same place is where anyone
//! could cut records off the end; the signed digests, not the chain, catch
//! that ([`keyward_audit::ChainFaultKind::Truncated`]).
//!
//! **Pruned records.** Pruning deletes whole segments; records at or before
//! the checkpoint that share a segment with later ones stay in the file until
//! that segment goes. Readers skip them: records are handed on from the first
//! one after the checkpoint.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use keyward_audit::{ChainHead, ChainRecord, Digest, Sha256Hash};

use crate::error::TrailError;
use crate::layout::{self, State};
use crate::segment::{
    segment_start, FrameRead, FrameSummary, Frames, SegmentStart, FRAME_HEADER_BYTES,
};

/// A trail directory opened for reading.
pub struct StoredTrail {
    pub dir: PathBuf,
    pub state: State,
    pub digests: Vec<Digest>,
    /// `(number, path)`, in order.
    pub segments: Vec<(u64, PathBuf)>,
}

/// A write that a crash cut short, set aside at the end of the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CutShortWrite {
    pub segment: PathBuf,
    pub offset: u64,
    pub bytes: u64,
}

impl StoredTrail {
    /// Opens the trail of `data_dir` for reading (no lock is taken: a running
    /// server only appends, and readers stop where the written bytes end).
    pub fn open(data_dir: &Path) -> Result<Self, TrailError> {
        let dir = layout::trail_dir(data_dir);
        if !layout::exists(data_dir) {
            if data_dir.join(layout::LEGACY_FILE).exists() {
                return Err(TrailError::Malformed(format!(
                    "{} holds a trail in the format of an earlier keyward (trail.sqlite); start `keyward serve` on it once to upgrade it",
                    data_dir.display()
                )));
            }
            return Err(TrailError::NoTrail(data_dir.to_path_buf()));
        }
        let state = State::read(&dir)?;
        let digests = layout::read_digests(&dir)?;
        let segments = layout::list_segments(&dir)?;
        Ok(StoredTrail {
            dir,
            state,
            digests,
            segments,
        })
    }

    /// Calls `each` with every record after the checkpoint, in stored order,
    /// until it returns false. Returns the write set aside at the end, if any.
    pub fn for_each_record(
        &self,
        each: impl FnMut(ChainRecord) -> bool,
    ) -> Result<Option<CutShortWrite>, TrailError> {
        let mut records = AfterCheckpoint::new(self.state.checkpoint, each);
        let last = self.segments.len().checked_sub(1);
        for (index, (_, path)) in self.segments.iter().enumerate() {
            let bytes = fs::read(path).map_err(TrailError::io("read", path))?;
            let outcome =
                for_each_in_segment(&bytes, Some(index) == last, |record| records.push(record));
            match outcome {
                SegmentOutcome::Stopped => return Ok(None),
                SegmentOutcome::Read {
                    cut_short: Some((offset, length)),
                } => {
                    return Ok(Some(CutShortWrite {
                        segment: path.clone(),
                        offset: offset as u64,
                        bytes: length as u64,
                    }))
                }
                SegmentOutcome::Read { cut_short: None } => {}
            }
        }
        Ok(None)
    }
}

/// Hands on records from the first one after the checkpoint.
struct AfterCheckpoint<F> {
    checkpoint: u64,
    skipping: bool,
    each: F,
}

impl<F: FnMut(ChainRecord) -> bool> AfterCheckpoint<F> {
    fn new(checkpoint: ChainHead, each: F) -> Self {
        AfterCheckpoint {
            checkpoint: checkpoint.sequence,
            skipping: checkpoint.sequence > 0,
            each,
        }
    }

    fn push(&mut self, record: ChainRecord) -> bool {
        if self.skipping && record.sequence <= self.checkpoint {
            return true;
        }
        self.skipping = false;
        (self.each)(record)
    }
}

pub(crate) enum SegmentOutcome {
    /// `each` asked to stop.
    Stopped,
    /// The whole segment was read; `cut_short` is the `(offset, length)` of a
    /// write set aside at its end.
    Read { cut_short: Option<(usize, usize)> },
}

/// Calls `each` with the records of one segment's bytes in stored order;
/// `last` says whether this is the trail's last segment (the only place a
/// cut-short write is set aside).
pub(crate) fn for_each_in_segment(
    bytes: &[u8],
    last: bool,
    mut each: impl FnMut(ChainRecord) -> bool,
) -> SegmentOutcome {
    match segment_start(bytes) {
        SegmentStart::Unwritten => return SegmentOutcome::Read { cut_short: None },
        SegmentStart::Unreadable => {
            return if each(no_record(bytes)) {
                SegmentOutcome::Read { cut_short: None }
            } else {
                SegmentOutcome::Stopped
            };
        }
        SegmentStart::Segment { .. } => {}
    }
    for frame in Frames::of_segment(bytes) {
        let carried_on = match frame {
            FrameRead::Frame { payload, .. } => for_each_in_payload(payload, &mut each),
            FrameRead::Damaged {
                offset,
                payload,
                zeros_after: true,
            } if last => {
                return SegmentOutcome::Read {
                    cut_short: Some((offset, FRAME_HEADER_BYTES + payload.len())),
                };
            }
            FrameRead::Damaged { payload, .. } => for_each_in_payload(payload, &mut each),
            FrameRead::Garbage { bytes, .. } => each(no_record(bytes)),
        };
        if !carried_on {
            return SegmentOutcome::Stopped;
        }
    }
    SegmentOutcome::Read { cut_short: None }
}

/// Calls `each` with the records of a frame's payload, in order, until it
/// returns false; returns whether it always returned true. Bytes that do not
/// decode come as one record no chain has (see [`no_record`]).
pub(crate) fn for_each_in_payload(bytes: &[u8], mut each: impl FnMut(ChainRecord) -> bool) -> bool {
    let mut offset = 0;
    while offset < bytes.len() {
        match ChainRecord::decode(&bytes[offset..]) {
            Ok((record, used)) => {
                offset += used;
                if !each(record) {
                    return false;
                }
            }
            Err(_) => return each(no_record(&bytes[offset..])),
        }
    }
    true
}

/// Bytes that are no record, as a record no chain has — sequence `u64::MAX`,
/// zero hashes, the bytes as its event — so that verification names their
/// position instead of failing to read them.
fn no_record(bytes: &[u8]) -> ChainRecord {
    ChainRecord {
        sequence: u64::MAX,
        previous_hash: Sha256Hash::ZERO,
        hash: Sha256Hash::ZERO,
        event: bytes.to_vec(),
    }
}

/// The valid frames of a segment's bytes, in order (for lookups, which skip
/// whatever does not read).
pub(crate) fn valid_frames(bytes: &[u8]) -> Vec<(FrameSummary, &[u8])> {
    if !matches!(segment_start(bytes), SegmentStart::Segment { .. }) {
        return Vec::new();
    }
    Frames::of_segment(bytes)
        .filter_map(|frame| match frame {
            FrameRead::Frame {
                summary, payload, ..
            } => Some((summary, payload)),
            _ => None,
        })
        .collect()
}

/// Reads a segment file up to the end of its written frames, without reading
/// the zeros after them (a segment is mostly zeros until it fills up).
pub(crate) fn read_written(path: &Path) -> Result<Vec<u8>, TrailError> {
    const CHUNK: usize = 256 * 1024;
    let mut file = fs::File::open(path).map_err(TrailError::io("open", path))?;
    let mut bytes = Vec::new();
    let mut walked = crate::segment::SEGMENT_HEADER_BYTES;
    loop {
        let before = bytes.len();
        (&mut file)
            .take(CHUNK as u64)
            .read_to_end(&mut bytes)
            .map_err(TrailError::io("read", path))?;
        let at_end = bytes.len() - before < CHUNK;
        // Walk whole frames in what was read; stop at zeros or garbage.
        while let Some(header) = bytes.get(walked..walked + FRAME_HEADER_BYTES) {
            if header[..4] != crate::segment::FRAME_MAGIC.to_be_bytes() {
                // Zeros (the end of what was written) or no frame at all.
                bytes.truncate(walked);
                return Ok(bytes);
            }
            let length = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
            let end = walked + FRAME_HEADER_BYTES + length;
            if end > bytes.len() {
                break;
            }
            walked = end;
        }
        if at_end {
            return Ok(bytes);
        }
    }
}

/// The head to append after, from the end of the stored records: the last
/// record that reads in the last segment that has one, else the checkpoint.
pub(crate) fn last_head(
    segments: &[(u64, PathBuf)],
    checkpoint: ChainHead,
) -> Result<ChainHead, TrailError> {
    for (_, path) in segments.iter().rev() {
        let bytes = read_written(path)?;
        let head = valid_frames(&bytes)
            .into_iter()
            .rev()
            .find_map(|(_, payload)| last_head_in_payload(payload));
        if let Some(head) = head {
            return Ok(head);
        }
    }
    Ok(checkpoint)
}

/// The head after the last record of one frame's payload, if it has one.
pub(crate) fn last_head_in_payload(payload: &[u8]) -> Option<ChainHead> {
    let mut head = None;
    for_each_in_payload(payload, |record| {
        if record.sequence != u64::MAX {
            head = Some(record.head());
        }
        true
    });
    head
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::{encode_frame, segment_header};

    fn records(count: u64) -> (Vec<u8>, Vec<ChainRecord>) {
        let mut head = ChainHead::GENESIS;
        let records: Vec<ChainRecord> = (0..count)
            .map(|n| head.append(format!("{{\"n\":{n}}}").into_bytes()).unwrap())
            .collect();
        let mut payload = Vec::new();
        for record in &records {
            payload.extend(record.encode().unwrap());
        }
        (payload, records)
    }

    fn segment_of(payloads: &[&[u8]]) -> Vec<u8> {
        let mut bytes = segment_header(1).to_vec();
        for payload in payloads {
            encode_frame(&mut bytes, &FrameSummary::default(), payload).unwrap();
        }
        bytes.resize(64 * 1024, 0);
        bytes
    }

    fn read_all(bytes: &[u8], last: bool) -> (Vec<ChainRecord>, bool) {
        let mut read = Vec::new();
        let outcome = for_each_in_segment(bytes, last, |r| {
            read.push(r);
            true
        });
        let cut = matches!(outcome, SegmentOutcome::Read { cut_short: Some(_) });
        (read, cut)
    }

    #[test]
    fn records_come_in_stored_order_and_a_torn_tail_only_at_the_end() {
        let (payload, expected) = records(6);
        let split = expected[..3]
            .iter()
            .map(|r| r.encode().unwrap().len())
            .sum::<usize>();
        let bytes = segment_of(&[&payload[..split], &payload[split..]]);
        assert_eq!(read_all(&bytes, true), (expected.clone(), false));
        // The last frame torn by a crash: set aside in the last segment only.
        let mut torn = bytes.clone();
        let second = crate::segment::SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + split;
        torn[second + FRAME_HEADER_BYTES + 10..second + FRAME_HEADER_BYTES + 20].fill(0);
        assert_eq!(read_all(&torn, true), (expected[..3].to_vec(), true));
        let (read, cut) = read_all(&torn, false);
        assert!(!cut);
        assert_eq!(read[..3], expected[..3]);
        assert!(
            read.len() > 3,
            "the damaged frame's bytes reach the verifier"
        );
    }

    #[test]
    fn the_written_part_of_a_segment_is_read_without_its_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let (payload, _) = records(3);
        let mut bytes = segment_of(&[&payload]);
        bytes.resize(2 * 1024 * 1024, 0);
        fs::write(&path, &bytes).unwrap();
        let read = read_written(&path).unwrap();
        assert!(read.len() < 300 * 1024);
        assert_eq!(valid_frames(&read).len(), 1);
        assert_eq!(
            last_head(&[(1, path)], ChainHead::GENESIS)
                .unwrap()
                .sequence,
            3
        );
    }

    #[test]
    fn records_up_to_the_checkpoint_are_skipped_only_at_the_start() {
        let (_, expected) = records(5);
        let mut seen = Vec::new();
        let mut after = AfterCheckpoint::new(expected[1].head(), |r: ChainRecord| {
            seen.push(r.sequence);
            true
        });
        for record in expected.iter().chain(&expected[..1]) {
            after.push(record.clone());
        }
        assert_eq!(seen, [3, 4, 5, 1]);
    }
}
