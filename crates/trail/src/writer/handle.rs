//! The [`Trail`] handle a server holds: opening the trail (moving an
//! earlier format, the signing key, the state, the writer thread started),
//! appending, the commands it sends the writer, and shutdown.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use keyward_audit::{ChainHead, DigestPublicKey};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use super::batch_write::BatchWriter;
use super::config::TrailConfig;
use super::queue::{Batch, CallInProgress, Command, Queue, Reply, Shared};
use super::thread::Writer;
use crate::appender::segment_size;
use crate::entry::Entry;
use crate::error::TrailError;
use crate::layout::{self, State, SPARE_FILE};
use crate::lookup::{lookup, LookupPage, LookupQuery};
use crate::pacing::Pacing;
use crate::signing_key;

/// The open trail of a running server.
pub struct Trail {
    shared: Arc<Shared>,
    thread: Mutex<Option<JoinHandle<()>>>,
    public_key: DigestPublicKey,
    dir: PathBuf,
}

impl Trail {
    /// Opens (creating, or moving an earlier format's `trail.sqlite` into)
    /// `<data_dir>/trail` and the signing key, clears a write a crash cut
    /// short, and starts the writer thread.
    pub fn open(data_dir: &Path, config: TrailConfig) -> Result<Trail, TrailError> {
        let segment_bytes = segment_size(config.segment_bytes);
        crate::legacy::migrate(data_dir, segment_bytes)?;
        let dir = layout::trail_dir(data_dir);
        std::fs::create_dir_all(&dir).map_err(TrailError::io("create", &dir))?;
        let key = signing_key::load_or_create(data_dir)?;
        let public_key = key.public_key();
        let state = if layout::exists(data_dir) {
            State::read(&dir)?
        } else {
            let state = State {
                created: (config.now)().unix_timestamp(),
                checkpoint: ChainHead::GENESIS,
            };
            state.write(&dir)?;
            state
        };
        let digests = layout::read_digests(&dir)?;
        let _ = std::fs::remove_file(dir.join(format!("{SPARE_FILE}.tmp")));
        let (batches, head) =
            BatchWriter::open(&dir, segment_bytes, config.write_mode, state.checkpoint)?;
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                head,
                durable_head: head,
                batch: Batch::default(),
                commands: VecDeque::new(),
                writer_idle: false,
                writer_pacing: false,
                closed: false,
            }),
            wake_writer: Condvar::new(),
            calls_in_progress: AtomicUsize::new(0),
        });
        let mut writer = Writer {
            shared: Arc::clone(&shared),
            dir: dir.clone(),
            batches,
            spare: Batch::default(),
            pacing: Pacing::new(config.commit_interval),
            key,
            digests,
            state,
            config,
        };
        let thread = std::thread::Builder::new()
            .name("keyward-trail".into())
            .spawn(move || writer.run())
            .map_err(TrailError::io("start the writer thread for", &dir))?;
        Ok(Trail {
            shared,
            thread: Mutex::new(Some(thread)),
            public_key,
            dir,
        })
    }

    fn send<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<oneshot::Receiver<Result<T, TrailError>>, TrailError> {
        let (reply, receiver) = oneshot::channel();
        {
            let mut queue = self.shared.lock();
            if queue.closed {
                return Err(TrailError::WriterStopped);
            }
            queue.commands.push_back(make(reply));
        }
        self.shared.wake_writer.notify_one();
        Ok(receiver)
    }

    /// Chains `entries` onto the head and adds them to the open batch,
    /// waking the writer if it sleeps.
    fn queue(
        &self,
        entries: Vec<Entry>,
    ) -> Result<oneshot::Receiver<Result<(), TrailError>>, TrailError> {
        self.shared.queue(entries, None)
    }

    /// Notes a call that will append its events: until it does (or the
    /// returned value drops), the writer may hold a batch back for it.
    pub fn begin_call(&self) -> CallInProgress {
        CallInProgress::begin(&self.shared)
    }

    /// Records `entries` (the events of one request, in order) and returns
    /// once they are durable.
    pub async fn append(&self, entries: Vec<Entry>) -> Result<(), TrailError> {
        let receiver = self.queue(entries)?;
        receiver.await.map_err(|_| TrailError::WriterStopped)?
    }

    /// [`Trail::append`] for threads outside the async runtime.
    pub fn append_blocking(&self, entries: Vec<Entry>) -> Result<(), TrailError> {
        let receiver = self.queue(entries)?;
        receiver
            .blocking_recv()
            .map_err(|_| TrailError::WriterStopped)?
    }

    /// Signs a digest of everything recorded so far (blocking).
    pub fn sign_digest(&self) -> Result<(), TrailError> {
        let receiver = self.send(Command::Digest)?;
        receiver
            .blocking_recv()
            .map_err(|_| TrailError::WriterStopped)?
    }

    /// Prunes events covered by digests that ended at or before `cutoff`
    /// (blocking); returns how many events were pruned.
    pub fn prune(&self, cutoff: OffsetDateTime) -> Result<u64, TrailError> {
        let receiver = self.send(|reply| Command::Prune(cutoff, reply))?;
        receiver
            .blocking_recv()
            .map_err(|_| TrailError::WriterStopped)?
    }

    /// Runs a lookup (blocking: call it from a blocking task). Sees every
    /// written batch.
    pub fn lookup(&self, query: &LookupQuery) -> Result<LookupPage, TrailError> {
        lookup(&self.dir, query)
    }

    /// The key digests are signed with.
    pub fn public_key(&self) -> DigestPublicKey {
        self.public_key
    }

    /// The trail's directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Writes what is queued, signs a final digest and stops the writer
    /// (blocking). Appends after this fail with [`TrailError::WriterStopped`].
    pub fn shutdown(&self) -> Result<(), TrailError> {
        let outcome = match self.send(Command::Shutdown) {
            Ok(receiver) => receiver
                .blocking_recv()
                .map_err(|_| TrailError::WriterStopped)?,
            Err(error) => Err(error),
        };
        self.join();
        outcome
    }

    fn join(&self) {
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Trail {
    fn drop(&mut self) {
        // The writer writes what is queued and signs a final digest.
        let stopped = {
            let mut queue = self.shared.lock();
            let stopped = queue.closed;
            if !stopped {
                queue.commands.push_back(Command::Close);
            }
            stopped
        };
        if !stopped {
            self.shared.wake_writer.notify_one();
        }
        self.join();
    }
}
