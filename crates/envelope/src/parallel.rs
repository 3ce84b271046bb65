//! Frames sealed and opened on worker threads, in message order.
//!
//! Why: a frame's AES-GCM depends only on the message's content key and the
//! frame's sequence number, so frames are independent work, and one core's
//! cipher speed — not the format — bounds a single-threaded encryptor. The
//! calling thread keeps everything that must happen in message order
//! (reading, the signature hash, writing); workers only seal or open
//! batches of regular frames in place. Workers take batches from one shared
//! queue, so a worker that shares its core with the reading thread simply
//! takes fewer; the caller gets the batches back in the order it handed
//! them out (holding back any that finish early), so the output needs no
//! further ordering.
//!
//! Memory is bounded: at most [`DEPTH_PER_WORKER`] batches per worker are
//! in flight, each of about [`BATCH_BYTES`] of frames.

use std::collections::BTreeMap;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::Scope;

use crate::error::EnvelopeError;

/// Plaintext bytes per batch of frames: large enough that handing a batch
/// to another thread costs nothing next to its cipher work, small enough
/// that a batch is still in the shared cache when its worker reads it.
pub(crate) const BATCH_BYTES: usize = 1 << 20;

/// Batches in flight per worker: one being worked on, one waiting, so a
/// worker never idles while the caller reads or writes.
const DEPTH_PER_WORKER: usize = 2;

/// What a worker hands back: the batch and how its work went.
type Done<B> = (B, Result<(), EnvelopeError>);

/// Worker threads that run one function on batches, returned in order.
pub(crate) struct Workers<B> {
    jobs: SyncSender<(usize, B)>,
    done: Receiver<(usize, Done<B>)>,
    /// Batches that came back before an older one.
    early: BTreeMap<usize, Done<B>>,
    capacity: usize,
    submitted: usize,
    collected: usize,
}

impl<B: Send> Workers<B> {
    /// Starts `threads` workers in `scope`, each running `work` on the
    /// batches it takes. They stop when `self` is dropped.
    pub(crate) fn start<'scope, 'env, F>(
        scope: &'scope Scope<'scope, 'env>,
        threads: usize,
        work: &'scope F,
    ) -> Result<Self, EnvelopeError>
    where
        B: 'scope,
        F: Fn(&mut B) -> Result<(), EnvelopeError> + Sync,
    {
        let threads = threads.max(1);
        let capacity = threads * DEPTH_PER_WORKER;
        let (jobs, job_receiver) = sync_channel::<(usize, B)>(capacity);
        let job_receiver = Arc::new(Mutex::new(job_receiver));
        let (done_sender, done) = channel();
        for _ in 0..threads {
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
            jobs,
            done,
            early: BTreeMap::new(),
            capacity,
            submitted: 0,
            collected: 0,
        })
    }

    /// Hands `batch` to the workers. When they already have their fill,
    /// first waits for the oldest batch and returns it.
    pub(crate) fn submit(&mut self, batch: B) -> Result<Option<Done<B>>, EnvelopeError> {
        let finished = if self.submitted - self.collected == self.capacity {
            self.next_done()?
        } else {
            None
        };
        // At most `capacity` batches are ever queued, so this never blocks;
        // it fails only if every worker is gone.
        self.jobs
            .send((self.submitted, batch))
            .map_err(|_| EnvelopeError::Internal("the worker threads stopped"))?;
        self.submitted += 1;
        Ok(finished)
    }

    /// The oldest batch not yet returned, once it is done; `None` when every
    /// submitted batch has been returned.
    pub(crate) fn next_done(&mut self) -> Result<Option<Done<B>>, EnvelopeError> {
        if self.collected == self.submitted {
            return Ok(None);
        }
        let done = loop {
            if let Some(done) = self.early.remove(&self.collected) {
                break done;
            }
            let (index, done) = self
                .done
                .recv()
                .map_err(|_| EnvelopeError::Internal("the worker threads stopped"))?;
            if index == self.collected {
                break done;
            }
            self.early.insert(index, done);
        };
        self.collected += 1;
        Ok(Some(done))
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
                if let Some((batch, result)) = workers.submit((n, Vec::new())).unwrap() {
                    result.unwrap();
                    order.push(batch);
                }
            }
            while let Some((batch, result)) = workers.next_done().unwrap() {
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
                if let Some((batch, result)) = workers.submit(n).unwrap() {
                    results.push((batch, result.is_ok()));
                }
            }
            while let Some((batch, result)) = workers.next_done().unwrap() {
                results.push((batch, result.is_ok()));
            }
            results
        });
        let expected: Vec<_> = (0..8).map(|n| (n, n != 5)).collect();
        assert_eq!(results, expected);
    }
}
