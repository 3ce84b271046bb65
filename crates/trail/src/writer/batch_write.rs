//! Writing a batch durably: framed, and appended to the active segment or,
//! when it does not fit, on into the next one (the spare, renamed into
//! place). At start, the active segment is found again and a write a crash
//! cut short at its end is cleared.

use std::path::{Path, PathBuf};

use keyward_audit::ChainHead;

use super::framing::{frame, last_head_of_frames, split_for_segments, FRAME_TARGET_BYTES};
use super::queue::Batch;
use super::spare::{start_segment, Preparer};
use crate::appender::{ActiveSegment, WriteMode};
use crate::error::TrailError;
use crate::layout;
use crate::segment::{
    frame_header, segment_header, segment_start, FrameRead, Frames, SegmentStart,
    FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
use crate::stored;

/// The segment the writer appends to, and what it needs to move on.
pub(super) struct BatchWriter {
    dir: PathBuf,
    segment: ActiveSegment,
    segment_bytes: u64,
    preparer: Preparer,
    /// The frames of the batch being written (reused).
    frames: Vec<u8>,
}

impl BatchWriter {
    /// Opens the segment to append to in `dir` and starts preparing the
    /// next; returns the writer and the head after the last stored record.
    pub(super) fn open(
        dir: &Path,
        segment_bytes: u64,
        mode: WriteMode,
        checkpoint: ChainHead,
    ) -> Result<(BatchWriter, ChainHead), TrailError> {
        let (segment, head_in_segment) = open_active_segment(dir, segment_bytes, mode)?;
        // Earlier segments are read only when the active one holds no record.
        let head = match head_in_segment {
            Some(head) => head,
            None => stored::last_head(&layout::list_segments(dir)?, checkpoint)?,
        };
        let preparer = Preparer::start(dir, segment_bytes, segment.mode())?;
        let writer = BatchWriter {
            dir: dir.to_path_buf(),
            segment,
            segment_bytes,
            preparer,
            frames: Vec::new(),
        };
        Ok((writer, head))
    }

    /// The number of the segment being appended to (pruning never deletes it).
    pub(super) fn active_segment(&self) -> u64 {
        self.segment.number()
    }

    /// Stops the spare segment's preparer.
    pub(super) fn stop(&mut self) {
        self.preparer.stop();
    }

    /// Frames `batch` and appends it durably, in the active segment or, when
    /// it does not fit, in the next. On failure, also says up to which record
    /// the batch did reach the disk: a batch bigger than a segment is written
    /// in parts, and the parts before a failed one stay.
    pub(super) fn write(&mut self, batch: &Batch) -> Result<(), (TrailError, Option<ChainHead>)> {
        let room = self.segment_bytes as usize - SEGMENT_HEADER_BYTES;
        if batch.records.len() <= FRAME_TARGET_BYTES.min(room - FRAME_HEADER_BYTES) {
            // The usual batch: one frame, its header and records appended
            // where they are, without a copy into `frames`.
            return self.write_one_frame(batch).map_err(|error| (error, None));
        }
        let mut frames = std::mem::take(&mut self.frames);
        frames.clear();
        let mut written_bytes = 0;
        let outcome = frame(batch, &mut frames).and_then(|()| {
            for part in split_for_segments(&frames, self.segment_bytes) {
                self.append_frames(&[part], part.len())?;
                written_bytes += part.len();
            }
            Ok(())
        });
        // Only a failure needs to know which records are on disk.
        let outcome =
            outcome.map_err(|error| (error, last_head_of_frames(&frames[..written_bytes])));
        self.frames = frames;
        outcome
    }

    /// Appends `batch` as one frame.
    fn write_one_frame(&mut self, batch: &Batch) -> Result<(), TrailError> {
        let header = frame_header(&batch.summary, &batch.records)?;
        let length = FRAME_HEADER_BYTES + batch.records.len();
        self.append_frames(&[&header, &batch.records], length)
    }

    /// Appends whole frames (`parts` back to back, `length` bytes), moving on
    /// to the next segment first when they do not fit in this one.
    fn append_frames(&mut self, parts: &[&[u8]], length: usize) -> Result<(), TrailError> {
        if length as u64 > self.segment.remaining() {
            self.roll()?;
        }
        if self.segment.end() == 0 {
            let header = segment_header(self.segment.number());
            let mut with_header = Vec::with_capacity(parts.len() + 1);
            with_header.push(&header[..]);
            with_header.extend_from_slice(parts);
            self.segment.append(&with_header)
        } else {
            self.segment.append(parts)
        }
    }

    /// Moves on to the next segment: the spare, renamed into place.
    fn roll(&mut self) -> Result<(), TrailError> {
        let next = self.segment.number() + 1;
        let mode = self.segment.mode();
        {
            // Waits for a spare being prepared rather than writing another.
            let _busy = self.preparer.busy.lock().unwrap_or_else(|p| p.into_inner());
            self.segment = start_segment(&self.dir, next, self.segment_bytes, mode)?;
        }
        self.preparer.request();
        Ok(())
    }
}

/// Opens the last segment to append to (creating the first), after clearing
/// a frame that a crash cut short at its end. A last segment whose bytes do
/// not read to a clean end (tampering) is left as it is; writing goes on in a
/// new one, and `trail verify` reports what was found.
fn open_active_segment(
    dir: &Path,
    size: u64,
    mode: WriteMode,
) -> Result<(ActiveSegment, Option<ChainHead>), TrailError> {
    let segments = layout::list_segments(dir)?;
    let Some((number, path)) = segments.last().cloned() else {
        return Ok((start_segment(dir, 1, size, mode)?, None));
    };
    let bytes = std::fs::read(&path).map_err(TrailError::io("read", &path))?;
    if bytes.len() as u64 != size {
        // Written with another segment size: go on in a new segment.
        return Ok((start_segment(dir, number + 1, size, mode)?, None));
    }
    match segment_start(&bytes) {
        SegmentStart::Unwritten => {
            return Ok((
                ActiveSegment::open(number, &path, size, 0, &[], mode)?,
                None,
            ))
        }
        SegmentStart::Unreadable => {
            return Ok((continue_after_damage(dir, number, &path, size, mode)?, None))
        }
        SegmentStart::Segment { .. } => {}
    }
    let mut frames = Frames::of_segment(&bytes);
    let mut cut_short = None;
    let mut clean = true;
    let mut last_payload = None;
    for frame in frames.by_ref() {
        match frame {
            FrameRead::Frame { payload, .. } => last_payload = Some(payload),
            FrameRead::Damaged {
                offset,
                payload,
                zeros_after: true,
            } => cut_short = Some((offset, FRAME_HEADER_BYTES + payload.len())),
            FrameRead::Damaged { .. } | FrameRead::Garbage { .. } => clean = false,
        }
    }
    if !clean {
        return Ok((continue_after_damage(dir, number, &path, size, mode)?, None));
    }
    let head = last_payload.and_then(stored::last_head_in_payload);
    let end = frames.offset() as u64;
    let mut segment = ActiveSegment::open(number, &path, size, end, &bytes, mode)?;
    if let Some((offset, length)) = cut_short {
        tracing::warn!(
            segment = %path.display(),
            offset,
            bytes = length,
            "clearing the end of the audit trail: a write that a crash cut short (it was never acknowledged)"
        );
        segment.clear_after_end((offset + length) as u64)?;
    }
    Ok((segment, head))
}

fn continue_after_damage(
    dir: &Path,
    number: u64,
    path: &Path,
    size: u64,
    mode: WriteMode,
) -> Result<ActiveSegment, TrailError> {
    tracing::error!(segment = %path.display(), "the last audit trail segment does not read to a clean end; writing goes on in a new segment (run `keyward trail verify`)");
    start_segment(dir, number + 1, size, mode)
}
