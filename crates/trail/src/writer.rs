//! The live trail: one writer thread, group commit, digests on a timer.
//!
//! **Group commit.** Request handlers hand their events to the writer through
//! a channel and wait. The writer takes everything queued, chains it with
//! [`ChainHead::append`], inserts it in *one* SQLite transaction and commits
//! (WAL, `synchronous=FULL`: one fsync), then wakes every waiter of the batch.
//! While it waits for the disk, the next batch queues up, so at concurrency N
//! one fsync carries about N events: throughput follows the fsync rate times
//! the batch size, not the fsync rate alone.
//!
//! If the commit fails, the head is restored to its value before the batch
//! and every waiter of the batch gets an error: nothing is acknowledged as
//! recorded that is not on disk, and the chain has no hole.
//!
//! **Digests.** Every `digest_interval` (and on shutdown) the writer signs a
//! digest of the head, linked to the previous digest, and stores it; after
//! each timed digest it prunes what is older than the retention period.
//! All writes go through this one thread, so the head and the digest chain
//! need no further locking.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use keyward_audit::{pruning_checkpoint, ChainHead, Digest, DigestPublicKey, DigestSigningKey};
use rusqlite::Connection;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::error::TrailError;
use crate::lookup::{lookup, LookupPage, LookupQuery};
use crate::signing_key;
use crate::store::{self, Entry, TRAIL_FILE};

/// The clock the trail reads for digest periods and retention (the server
/// passes its service clock, so `--dev` time travel moves both together).
pub type NowFn = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// How the live trail behaves.
#[derive(Clone)]
pub struct TrailConfig {
    /// Time between signed digests.
    pub digest_interval: Duration,
    /// Events older than this are pruned (at digest boundaries); `None` keeps all.
    pub retention: Option<Duration>,
    pub now: NowFn,
}

impl TrailConfig {
    /// Hourly digests (as CloudTrail's), no pruning, the system clock.
    pub fn new() -> Self {
        TrailConfig {
            digest_interval: Duration::from_secs(3600),
            retention: None,
            now: Arc::new(OffsetDateTime::now_utc),
        }
    }
}

impl Default for TrailConfig {
    fn default() -> Self {
        Self::new()
    }
}

type Reply<T> = oneshot::Sender<Result<T, TrailError>>;

enum Command {
    Append(Vec<Entry>, Reply<()>),
    Digest(Reply<()>),
    Prune(OffsetDateTime, Reply<u64>),
    Shutdown(Reply<()>),
}

/// The open trail of a running server.
pub struct Trail {
    sender: Mutex<Option<mpsc::Sender<Command>>>,
    reader: Mutex<Connection>,
    thread: Mutex<Option<JoinHandle<()>>>,
    public_key: DigestPublicKey,
    path: PathBuf,
}

impl Trail {
    /// Opens (creating) `<data_dir>/trail.sqlite` and its signing key, and
    /// starts the writer thread.
    pub fn open(data_dir: &Path, config: TrailConfig) -> Result<Trail, TrailError> {
        let path = data_dir.join(TRAIL_FILE);
        let connection = store::open_writer(&path)?;
        let key = signing_key::load_or_create(data_dir)?;
        let public_key = key.public_key();
        let head = store::load_head(&connection)?;
        let digests = store::load_digests(&connection)?;
        let created: Option<i64> = store::meta(&connection, "created")?;
        let created = match created {
            Some(seconds) => seconds,
            None => {
                let now = (config.now)().unix_timestamp();
                store::set_meta(&connection, "created", &now)?;
                now
            }
        };
        let reader = store::open_reader(&path)?;
        let (sender, receiver) = mpsc::channel();
        let mut writer = Writer {
            connection,
            key,
            head,
            last_digest: digests.last().cloned(),
            created,
            config,
        };
        let thread = std::thread::Builder::new()
            .name("keyward-trail".into())
            .spawn(move || writer.run(receiver))
            .map_err(TrailError::io("start the writer thread for", &path))?;
        Ok(Trail {
            sender: Mutex::new(Some(sender)),
            reader: Mutex::new(reader),
            thread: Mutex::new(Some(thread)),
            public_key,
            path,
        })
    }

    fn send<T>(
        &self,
        make: impl FnOnce(Reply<T>) -> Command,
    ) -> Result<oneshot::Receiver<Result<T, TrailError>>, TrailError> {
        let (reply, receiver) = oneshot::channel();
        let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
        sender
            .as_ref()
            .ok_or(TrailError::WriterStopped)?
            .send(make(reply))
            .map_err(|_| TrailError::WriterStopped)?;
        Ok(receiver)
    }

    /// Records `entries` (the events of one request, in order) and returns
    /// once they are durable.
    pub async fn append(&self, entries: Vec<Entry>) -> Result<(), TrailError> {
        let receiver = self.send(|reply| Command::Append(entries, reply))?;
        receiver.await.map_err(|_| TrailError::WriterStopped)?
    }

    /// [`Trail::append`] for threads outside the async runtime.
    pub fn append_blocking(&self, entries: Vec<Entry>) -> Result<(), TrailError> {
        let receiver = self.send(|reply| Command::Append(entries, reply))?;
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
    /// (blocking); returns how many events were deleted.
    pub fn prune(&self, cutoff: OffsetDateTime) -> Result<u64, TrailError> {
        let receiver = self.send(|reply| Command::Prune(cutoff, reply))?;
        receiver
            .blocking_recv()
            .map_err(|_| TrailError::WriterStopped)?
    }

    /// Runs a lookup on the reader connection (blocking: call it from a
    /// blocking task). Sees every committed batch.
    pub fn lookup(&self, query: &LookupQuery) -> Result<LookupPage, TrailError> {
        let connection = self.reader.lock().unwrap_or_else(|p| p.into_inner());
        lookup(&connection, query)
    }

    /// The key digests are signed with.
    pub fn public_key(&self) -> DigestPublicKey {
        self.public_key
    }

    pub fn path(&self) -> &Path {
        &self.path
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
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
        outcome
    }
}

impl Drop for Trail {
    fn drop(&mut self) {
        // Closing the channel lets the writer finish its queue and sign a final digest.
        self.sender.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
    }
}

/// Largest number of events committed in one transaction: bounds the time a
/// batch holds its waiters, not the throughput.
const MAX_BATCH_EVENTS: usize = 4096;

struct Writer {
    connection: Connection,
    key: DigestSigningKey,
    head: ChainHead,
    last_digest: Option<Digest>,
    /// Unix seconds the trail was created: the first digest's start.
    created: i64,
    config: TrailConfig,
}

impl Writer {
    fn run(&mut self, receiver: mpsc::Receiver<Command>) {
        let mut next_digest = Instant::now() + self.config.digest_interval;
        loop {
            let wait = next_digest.saturating_duration_since(Instant::now());
            let first = match receiver.recv_timeout(wait) {
                Ok(command) => command,
                Err(RecvTimeoutError::Timeout) => {
                    next_digest = Instant::now() + self.config.digest_interval;
                    if let Err(error) = self.timed_digest() {
                        tracing::error!(%error, "signing the trail digest failed");
                    }
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    if let Err(error) = self.digest() {
                        tracing::error!(%error, "signing the final trail digest failed");
                    }
                    return;
                }
            };
            let mut batch: Vec<(Vec<Entry>, Reply<()>)> = Vec::new();
            let mut others: Vec<Command> = Vec::new();
            let mut events = 0usize;
            let mut next = Some(first);
            while let Some(command) = next.take() {
                match command {
                    Command::Append(entries, reply) => {
                        events += entries.len();
                        batch.push((entries, reply));
                    }
                    other => others.push(other),
                }
                if events < MAX_BATCH_EVENTS && others.is_empty() {
                    next = receiver.try_recv().ok();
                }
            }
            if !batch.is_empty() {
                self.commit(batch);
            }
            for command in others {
                match command {
                    Command::Append(..) => {}
                    Command::Digest(reply) => {
                        let _ = reply.send(self.digest());
                    }
                    Command::Prune(cutoff, reply) => {
                        let _ = reply.send(self.prune(cutoff));
                    }
                    Command::Shutdown(reply) => {
                        // Drain what was queued before the shutdown request.
                        let mut rest = Vec::new();
                        while let Ok(command) = receiver.try_recv() {
                            if let Command::Append(entries, reply) = command {
                                rest.push((entries, reply));
                            }
                        }
                        if !rest.is_empty() {
                            self.commit(rest);
                        }
                        let _ = reply.send(self.digest());
                        return;
                    }
                }
            }
        }
    }

    /// Writes one batch in one transaction and answers its waiters.
    fn commit(&mut self, batch: Vec<(Vec<Entry>, Reply<()>)>) {
        let before = self.head;
        match self.write(&batch) {
            Ok(()) => {
                for (_, reply) in batch {
                    let _ = reply.send(Ok(()));
                }
            }
            Err(error) => {
                self.head = before;
                tracing::error!(%error, "writing the audit trail failed");
                let message = error.to_string();
                for (_, reply) in batch {
                    let _ = reply.send(Err(TrailError::WriteFailed(message.clone())));
                }
            }
        }
    }

    fn write(&mut self, batch: &[(Vec<Entry>, Reply<()>)]) -> Result<(), TrailError> {
        let transaction = self.connection.transaction()?;
        let mut records = Vec::with_capacity(batch.len());
        for (entries, _) in batch {
            for entry in entries {
                let record = self.head.append(entry.bytes.clone())?;
                records.push((record, &entry.index));
            }
        }
        store::insert_records(&transaction, &records)?;
        transaction.commit()?;
        Ok(())
    }

    fn now(&self) -> OffsetDateTime {
        (self.config.now)()
    }

    /// Signs and stores the digest following the last one, up to the head.
    fn digest(&mut self) -> Result<(), TrailError> {
        let start = match &self.last_digest {
            Some(previous) => previous.end_time(),
            None => OffsetDateTime::from_unix_timestamp(self.created)
                .map_err(|e| TrailError::Malformed(format!("creation time: {e}")))?,
        };
        let end = self.now().max(start);
        let digest = self
            .key
            .sign_digest(self.last_digest.as_ref(), self.head, start, end)?;
        store::insert_digest(&self.connection, &digest)?;
        self.last_digest = Some(digest);
        Ok(())
    }

    fn timed_digest(&mut self) -> Result<(), TrailError> {
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
        let digests = store::load_digests(&self.connection)?;
        let checkpoint = pruning_checkpoint(&digests, cutoff);
        let current = store::load_checkpoint(&self.connection)?;
        if checkpoint.sequence <= current.sequence {
            return Ok(0);
        }
        let transaction = self.connection.transaction()?;
        let deleted = store::prune_to(&transaction, checkpoint)?;
        transaction.commit()?;
        Ok(deleted)
    }
}
