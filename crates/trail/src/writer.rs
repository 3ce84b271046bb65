//! The live trail: a writer thread, group commit, digests on
//! a timer.
//!
//! **Group commit.** Request handlers push their events onto a shared queue
//! and await a oneshot; the writer is woken (one channel message) only when
//! it is idle. It takes everything queued, chains each request's events into
//! one [`Block`] (`ChainHead::append_encoded`), stores the block as one row —
//! its own transaction, the WAL written with `synchronous=NORMAL` — then
//! `fdatasync`s the WAL and answers the batch's waiters. So nothing is
//! answered before its frames are on disk (the guarantee of
//! `synchronous=FULL`), and one fsync carries everything that arrived during
//! the previous one. Storing a block is one insert, far shorter than the
//! fsync, so syncing on the writer itself costs less than handing each batch
//! to a sync thread: that cost two thread wake-ups per batch on the path of
//! every call (BENCHMARKS.md, "The audit trail"). WAL mode makes a
//! committed-but-unsynced batch safe: a crash loses only frames that no one
//! was told about.
//!
//! If chaining or storing a block fails, the block is dropped, the head is
//! restored to its value before it, and every waiter of it gets an error:
//! nothing is acknowledged as recorded that is not on disk, and the chain has
//! no hole. A failed fsync fails every waiter of that sync.
//!
//! **Disk behaviour.** The WAL is preallocated (see [`preallocate_wal`]) and
//! checkpointed by a thread of its own, so that neither file growth nor
//! checkpoints sit on the commit path; the writer finishes each checkpoint
//! between two transactions so that SQLite restarts the WAL from its start
//! (see [`checkpoint_loop`]).
//!
//! **Digests.** Every `digest_interval` (and on shutdown) the writer commits
//! and syncs what is pending, signs a digest of the head, linked to the
//! previous digest, and stores it; after each timed digest it prunes what is
//! older than the retention period. All writes go through the writer thread,
//! so the head and the digest chain need no further locking.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
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
use crate::store::{self, Block, Entry, TRAIL_FILE};

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
    /// Appends were queued while the writer was idle (see [`Appends`]).
    Wake,
    Digest(Reply<()>),
    Prune(OffsetDateTime, Reply<u64>),
    Shutdown(Reply<()>),
    /// From the checkpoint thread: a checkpoint has copied (nearly) the
    /// whole WAL; finish it between two transactions so that SQLite writes
    /// the WAL from its start again (see [`checkpoint_loop`]).
    FinishCheckpoint,
    /// The trail handle was dropped without `shutdown`.
    Close,
}

/// Appends waiting for the writer: handlers push here instead of sending
/// each one through the command channel, so the writer is woken once when
/// it is idle, not once per event, and takes everything queued at once.
#[derive(Default)]
struct Appends {
    state: Mutex<AppendState>,
}

#[derive(Default)]
struct AppendState {
    queued: Vec<(Vec<Entry>, Reply<()>)>,
    /// The writer is idle and waits for a [`Command::Wake`].
    wake_writer: bool,
    /// The writer has stopped: appends fail.
    closed: bool,
}

impl Appends {
    fn lock(&self) -> std::sync::MutexGuard<'_, AppendState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes everything queued; with `arm`, when nothing is, asks for a
    /// wake-up by the next append (under the same lock: none is lost).
    fn take(&self, arm: bool) -> Vec<(Vec<Entry>, Reply<()>)> {
        let mut state = self.lock();
        if arm && state.queued.is_empty() {
            state.wake_writer = true;
        }
        std::mem::take(&mut state.queued)
    }

    /// Stops accepting appends; returns what is still queued.
    fn close(&self) -> Vec<(Vec<Entry>, Reply<()>)> {
        let mut state = self.lock();
        state.closed = true;
        std::mem::take(&mut state.queued)
    }
}

/// The open trail of a running server.
pub struct Trail {
    appends: Arc<Appends>,
    /// Dropping the sender stops the checkpoint thread.
    checkpointer: Mutex<Option<(mpsc::Sender<()>, JoinHandle<()>)>>,
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
        preallocate_wal(&path)?;
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
        // Checkpoints copy the WAL into the database file and fsync it; run
        // by the committing connection (SQLite's default) they stall a batch
        // for tens of milliseconds. A thread of their own runs them instead,
        // PASSIVE, which never blocks the writer.
        connection.pragma_update(None, "wal_autocheckpoint", 0)?;
        let (sender, receiver) = mpsc::channel();
        let (stop_checkpoints, checkpoint_stop) = mpsc::channel::<()>();
        let checkpointer = {
            let thread_path = path.clone();
            let writer = sender.clone();
            std::thread::Builder::new()
                .name("keyward-trail-checkpoint".into())
                .spawn(move || checkpoint_loop(&thread_path, &checkpoint_stop, &writer))
                .map_err(TrailError::io("start the checkpoint thread for", &path))?
        };
        // Commits write the WAL without syncing it (synchronous=NORMAL); the
        // writer then fsyncs the WAL itself before answering the batch: the
        // guarantee of synchronous=FULL, with a file handle kept open.
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        let wal_path = {
            let mut name = path.clone().into_os_string();
            name.push("-wal");
            PathBuf::from(name)
        };
        let appends = Arc::new(Appends::default());
        let mut writer = Writer {
            appends: Arc::clone(&appends),
            pending: Vec::new(),
            block: Block::default(),
            head_before_transaction: head,
            wal: None,
            wal_path,
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
            appends,
            checkpointer: Mutex::new(Some((stop_checkpoints, checkpointer))),
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

    /// Queues `entries` for the writer, waking it if it is idle.
    fn queue(
        &self,
        entries: Vec<Entry>,
    ) -> Result<oneshot::Receiver<Result<(), TrailError>>, TrailError> {
        let (reply, receiver) = oneshot::channel();
        let wake = {
            let mut state = self.appends.lock();
            if state.closed {
                return Err(TrailError::WriterStopped);
            }
            state.queued.push((entries, reply));
            std::mem::take(&mut state.wake_writer)
        };
        if wake {
            let sender = self.sender.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(sender) = sender.as_ref() {
                let _ = sender.send(Command::Wake);
            }
        }
        Ok(receiver)
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
        self.stop_checkpoints();
        outcome
    }

    fn stop_checkpoints(&self) {
        let checkpointer = self
            .checkpointer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((stop, thread)) = checkpointer {
            drop(stop);
            let _ = thread.join();
        }
    }
}

impl Drop for Trail {
    fn drop(&mut self) {
        // The writer finishes its queue and signs a final digest.
        if let Some(sender) = self.sender.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = sender.send(Command::Close);
        }
        if let Some(thread) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = thread.join();
        }
        self.stop_checkpoints();
    }
}

/// Size of the WAL written out before SQLite opens the trail.
const WAL_PREALLOCATION: usize = 64 * 1024 * 1024;

/// Writes a zero-filled `trail.sqlite-wal` when there is none.
///
/// Why: `fdatasync` of a file that grew must also commit its new size to the
/// filesystem journal, which waits for every other pending metadata change on
/// the filesystem (builds, logs…) and made group-commit fsyncs several times
/// slower. SQLite writes its WAL from the start and reuses it after each
/// checkpoint, and it treats a WAL whose header is not valid (zeros) as
/// empty, so with the blocks already allocated each sync flushes data only.
fn preallocate_wal(database: &Path) -> Result<(), TrailError> {
    let mut name = database.as_os_str().to_owned();
    name.push("-wal");
    let wal = PathBuf::from(name);
    if wal.exists() {
        return Ok(());
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&wal)
        .map_err(TrailError::io("create", &wal))?;
    let chunk = vec![0u8; 1024 * 1024];
    for _ in 0..WAL_PREALLOCATION / chunk.len() {
        std::io::Write::write_all(&mut file, &chunk).map_err(TrailError::io("write", &wal))?;
    }
    file.sync_all().map_err(TrailError::io("fsync", &wal))?;
    Ok(())
}

/// How often the WAL is checkpointed into the database file.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(1);

/// Checkpoints the WAL every [`CHECKPOINT_INTERVAL`] until `stop` closes,
/// then once more (TRUNCATE, as the last one out).
fn checkpoint_loop(path: &Path, stop: &mpsc::Receiver<()>, writer: &mpsc::Sender<Command>) {
    let connection = match store::open_writer(path) {
        Ok(connection) => connection,
        Err(error) => {
            tracing::error!(%error, "the trail checkpoint thread could not open the trail");
            return;
        }
    };
    let checkpoint = |mode: &str| {
        let sql = format!("PRAGMA wal_checkpoint({mode})");
        if let Err(error) = connection.query_row(&sql, [], |_| Ok(())) {
            tracing::warn!(%error, "trail checkpoint failed");
        }
    };
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(CHECKPOINT_INTERVAL) {
        checkpoint("PASSIVE");
        // Under a steady load the writer appends while the checkpoint above
        // copies, so the WAL is never completely copied when the writer
        // begins a transaction, and SQLite never goes back to its start: the
        // WAL grew without bound past its preallocated blocks (hundreds of
        // MB in a benchmark), and every fsync had to write the file's new
        // size and allocate blocks again. The writer copies the short rest
        // between two of its transactions, so its next one restarts the WAL.
        let _ = writer.send(Command::FinishCheckpoint);
    }
    checkpoint("TRUNCATE");
}

/// Largest number of events in one transaction: bounds the time a batch
/// holds its waiters, not the throughput.
const MAX_BATCH_EVENTS: usize = 4096;

/// The writer thread's state: the only writer of the trail (see the module
/// comment for its group commit).
struct Writer {
    /// Appends queued by handlers.
    appends: Arc<Appends>,
    /// Waiters of the records in `block`.
    pending: Vec<Reply<()>>,
    /// The records chained since the last commit, stored by the next one.
    block: Block,
    /// The head to restore if the block cannot be stored.
    head_before_transaction: ChainHead,
    /// The WAL, opened at the first sync (it exists once a block was stored).
    wal: Option<std::fs::File>,
    wal_path: PathBuf,
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
            if Instant::now() >= next_digest {
                next_digest = Instant::now() + self.config.digest_interval;
                self.commit_queued();
                if let Err(error) = self.timed_digest() {
                    tracing::error!(%error, "signing the trail digest failed");
                }
            }
            // Commands go first, so that a steady stream of appends cannot
            // hold a digest or a shutdown back.
            match receiver.try_recv() {
                Ok(command) => {
                    if self.handle(command) {
                        return;
                    }
                    continue;
                }
                Err(TryRecvError::Disconnected) => {
                    self.handle(Command::Close);
                    return;
                }
                Err(TryRecvError::Empty) => {}
            }
            // Everything queued (what arrived during the last fsync) is one
            // block, one fsync. When nothing is, ask the next append for a
            // wake-up (under the queue's lock, so none is lost) and wait.
            let queued = self.appends.take(true);
            if !queued.is_empty() {
                self.insert_all(queued);
                self.commit();
                continue;
            }
            let wait = next_digest.saturating_duration_since(Instant::now());
            let command = match receiver.recv_timeout(wait) {
                Ok(command) => command,
                // The digest is due: signed at the top of the loop.
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => Command::Close,
            };
            if self.handle(command) {
                return;
            }
        }
    }

    /// Carries out one command; whether the writer stops.
    fn handle(&mut self, command: Command) -> bool {
        match command {
            Command::Wake => {}
            Command::FinishCheckpoint => self.finish_checkpoint(),
            Command::Digest(reply) => {
                self.commit_queued();
                let _ = reply.send(self.digest());
            }
            Command::Prune(cutoff, reply) => {
                self.commit_queued();
                let _ = reply.send(self.prune(cutoff));
            }
            Command::Shutdown(reply) => {
                self.drain();
                let _ = reply.send(self.digest());
                return true;
            }
            Command::Close => {
                self.drain();
                if let Err(error) = self.digest() {
                    tracing::error!(%error, "signing the final trail digest failed");
                }
                return true;
            }
        }
        false
    }

    /// Stops taking appends, records what is still queued, then makes
    /// everything durable.
    fn drain(&mut self) {
        let queued = self.appends.close();
        self.insert_all(queued);
        self.commit();
    }

    /// Makes everything queued so far durable (before a command that must
    /// follow every earlier event).
    fn commit_queued(&mut self) {
        let queued = self.appends.take(false);
        self.insert_all(queued);
        self.commit();
    }

    /// Inserts queued appends in order, committing every
    /// [`MAX_BATCH_EVENTS`].
    fn insert_all(&mut self, queued: Vec<(Vec<Entry>, Reply<()>)>) {
        for (entries, reply) in queued {
            self.insert(entries, reply);
            if self.pending.len() >= MAX_BATCH_EVENTS {
                self.commit();
            }
        }
    }

    /// Chains one request's events into the open block.
    fn insert(&mut self, entries: Vec<Entry>, reply: Reply<()>) {
        if self.block.is_empty() {
            self.head_before_transaction = self.head;
        }
        let before = self.head;
        let mut chained = Ok(());
        for entry in &entries {
            if let Err(error) = self
                .block
                .push(&mut self.head, &entry.bytes, entry.event_time)
            {
                chained = Err(error);
                break;
            }
        }
        match chained {
            Ok(()) => self.pending.push(reply),
            Err(error) => {
                // Part of the request's events may be in the block: abandon
                // the whole block, so the chain has no hole.
                self.head = before;
                let _ = reply.send(Err(TrailError::WriteFailed(error.to_string())));
                self.abort(&error.to_string());
            }
        }
    }

    /// Drops the open block and fails its waiters.
    fn abort(&mut self, reason: &str) {
        tracing::error!(reason, "writing the audit trail failed");
        self.block.clear();
        self.head = self.head_before_transaction;
        for reply in self.pending.drain(..) {
            let _ = reply.send(Err(TrailError::WriteFailed(reason.to_owned())));
        }
    }

    /// Stores the open block, if any (one row, its own transaction); on
    /// failure drops it and fails its waiters. Whether the waiters now wait
    /// for a sync.
    fn commit_transaction(&mut self) -> bool {
        if self.block.is_empty() {
            return false;
        }
        if let Err(error) = store::insert_block(&self.connection, &self.block) {
            self.abort(&error.to_string());
            return false;
        }
        self.block.clear();
        true
    }

    /// Stores the open block, fsyncs the WAL and answers the block's waiters.
    fn commit(&mut self) {
        if !self.commit_transaction() {
            return;
        }
        let outcome = self.sync_wal();
        if let Err(error) = &outcome {
            tracing::error!(%error, "syncing the audit trail failed; the calls waiting for it are refused");
        }
        answer(std::mem::take(&mut self.pending), &outcome);
    }

    /// Commits what is open, then copies what the checkpoint thread left of
    /// the WAL into the database, so that the next block is written at the
    /// WAL's start (its preallocated blocks). SQLite syncs the WAL before
    /// copying it.
    fn finish_checkpoint(&mut self) {
        self.commit();
        if let Err(error) = self
            .connection
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
        {
            tracing::warn!(%error, "trail checkpoint failed");
        }
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
        self.sync_wal()?;
        self.last_digest = Some(digest);
        Ok(())
    }

    fn timed_digest(&mut self) -> Result<(), TrailError> {
        self.commit();
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
        self.sync_wal()?;
        Ok(deleted)
    }

    /// Makes everything committed so far durable: `fdatasync` of the WAL,
    /// through a handle kept open (fsync flushes the file, whichever
    /// descriptor asks).
    fn sync_wal(&mut self) -> Result<(), TrailError> {
        if self.wal.is_none() {
            let file = std::fs::File::open(&self.wal_path)
                .map_err(TrailError::io("open", &self.wal_path))?;
            self.wal = Some(file);
        }
        match &self.wal {
            Some(file) => file
                .sync_data()
                .map_err(TrailError::io("fsync", &self.wal_path)),
            None => Ok(()),
        }
    }
}

/// Answers every waiter of a sync with its outcome.
fn answer(replies: Vec<Reply<()>>, outcome: &Result<(), TrailError>) {
    for reply in replies {
        let _ = reply.send(copy_outcome(outcome));
    }
}

fn copy_outcome(outcome: &Result<(), TrailError>) -> Result<(), TrailError> {
    match outcome {
        Ok(()) => Ok(()),
        Err(error) => Err(TrailError::WriteFailed(error.to_string())),
    }
}
