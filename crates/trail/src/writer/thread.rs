//! The writer thread: the only writer of the trail. It takes commands
//! first, then the open batch (at the pace of `pacing.rs`), writes it
//! durably, answers its waiters, and signs digests on a timer.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, MutexGuard};
use std::time::Instant;

use keyward_audit::{Digest, DigestSigningKey};
use time::OffsetDateTime;

use super::batch_write::BatchWriter;
use super::config::TrailConfig;
use super::queue::{wait_for_writer_work, Batch, Command, Queue, Shared};
use crate::error::TrailError;
use crate::layout::{self, State};
use crate::pacing::Pacing;
use crate::prune::prune_to;

/// The writer thread's state: the only writer of the trail.
pub(super) struct Writer {
    pub(super) shared: Arc<Shared>,
    pub(super) dir: PathBuf,
    /// Where batches go: the active segment, then the next.
    pub(super) batches: BatchWriter,
    /// An empty batch with capacity, swapped in for the one being written.
    pub(super) spare: Batch,
    pub(super) pacing: Pacing,
    pub(super) key: DigestSigningKey,
    pub(super) digests: Vec<Digest>,
    pub(super) state: State,
    pub(super) config: TrailConfig,
}

impl Writer {
    pub(super) fn run(&mut self) {
        let shared = Arc::clone(&self.shared);
        let mut next_digest = Instant::now() + self.config.digest_interval;
        let mut queue = shared.lock();
        loop {
            // Commands go first, so that a steady stream of appends cannot
            // hold a digest or a shutdown back.
            if let Some(command) = queue.commands.pop_front() {
                drop(queue);
                if self.handle(command) {
                    return;
                }
                queue = shared.lock();
                continue;
            }
            let now = Instant::now();
            if now >= next_digest {
                drop(queue);
                next_digest = now + self.config.digest_interval;
                if let Err(error) = self.timed_digest() {
                    tracing::error!(%error, "signing the trail digest failed");
                }
                queue = shared.lock();
                continue;
            }
            if queue.batch.count > 0 {
                let calls = shared.calls_in_progress.load(Ordering::Acquire);
                if let Some(wait) = self.pacing.wait(now, queue.batch.records.len(), calls) {
                    // Calls keep coming: let them join this write.
                    queue.writer_pacing = true;
                    queue = wait_for_writer_work(&shared, queue, wait);
                    queue.writer_pacing = false;
                    continue;
                }
                self.write_queued(queue);
                queue = shared.lock();
                continue;
            }
            queue.writer_idle = true;
            queue =
                wait_for_writer_work(&shared, queue, next_digest.saturating_duration_since(now));
            queue.writer_idle = false;
        }
    }

    /// Carries out one command; whether the writer stops.
    fn handle(&mut self, command: Command) -> bool {
        match command {
            Command::Digest(reply) => {
                self.write_all_queued();
                let _ = reply.send(self.digest());
            }
            Command::Prune(cutoff, reply) => {
                self.write_all_queued();
                let _ = reply.send(self.prune(cutoff));
            }
            Command::Shutdown(reply) => {
                let _ = reply.send(self.stop());
                return true;
            }
            Command::Close => {
                if let Err(error) = self.stop() {
                    tracing::error!(%error, "signing the final trail digest failed");
                }
                return true;
            }
        }
        false
    }

    /// Stops taking appends, writes what is queued, signs a final digest.
    fn stop(&mut self) -> Result<(), TrailError> {
        let refused: Vec<Command> = {
            let mut queue = self.shared.lock();
            queue.closed = true;
            queue.commands.drain(..).collect()
        };
        for command in refused {
            refuse(command);
        }
        self.write_all_queued();
        let outcome = self.digest();
        self.batches.stop();
        outcome
    }

    /// Writes the open batch, if any, now.
    fn write_all_queued(&mut self) {
        let shared = Arc::clone(&self.shared);
        let queue = shared.lock();
        if queue.batch.count > 0 {
            self.write_queued(queue);
        }
    }

    /// Takes the open batch out of the queue, writes it and answers its
    /// waiters.
    fn write_queued(&mut self, mut queue: MutexGuard<'_, Queue>) {
        std::mem::swap(&mut queue.batch, &mut self.spare);
        drop(queue);
        let mut batch = std::mem::take(&mut self.spare);
        self.pacing.started(Instant::now(), batch.count);
        let outcome = self.batches.write(&batch);
        let mut queue = self.shared.lock();
        match outcome {
            Ok(()) => {
                queue.durable_head = batch.head;
                drop(queue);
                for waiter in batch.waiters.drain(..) {
                    let _ = waiter.send(Ok(()));
                }
            }
            Err((error, written)) => {
                tracing::error!(%error, "writing the audit trail failed; the calls waiting for it are refused");
                let reason = error.to_string();
                // What was chained after the failed part rests on records
                // that are not on disk: refuse it too and go back to the last
                // record that is. (A call refused whose events did reach the
                // disk in an earlier part is recorded, not lost.)
                if let Some(written) = written {
                    queue.durable_head = written;
                }
                queue.head = queue.durable_head;
                let mut later = std::mem::take(&mut queue.batch);
                drop(queue);
                for waiter in batch.waiters.drain(..).chain(later.waiters.drain(..)) {
                    let _ = waiter.send(Err(TrailError::WriteFailed(reason.clone())));
                }
            }
        }
        batch.clear();
        self.spare = batch;
    }

    fn now(&self) -> OffsetDateTime {
        (self.config.now)()
    }

    /// Signs and stores the digest following the last one, up to the
    /// durable head.
    fn digest(&mut self) -> Result<(), TrailError> {
        let start = match self.digests.last() {
            Some(previous) => previous.end_time(),
            None => OffsetDateTime::from_unix_timestamp(self.state.created)
                .map_err(|e| TrailError::Malformed(format!("creation time: {e}")))?,
        };
        let end = self.now().max(start);
        let head = self.shared.lock().durable_head;
        let digest = self
            .key
            .sign_digest(self.digests.last(), head, start, end)?;
        layout::append_digest(&self.dir, &digest)?;
        self.digests.push(digest);
        Ok(())
    }

    fn timed_digest(&mut self) -> Result<(), TrailError> {
        self.write_all_queued();
        self.digest()?;
        if let Some(retention) = self.config.retention {
            let cutoff = self.now() - retention;
            let pruned = self.prune(cutoff)?;
            if pruned > 0 {
                tracing::info!(pruned, "pruned audit events past the retention period");
            }
        }
        Ok(())
    }

    fn prune(&mut self, cutoff: OffsetDateTime) -> Result<u64, TrailError> {
        let active = Some(self.batches.active_segment());
        prune_to(&self.dir, &mut self.state, &self.digests, cutoff, active)
    }
}

/// Refuses a command that came in after the writer stopped.
fn refuse(command: Command) {
    match command {
        Command::Digest(reply) | Command::Shutdown(reply) => {
            let _ = reply.send(Err(TrailError::WriterStopped));
        }
        Command::Prune(_, reply) => {
            let _ = reply.send(Err(TrailError::WriterStopped));
        }
        Command::Close => {}
    }
}
