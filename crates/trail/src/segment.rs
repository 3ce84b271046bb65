//! The bytes of a segment file: its header and its frames. No I/O.
//!
//! ```text
//! segment  = header (32 bytes) frame* zeros
//! header   = "KWTRAIL\0" | version u32 (= 1) | reserved u32 | segment number u64 | reserved u64
//! frame    = magic u32 "KWFR" | payload length u32 | first sequence u64 | last sequence u64
//!            | min event time i64 | max event time i64 | record count u32 | CRC-32 u32
//!            | payload (the frame's chain records back to back, keyward-audit's record format)
//! ```
//!
//! All integers are big-endian. The CRC-32 (IEEE, as zlib's) covers the
//! header's first 44 bytes and the payload.
//!
//! **Why zeros end a segment.** Segments are written out in full (zeros)
//! before the first frame goes in, so that appending never changes the
//! file's size or block map and a durable write flushes data only (see
//! `appender.rs`). A frame therefore ends where the next header's magic is
//! zero; a segment that was never written to is all zeros.
//!
//! **What the CRC is for: torn writes, not tampering.** A crash during the
//! last write can leave its frame half on disk; the CRC tells that frame apart
//! so that recovery and `trail verify` can set the unacknowledged write aside.
//! Anyone who edits a segment can recompute a CRC, so integrity is the hash
//! chain's and the signed digests' job: readers hand the records of a frame
//! whose CRC fails to the chain verifier anyway, which names the record.
//!
//! The first/last sequence and the time bounds are hints for lookups (which
//! frames to skip); verification never trusts them.

use crate::error::TrailError;

/// First bytes of every segment file.
pub const SEGMENT_MAGIC: [u8; 8] = *b"KWTRAIL\0";
/// The segment format this version writes and reads.
pub const SEGMENT_VERSION: u32 = 1;
/// Bytes of the segment header.
pub const SEGMENT_HEADER_BYTES: usize = 32;
/// First bytes of every frame (`KWFR`).
pub const FRAME_MAGIC: u32 = 0x4B57_4652;
/// Bytes of a frame header.
pub const FRAME_HEADER_BYTES: usize = 48;
/// Bytes of a frame header covered by its CRC (all but the CRC itself).
const FRAME_CHECKED_BYTES: usize = FRAME_HEADER_BYTES - 4;

/// What a frame's header says about its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FrameSummary {
    pub first_sequence: u64,
    pub last_sequence: u64,
    /// Unix seconds: bounds of the records' `eventTime`.
    pub min_time: i64,
    pub max_time: i64,
    pub records: u32,
}

/// The segment header for segment `number`.
pub fn segment_header(number: u64) -> [u8; SEGMENT_HEADER_BYTES] {
    let mut header = [0u8; SEGMENT_HEADER_BYTES];
    header[..8].copy_from_slice(&SEGMENT_MAGIC);
    header[8..12].copy_from_slice(&SEGMENT_VERSION.to_be_bytes());
    header[16..24].copy_from_slice(&number.to_be_bytes());
    header
}

/// Appends a frame holding `payload` to `out`.
pub fn encode_frame(
    out: &mut Vec<u8>,
    summary: &FrameSummary,
    payload: &[u8],
) -> Result<(), TrailError> {
    let header = frame_header(summary, payload)?;
    out.reserve(FRAME_HEADER_BYTES + payload.len());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
    Ok(())
}

/// The header of a frame holding `payload`: written before the payload, it
/// makes the frame without copying the payload next to it first.
pub fn frame_header(
    summary: &FrameSummary,
    payload: &[u8],
) -> Result<[u8; FRAME_HEADER_BYTES], TrailError> {
    let length = u32::try_from(payload.len())
        .map_err(|_| TrailError::Malformed(format!("a frame of {} bytes", payload.len())))?;
    let mut header = [0u8; FRAME_HEADER_BYTES];
    header[..4].copy_from_slice(&FRAME_MAGIC.to_be_bytes());
    header[4..8].copy_from_slice(&length.to_be_bytes());
    header[8..16].copy_from_slice(&summary.first_sequence.to_be_bytes());
    header[16..24].copy_from_slice(&summary.last_sequence.to_be_bytes());
    header[24..32].copy_from_slice(&summary.min_time.to_be_bytes());
    header[32..40].copy_from_slice(&summary.max_time.to_be_bytes());
    header[40..44].copy_from_slice(&summary.records.to_be_bytes());
    let crc = frame_crc(&header[..FRAME_CHECKED_BYTES], payload);
    header[FRAME_CHECKED_BYTES..].copy_from_slice(&crc.to_be_bytes());
    Ok(header)
}

fn frame_crc(checked_header: &[u8], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(checked_header);
    hasher.update(payload);
    hasher.finalize()
}

/// What the start of a segment file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentStart {
    /// All zeros: prepared, never written to.
    Unwritten,
    /// A segment of this format; frames start after the header.
    Segment { number: u64 },
    /// Anything else: not a segment of this version (tampering, or a foreign file).
    Unreadable,
}

/// Reads the segment header at the start of `bytes`.
pub fn segment_start(bytes: &[u8]) -> SegmentStart {
    let Some(header) = bytes.get(..SEGMENT_HEADER_BYTES) else {
        return if bytes.iter().all(|&b| b == 0) {
            SegmentStart::Unwritten
        } else {
            SegmentStart::Unreadable
        };
    };
    if header.iter().all(|&b| b == 0) {
        return SegmentStart::Unwritten;
    }
    if header[..8] != SEGMENT_MAGIC || be_u32(&header[8..12]) != SEGMENT_VERSION {
        return SegmentStart::Unreadable;
    }
    SegmentStart::Segment {
        number: be_u64(&header[16..24]),
    }
}

/// One step of reading the frames of a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameRead<'a> {
    /// A whole frame whose CRC matches.
    Frame {
        offset: usize,
        summary: FrameSummary,
        payload: &'a [u8],
    },
    /// A frame whose header is plausible but whose CRC does not match. When
    /// only zeros follow it, it is a write that a crash cut short
    /// (`zeros_after`); otherwise its bytes were changed.
    Damaged {
        offset: usize,
        /// The payload as its header delimits it.
        payload: &'a [u8],
        zeros_after: bool,
    },
    /// Bytes that are no frame header (tampering): the rest of the segment
    /// cannot be delimited.
    Garbage { offset: usize, bytes: &'a [u8] },
}

/// The frames of a segment's bytes, in order, from `offset` (the end of the
/// header). Iteration stops at zeros (the end of what was written), after
/// [`FrameRead::Garbage`], and after a [`FrameRead::Damaged`] frame that only
/// zeros follow.
pub struct Frames<'a> {
    bytes: &'a [u8],
    offset: usize,
    done: bool,
}

impl<'a> Frames<'a> {
    /// Frames of a whole segment file's bytes (header included).
    pub fn of_segment(bytes: &'a [u8]) -> Self {
        Frames {
            bytes,
            offset: SEGMENT_HEADER_BYTES.min(bytes.len()),
            done: false,
        }
    }

    /// Where the next frame would start: after the loop, the end of what was
    /// written (or of the last whole frame, before a damaged one).
    pub fn offset(&self) -> usize {
        self.offset
    }
}

impl<'a> Iterator for Frames<'a> {
    type Item = FrameRead<'a>;

    fn next(&mut self) -> Option<FrameRead<'a>> {
        if self.done {
            return None;
        }
        let offset = self.offset;
        let rest = &self.bytes[offset..];
        let header = match rest.get(..FRAME_HEADER_BYTES) {
            Some(header) => header,
            None => {
                self.done = true;
                return (!rest.iter().all(|&b| b == 0)).then_some(FrameRead::Garbage {
                    offset,
                    bytes: rest,
                });
            }
        };
        let magic = be_u32(&header[..4]);
        if magic == 0 && header.iter().all(|&b| b == 0) {
            self.done = true;
            return None;
        }
        let length = be_u32(&header[4..8]) as usize;
        let Some(payload) = (magic == FRAME_MAGIC)
            .then(|| rest.get(FRAME_HEADER_BYTES..FRAME_HEADER_BYTES.checked_add(length)?))
            .flatten()
        else {
            self.done = true;
            return Some(FrameRead::Garbage {
                offset,
                bytes: rest,
            });
        };
        let end = offset + FRAME_HEADER_BYTES + length;
        let crc = be_u32(&header[FRAME_CHECKED_BYTES..FRAME_HEADER_BYTES]);
        if frame_crc(&header[..FRAME_CHECKED_BYTES], payload) != crc {
            let zeros_after = self.bytes[end..].iter().all(|&b| b == 0);
            if zeros_after {
                self.done = true;
            } else {
                self.offset = end;
            }
            return Some(FrameRead::Damaged {
                offset,
                payload,
                zeros_after,
            });
        }
        self.offset = end;
        Some(FrameRead::Frame {
            offset,
            summary: FrameSummary {
                first_sequence: be_u64(&header[8..16]),
                last_sequence: be_u64(&header[16..24]),
                min_time: be_u64(&header[24..32]) as i64,
                max_time: be_u64(&header[32..40]) as i64,
                records: be_u32(&header[40..44]),
            },
            payload,
        })
    }
}

fn be_u32(bytes: &[u8]) -> u32 {
    let mut array = [0u8; 4];
    array.copy_from_slice(&bytes[..4]);
    u32::from_be_bytes(array)
}

fn be_u64(bytes: &[u8]) -> u64 {
    let mut array = [0u8; 8];
    array.copy_from_slice(&bytes[..8]);
    u64::from_be_bytes(array)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(first: u64) -> FrameSummary {
        FrameSummary {
            first_sequence: first,
            last_sequence: first + 1,
            min_time: -5,
            max_time: 1_800_000_000,
            records: 2,
        }
    }

    /// A segment of `size` bytes with these payloads as frames.
    fn segment(payloads: &[&[u8]], size: usize) -> Vec<u8> {
        let mut bytes = segment_header(7).to_vec();
        for (index, payload) in payloads.iter().enumerate() {
            encode_frame(&mut bytes, &summary(index as u64 * 2 + 1), payload).unwrap();
        }
        bytes.resize(size, 0);
        bytes
    }

    fn payloads(bytes: &[u8]) -> Vec<FrameRead<'_>> {
        Frames::of_segment(bytes).collect()
    }

    #[test]
    fn frames_read_back_what_was_written_and_stop_at_zeros() {
        let bytes = segment(&[b"first", b"", b"third one"], 4096);
        assert_eq!(segment_start(&bytes), SegmentStart::Segment { number: 7 });
        let mut frames = Frames::of_segment(&bytes);
        let read: Vec<_> = frames.by_ref().collect();
        assert_eq!(read.len(), 3);
        match &read[2] {
            FrameRead::Frame {
                summary: s,
                payload,
                ..
            } => {
                assert_eq!((*s, *payload), (summary(5), &b"third one"[..]));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            frames.offset(),
            SEGMENT_HEADER_BYTES + 3 * FRAME_HEADER_BYTES + 5 + 9
        );
    }

    #[test]
    fn an_unwritten_segment_has_no_frames() {
        let zeros = vec![0u8; 4096];
        assert_eq!(segment_start(&zeros), SegmentStart::Unwritten);
        assert!(payloads(&zeros).is_empty());
        assert_eq!(
            segment_start(b"KWTRAIL\0\0\0\0\x02"),
            SegmentStart::Unreadable
        );
        assert_eq!(
            segment_start(b"not a segment at all, no, not at all"),
            SegmentStart::Unreadable
        );
    }

    #[test]
    fn a_cut_short_last_frame_is_told_apart_from_a_changed_one() {
        let whole = segment(&[b"first", b"second"], 4096);
        let second = SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 5;
        // The crash wrote the header but not all of the payload.
        let mut torn = whole.clone();
        torn[second + FRAME_HEADER_BYTES + 3..second + FRAME_HEADER_BYTES + 6].fill(0);
        let read = payloads(&torn);
        assert!(
            matches!(read[1], FrameRead::Damaged { offset, zeros_after: true, .. } if offset == second)
        );
        // A byte changed in the first frame: a later frame follows it.
        let mut changed = whole.clone();
        changed[SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 1] ^= 1;
        let read = payloads(&changed);
        assert_eq!(read.len(), 2);
        assert!(matches!(
            read[0],
            FrameRead::Damaged {
                zeros_after: false,
                ..
            }
        ));
        assert!(matches!(read[1], FrameRead::Frame { .. }));
    }

    #[test]
    fn bytes_that_are_no_frame_end_the_segment_as_garbage() {
        let mut bytes = segment(&[b"first"], 4096);
        let after = SEGMENT_HEADER_BYTES + FRAME_HEADER_BYTES + 5;
        bytes[after..after + 4].copy_from_slice(b"junk");
        let read = payloads(&bytes);
        assert!(matches!(read[1], FrameRead::Garbage { offset, .. } if offset == after));
        // A length beyond the segment's end is no frame either.
        let mut long = segment(&[b"first"], 4096);
        long[SEGMENT_HEADER_BYTES + 4..SEGMENT_HEADER_BYTES + 8]
            .copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(matches!(payloads(&long)[0], FrameRead::Garbage { .. }));
        // A segment cut inside a header.
        let short = &segment(&[b"first"], 4096)[..SEGMENT_HEADER_BYTES + 10];
        assert!(matches!(payloads(short)[0], FrameRead::Garbage { .. }));
    }

    #[test]
    fn the_crc_matches_zlib() {
        // Python's zlib.crc32 (the tamper tests use it) computes the same CRC.
        assert_eq!(frame_crc(b"123456789", b""), 0xCBF4_3926);
    }
}
