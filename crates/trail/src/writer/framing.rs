//! Batch framing: a batch's records cut into frames at record boundaries,
//! and frames into the parts that fit in one segment each.

use keyward_audit::ChainHead;

use super::queue::Batch;
use crate::error::TrailError;
use crate::segment::{encode_frame, FrameSummary, FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES};
use crate::stored;

/// Largest frame the writer makes: a batch is cut into frames at record
/// boundaries, so that no frame needs a buffer much bigger than this.
pub(super) const FRAME_TARGET_BYTES: usize = 1024 * 1024;

/// Cuts the batch into frames of at most [`FRAME_TARGET_BYTES`] at record
/// boundaries (one frame, for any batch of usual size).
pub(super) fn frame(batch: &Batch, out: &mut Vec<u8>) -> Result<(), TrailError> {
    if batch.records.len() <= FRAME_TARGET_BYTES {
        return encode_frame(out, &batch.summary, &batch.records);
    }
    let mut start = 0;
    let mut summary = FrameSummary {
        records: 0,
        ..batch.summary
    };
    let mut offset = 0;
    for_each_record_extent(&batch.records, |sequence, end| {
        if summary.records == 0 {
            summary.first_sequence = sequence;
        }
        summary.last_sequence = sequence;
        summary.records += 1;
        offset = end;
        if offset - start >= FRAME_TARGET_BYTES {
            encode_frame(out, &summary, &batch.records[start..offset])?;
            start = offset;
            summary.records = 0;
        }
        Ok(())
    })?;
    if summary.records > 0 {
        encode_frame(out, &summary, &batch.records[start..offset])?;
    }
    Ok(())
}

/// Calls `each(sequence, end offset)` for every record of a batch's bytes
/// (records the writer itself chained, so they are well formed).
fn for_each_record_extent(
    records: &[u8],
    mut each: impl FnMut(u64, usize) -> Result<(), TrailError>,
) -> Result<(), TrailError> {
    let header = keyward_audit::RECORD_HEADER_BYTES;
    let mut offset = 0;
    while offset < records.len() {
        let bad = || TrailError::Malformed("a queued record is cut short".to_owned());
        let field = |from: usize, length: usize| {
            records
                .get(offset + from..offset + from + length)
                .ok_or_else(bad)
        };
        let sequence = u64::from_be_bytes(field(1, 8)?.try_into().map_err(|_| bad())?);
        let length =
            u32::from_be_bytes(field(header - 4, 4)?.try_into().map_err(|_| bad())?) as usize;
        offset += header + length;
        each(sequence, offset)?;
    }
    Ok(())
}

/// The head after the last record of `frames` (frames the writer made).
pub(super) fn last_head_of_frames(frames: &[u8]) -> Option<ChainHead> {
    let mut head = None;
    let mut offset = 0;
    while let Some(header) = frames.get(offset..offset + FRAME_HEADER_BYTES) {
        let length = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let payload =
            frames.get(offset + FRAME_HEADER_BYTES..offset + FRAME_HEADER_BYTES + length)?;
        stored::for_each_in_payload(payload, |record| {
            head = Some(record.head());
            true
        });
        offset += FRAME_HEADER_BYTES + length;
    }
    head
}

/// Splits a batch's frames into the parts that go into one segment each:
/// a part is whole frames and at most a segment's room for frames.
pub(super) fn split_for_segments(frames: &[u8], segment_bytes: u64) -> Vec<&[u8]> {
    let room = segment_bytes as usize - SEGMENT_HEADER_BYTES;
    let mut parts = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    while offset < frames.len() {
        let length = u32::from_be_bytes([
            frames[offset + 4],
            frames[offset + 5],
            frames[offset + 6],
            frames[offset + 7],
        ]) as usize;
        let end = offset + FRAME_HEADER_BYTES + length;
        if end - start > room && offset > start {
            parts.push(&frames[start..offset]);
            start = offset;
        }
        offset = end;
    }
    if start < frames.len() {
        parts.push(&frames[start..]);
    }
    parts
}
