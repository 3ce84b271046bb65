//! The live trail: chaining at append, a writer thread, group commit,
//! digests on a timer.
//!
//! **Appending.** A request handler chains its events onto the head right
//! away, on its own thread and under the queue's lock (a SHA-256 and a copy
//! per event), adds them to the open batch and awaits a oneshot. The lock
//! orders the chain; the writer thread never hashes, so the one thread every
//! call waits for does as little as possible.
//!
//! **Group commit.** The writer takes the whole open batch, frames it
//! (`segment.rs`) and appends it to the active segment with one durable write
//! (`appender.rs`), then answers the batch's waiters: nothing is answered
//! before its frame is on disk. Everything that arrives during a write goes
//! into the next one; under concurrent load the next write also waits until
//! an interval has passed since the last one started (`pacing.rs`), because a
//! durable write costs the same CPU for one event as for fifty. The writer is
//! woken by an append only when it sleeps for want of work.
//!
//! **Failure.** If a write fails, its batch is refused and so is everything
//! chained after it (it was chained onto records that are not on disk); the
//! head goes back to the last durable record. Nothing is acknowledged as
//! recorded that is not on disk, and the chain has no hole.
//!
//! **Segments.** When a batch does not fit in the active segment, the writer
//! renames the spare segment (written out in zeros ahead of time by a
//! preparer thread) into place and continues there; the preparer then makes
//! the next spare. At start, a frame a crash cut short at the end of the last
//! segment is cleared (it was never acknowledged).
//!
//! **Digests.** Every `digest_interval` (and on shutdown) the writer writes
//! what is open, signs a digest of the durable head, linked to the previous
//! digest, and appends it to `digests`; after each timed digest it prunes what
//! is older than the retention period. Commands (digest, prune, shutdown) are
//! taken before batches, so a steady load cannot hold them back.
//!
//! **Where each job lives.** `handle.rs`: the [`Trail`] handle (opening,
//! appending, commands, shutdown). `queue.rs`: what appenders and the writer
//! share under one lock, and the chaining of events into the open batch.
//! `thread.rs`: the writer thread's loop, its commands and digests, and the
//! answer to each batch's waiters. `batch_write.rs`: a batch written durably
//! into the active segment and on into the next, and the active segment
//! found again at start. `framing.rs`: a batch's bytes cut into frames and
//! frames into segment-sized parts. `spare.rs`: the spare segment and the
//! thread that prepares it. `config.rs`: [`TrailConfig`]. Pruning is
//! `../prune.rs`, shared with the offline commands.

mod batch_write;
mod config;
mod framing;
mod handle;
mod queue;
mod spare;
mod thread;

pub use config::{NowFn, TrailConfig, DEFAULT_COMMIT_INTERVAL, DEFAULT_SEGMENT_BYTES};
pub use handle::Trail;
pub use queue::CallInProgress;
