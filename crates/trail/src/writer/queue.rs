//! What appenders and the writer thread share, under one lock: the chain's
//! head, the open batch and its waiters, the writer's commands. Appending
//! chains a request's events here, on the request's own thread.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use keyward_audit::ChainHead;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::entry::Entry;
use crate::error::TrailError;
use crate::segment::FrameSummary;

pub(super) type Reply<T> = oneshot::Sender<Result<T, TrailError>>;

pub(super) enum Command {
    Digest(Reply<()>),
    Prune(OffsetDateTime, Reply<u64>),
    Shutdown(Reply<()>),
    /// The trail handle was dropped without `shutdown`.
    Close,
}

/// Records chained and not yet written, and who waits for them.
pub(super) struct Batch {
    pub(super) records: Vec<u8>,
    pub(super) count: u32,
    pub(super) summary: FrameSummary,
    /// The head after the batch's last record.
    pub(super) head: ChainHead,
    pub(super) waiters: Vec<Reply<()>>,
}

impl Default for Batch {
    fn default() -> Self {
        Batch {
            records: Vec::new(),
            count: 0,
            summary: FrameSummary::default(),
            head: ChainHead::GENESIS,
            waiters: Vec::new(),
        }
    }
}

impl Batch {
    pub(super) fn clear(&mut self) {
        self.records.clear();
        self.count = 0;
        self.waiters.clear();
    }
}

/// What appenders and the writer share, under one lock.
pub(super) struct Queue {
    /// After the last chained record.
    pub(super) head: ChainHead,
    /// After the last record on disk.
    pub(super) durable_head: ChainHead,
    pub(super) batch: Batch,
    pub(super) commands: VecDeque<Command>,
    /// The writer sleeps until an append (or a command) wakes it.
    pub(super) writer_idle: bool,
    /// The writer holds a batch back for calls in progress (`pacing.rs`):
    /// the append that ends the last of them wakes it.
    pub(super) writer_pacing: bool,
    /// The writer has stopped: appends fail.
    pub(super) closed: bool,
}

pub(super) struct Shared {
    pub(super) queue: Mutex<Queue>,
    pub(super) wake_writer: Condvar,
    /// Calls begun ([`Trail::begin_call`]) whose events are not queued yet.
    pub(super) calls_in_progress: AtomicUsize,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Chains `entries` onto the head and adds them to the open batch; with
    /// `ending_call`, also ends that call in progress. Wakes the writer if it
    /// sleeps, or if it holds the batch back and this was the last call in
    /// progress.
    pub(super) fn queue(
        &self,
        entries: Vec<Entry>,
        ending_call: Option<&mut CallInProgress>,
    ) -> Result<oneshot::Receiver<Result<(), TrailError>>, TrailError> {
        let (reply, receiver) = oneshot::channel();
        let wake = {
            let mut guard = self.lock();
            let calls_left = ending_call.and_then(CallInProgress::end);
            let queue = &mut *guard;
            let ended_the_last = calls_left == Some(0) && queue.writer_pacing;
            if queue.closed {
                drop(guard);
                if ended_the_last {
                    self.wake_writer.notify_one();
                }
                return Err(TrailError::WriterStopped);
            }
            let (head, length, count, summary) = (
                queue.head,
                queue.batch.records.len(),
                queue.batch.count,
                queue.batch.summary,
            );
            for entry in &entries {
                if let Err(error) = chain_into(&mut queue.head, &mut queue.batch, entry) {
                    // Undo this request's part: the batch is as before it.
                    queue.head = head;
                    queue.batch.records.truncate(length);
                    queue.batch.count = count;
                    queue.batch.summary = summary;
                    drop(guard);
                    if ended_the_last {
                        self.wake_writer.notify_one();
                    }
                    return Err(error);
                }
            }
            queue.batch.head = queue.head;
            queue.batch.waiters.push(reply);
            std::mem::take(&mut queue.writer_idle) || ended_the_last
        };
        if wake {
            self.wake_writer.notify_one();
        }
        Ok(receiver)
    }
}

/// A call whose events are still to come (see [`Trail::begin_call`]). The
/// writer's pacing (`pacing.rs`) holds a batch back only while some call is
/// in progress: once none is, no event would join by waiting.
pub struct CallInProgress {
    /// `None` once ended.
    shared: Option<Arc<Shared>>,
}

impl CallInProgress {
    /// Notes a call in progress on `shared`.
    pub(super) fn begin(shared: &Arc<Shared>) -> CallInProgress {
        shared.calls_in_progress.fetch_add(1, Ordering::AcqRel);
        CallInProgress {
            shared: Some(Arc::clone(shared)),
        }
    }

    /// Records `entries`, the call's events, and returns once they are
    /// durable; the call is no longer in progress.
    pub async fn append(mut self, entries: Vec<Entry>) -> Result<(), TrailError> {
        let Some(shared) = self.shared.clone() else {
            return Err(TrailError::WriterStopped);
        };
        let receiver = shared.queue(entries, Some(&mut self))?;
        receiver.await.map_err(|_| TrailError::WriterStopped)?
    }

    /// Ends the call; returns how many calls are still in progress.
    fn end(&mut self) -> Option<usize> {
        let shared = self.shared.take()?;
        Some(shared.calls_in_progress.fetch_sub(1, Ordering::AcqRel) - 1)
    }
}

impl Drop for CallInProgress {
    /// A call that ends without events (refused before it was recorded).
    fn drop(&mut self) {
        let Some(shared) = self.shared.clone() else {
            return;
        };
        let queue = shared.lock();
        if self.end() == Some(0) && queue.writer_pacing {
            drop(queue);
            shared.wake_writer.notify_one();
        }
    }
}

/// Chains `entry` after `head` into `batch` (the record's stored form).
fn chain_into(head: &mut ChainHead, batch: &mut Batch, entry: &Entry) -> Result<(), TrailError> {
    head.append_encoded(&entry.bytes, &mut batch.records)?;
    let summary = &mut batch.summary;
    if batch.count == 0 {
        *summary = FrameSummary {
            first_sequence: head.sequence,
            last_sequence: head.sequence,
            min_time: entry.event_time,
            max_time: entry.event_time,
            records: 0,
        };
    }
    summary.last_sequence = head.sequence;
    summary.min_time = summary.min_time.min(entry.event_time);
    summary.max_time = summary.max_time.max(entry.event_time);
    batch.count += 1;
    summary.records = batch.count;
    Ok(())
}

/// Sleeps until an append or a command wakes the writer, or `timeout` passes.
pub(super) fn wait_for_writer_work<'a>(
    shared: &'a Shared,
    queue: MutexGuard<'a, Queue>,
    timeout: Duration,
) -> MutexGuard<'a, Queue> {
    shared
        .wake_writer
        .wait_timeout(queue, timeout)
        .map(|(queue, _)| queue)
        .unwrap_or_else(|p| p.into_inner().0)
}
