//! Frames sealed and opened on several threads, in message order.
//!
//! Why: a frame's AES-GCM depends only on the message's content key and the
//! frame's sequence number, so frames are independent work, and one core's
//! cipher speed — not the format — bounds a single-threaded encryptor. The
//! calling thread keeps everything that must happen in message order
//! (reading, the signature hash, writing), hands batches to `threads`
//! workers, and works on a batch itself whenever every worker already has
//! one, instead of waiting: so reading never leaves a core idle, and the
//! cores are shared by whoever has work. (Measured on two cores: two
//! workers and a helping caller reach 0.22 s for 1 GiB, against 0.27 s for
//! one worker and a helping caller and 0.25 s for two workers and a caller
//! that only waits; see BENCHMARKS.md.) Batches come back in the order they
//! were handed in, whoever worked on them.
//!
//! Memory is bounded: at most [`DEPTH_PER_THREAD`] batches per thread are
//! in flight, each of about [`BATCH_BYTES`] of frames.

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::Scope;

use crate::error::EnvelopeError;

/// Plaintext bytes per batch of frames: large enough that handing a batch
/// to another thread costs nothing next to its cipher work, small enough
/// that a batch is still in the shared cache when its worker reads it.
pub(crate) const BATCH_BYTES: usize = 1 << 20;

/// Batches in flight per thread before the caller waits for the oldest.
const DEPTH_PER_THREAD: usize = 2;

/// A batch and how the work on it went.
type Done<B> = (B, Result<(), EnvelopeError>);

/// Worker threads plus the caller, running one function on batches that are
/// returned in order.
pub(crate) struct Workers<'scope, B, F> {
    work: &'scope F,
    workers: usize,
    jobs: SyncSender<(usize, B)>,
    done: Receiver<(usize, Done<B>)>,
    /// Batches done before an older one.
    early: BTreeMap<usize, Done<B>>,
    /// Batches handed to a worker and not yet back from it.
    at_workers: usize,
    capacity: usize,
    submitted: usize,
    collected: usize,
}

impl<'scope, B: Send + 'scope, F> Workers<'scope, B, F>
where
    F: Fn(&mut B) -> Result<(), EnvelopeError> + Sync,
{
    /// Starts `threads` workers in `scope` running `work` (none for 1: the
    /// caller does all the work). They stop when `self` is dropped.
    pub(crate) fn start<'env>(
        scope: &'scope Scope<'scope, 'env>,
        threads: usize,
        work: &'scope F,
    ) -> Result<Self, EnvelopeError> {
        let workers = if threads > 1 { threads } else { 0 };
        let (jobs, job_receiver) = sync_channel::<(usize, B)>(workers);
        let job_receiver = Arc::new(Mutex::new(job_receiver));
        let (done_sender, done) = channel();
        for _ in 0..workers {
            let jobs = Arc::clone(&job_receiver);
            let done: Sender<(usize, Done<B>)> = done_sender.clone();
            std::thread::Builder::new()
                .name("keyward-envelope".into())
                .spawn_scoped(scope, move || loop {
                    // The lock is held only while waiting for the next job.
                    let job = jobs
                        .lock()
                        .map_err(|_| ())
                        .and_then(|jobs| jobs.recv().map_err(|_| ()));
                    let Ok((index, mut batch)) = job else { break };
                    let result = work(&mut batch);
                    if done.send((index, (batch, result))).is_err() {
                        break;
                    }
                })
                .map_err(|_| EnvelopeError::Internal("could not start a worker thread"))?;
        }
        Ok(Workers {
            work,
            workers,
            jobs,
            done,
            early: BTreeMap::new(),
            at_workers: 0,
            capacity: (workers + 1) * DEPTH_PER_THREAD,
            submitted: 0,
            collected: 0,
        })
    }

    /// Hands `batch` to an idle worker, or works on it here when none is.
    pub(crate) fn submit(&mut self, mut batch: B) -> Result<(), EnvelopeError> {
        self.take_finished()?;
        if self.at_workers < self.workers {
            // Fewer jobs out than workers: this send never blocks; it fails
            // only if every worker is gone.
            self.jobs
                .send((self.submitted, batch))
                .map_err(|_| EnvelopeError::Internal("the worker threads stopped"))?;
            self.at_workers += 1;
        } else {
            let result = (self.work)(&mut batch);
            self.early.insert(self.submitted, (batch, result));
        }
        self.submitted += 1;
        Ok(())
    }

    /// The oldest batch not yet returned, if it is done — waiting for it
    /// when `wait` is set or when the most batches allowed are in flight;
    /// `None` when it is not done (or every batch has been returned).
    pub(crate) fn next_done(&mut self, wait: bool) -> Result<Option<Done<B>>, EnvelopeError> {
        if self.collected == self.submitted {
            return Ok(None);
        }
        let wait = wait || self.submitted - self.collected >= self.capacity;
        loop {
            if let Some(done) = self.early.remove(&self.collected) {
                self.collected += 1;
                return Ok(Some(done));
            }
            if !wait {
                self.take_finished()?;
                let Some(done) = self.early.remove(&self.collected) else {
                    return Ok(None);
                };
                self.collected += 1;
                return Ok(Some(done));
            }
            let (index, done) = self
                .done
                .recv()
                .map_err(|_| EnvelopeError::Internal("the worker threads stopped"))?;
            self.at_workers -= 1;
            self.early.insert(index, done);
        }
    }

    /// Moves what the workers have finished into `early`, without waiting.
    fn take_finished(&mut self) -> Result<(), EnvelopeError> {
        loop {
            match self.done.try_recv() {
                Ok((index, done)) => {
                    self.at_workers -= 1;
                    self.early.insert(index, done);
                }
                Err(TryRecvError::Empty) => return Ok(()),
                Err(TryRecvError::Disconnected) if self.at_workers == 0 => return Ok(()),
                Err(TryRecvError::Disconnected) => {
                    return Err(EnvelopeError::Internal("the worker threads stopped"))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_come_back_in_submission_order_whatever_their_cost() {
        // Odd batches take longer, so a pool that returned batches as they
        // finished would reorder them.
        let work = |batch: &mut (usize, Vec<usize>)| {
            if batch.0 % 2 == 1 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            batch.1.push(batch.0 * 10);
            Ok(())
        };
        let order = std::thread::scope(|scope| {
            let mut workers = Workers::start(scope, 3, &work).unwrap();
            let mut order = Vec::new();
            for n in 0..40 {
                workers.submit((n, Vec::new())).unwrap();
                while let Some((batch, result)) = workers.next_done(false).unwrap() {
                    result.unwrap();
                    order.push(batch);
                }
            }
            while let Some((batch, result)) = workers.next_done(true).unwrap() {
                result.unwrap();
                order.push(batch);
            }
            order
        });
        let expected: Vec<_> = (0..40).map(|n| (n, vec![n * 10])).collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn a_failed_batch_reports_its_error_in_its_place() {
        let work = |batch: &mut usize| {
            if *batch == 5 {
                Err(EnvelopeError::TooManyFrames)
            } else {
                Ok(())
            }
        };
        let results = std::thread::scope(|scope| {
            let mut workers = Workers::start(scope, 2, &work).unwrap();
            let mut results = Vec::new();
            for n in 0..8 {
                workers.submit(n).unwrap();
                while let Some((batch, result)) = workers.next_done(false).unwrap() {
                    results.push((batch, result.is_ok()));
                }
            }
            while let Some((batch, result)) = workers.next_done(true).unwrap() {
                results.push((batch, result.is_ok()));
            }
            results
        });
        let expected: Vec<_> = (0..8).map(|n| (n, n != 5)).collect();
        assert_eq!(results, expected);
    }
}
