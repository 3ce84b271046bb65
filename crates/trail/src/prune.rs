//! Pruning: the checkpoint moved to a signed digest's head, then the
//! segments that hold only records before it deleted. The writer thread
//! prunes a live trail; `offline.rs` a stopped one.

use std::path::Path;

use keyward_audit::{pruning_checkpoint, Digest};
use time::OffsetDateTime;

use crate::error::TrailError;
use crate::layout::{self, State};
use crate::stored;

/// Moves the checkpoint to the head of the newest digest that ended at or
/// before `cutoff`, then deletes the segments holding only records at or
/// before it (never `active`). Returns how many records were pruned.
///
/// The checkpoint is stored first: a crash before the deletions leaves
/// segments that readers skip, never a trail that starts too late.
pub(crate) fn prune_to(
    dir: &Path,
    state: &mut State,
    digests: &[Digest],
    cutoff: OffsetDateTime,
    active: Option<u64>,
) -> Result<u64, TrailError> {
    let checkpoint = pruning_checkpoint(digests, cutoff);
    if checkpoint.sequence <= state.checkpoint.sequence {
        return Ok(0);
    }
    let pruned = checkpoint.sequence - state.checkpoint.sequence;
    state.checkpoint = checkpoint;
    state.write(dir)?;
    let mut deleted_any = false;
    for (number, path) in layout::list_segments(dir)? {
        if Some(number) == active {
            break;
        }
        let bytes = stored::read_written(&path)?;
        let last = stored::valid_frames(&bytes)
            .last()
            .map(|(summary, _)| summary.last_sequence);
        // A segment with records after the checkpoint (or none that read)
        // stays, and so does every later one.
        if last.is_none_or(|last| last > checkpoint.sequence) {
            break;
        }
        std::fs::remove_file(&path).map_err(TrailError::io("delete", &path))?;
        deleted_any = true;
    }
    if deleted_any {
        layout::sync_dir(dir)?;
    }
    Ok(pruned)
}
