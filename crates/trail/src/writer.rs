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

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use keyward_audit::{pruning_checkpoint, ChainHead, Digest, DigestPublicKey, DigestSigningKey};
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::appender::{prepare_segment, segment_size, ActiveSegment, WriteMode};
use crate::entry::Entry;
use crate::error::TrailError;
use crate::layout::{self, State, SPARE_FILE};
use crate::lookup::{lookup, LookupPage, LookupQuery};
use crate::pacing::Pacing;
use crate::segment::{
    encode_frame, frame_header, segment_header, segment_start, FrameRead, FrameSummary, Frames,
    SegmentStart, FRAME_HEADER_BYTES, SEGMENT_HEADER_BYTES,
};
use crate::signing_key;
use crate::stored;

/// The clock the trail reads for digest periods and retention (the server
/// passes its service clock, so `--dev` time travel moves both together).
pub type NowFn = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// Bytes of one segment file unless configured otherwise: large enough that
/// moving on to the next (a rename and a directory fsync) and writing out
/// its spare are rare (every few seconds at the benchmark's load), small
/// enough that pruning, which deletes whole segments, can follow retention.
pub const DEFAULT_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;
/// The group commit's pace under concurrent load (see `pacing.rs`; measured
/// in BENCHMARKS.md, "The audit trail").
pub const DEFAULT_COMMIT_INTERVAL: Duration = Duration::from_millis(1);
/// Largest frame the writer makes: a batch is cut into frames at record
/// boundaries, so that no frame needs a buffer much bigger than this.
const FRAME_TARGET_BYTES: usize = 1024 * 1024;

/// How the live trail behaves.
#[derive(Clone)]
pub struct TrailConfig {
    /// Time between signed digests.
    pub digest_interval: Duration,
    /// Events older than this are pruned (at digest boundaries); `None` keeps all.
    pub retention: Option<Duration>,
    pub now: NowFn,
    /// Smallest time between the starts of two durable writes while calls
    /// keep coming (`pacing.rs`).
    pub commit_interval: Duration,
    /// Bytes of a segment file (rounded up to whole pages).
    pub segment_bytes: u64,
    /// Direct I/O where the filesystem allows it, else buffered writes.
    pub write_mode: WriteMode,
}

impl TrailConfig {
    /// Hourly digests (as CloudTrail's), no pruning, the system clock.
    pub fn new() -> Self {
        TrailConfig {
            digest_interval: Duration::from_secs(3600),
            retention: None,
            now: Arc::new(OffsetDateTime::now_utc),
            commit_interval: DEFAULT_COMMIT_INTERVAL,
            segment_bytes: DEFAULT_SEGMENT_BYTES,
            write_mode: WriteMode::Direct,
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
    Digest(Reply<()>),
    Prune(OffsetDateTime, Reply<u64>),
    Shutdown(Reply<()>),
    /// The trail handle was dropped without `shutdown`.
    Close,
}

/// Records chained and not yet written, and who waits for them.
struct Batch {
    records: Vec<u8>,
    count: u32,
    summary: FrameSummary,
    /// The head after the batch's last record.
    head: ChainHead,
    waiters: Vec<Reply<()>>,
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
    fn clear(&mut self) {
        self.records.clear();
        self.count = 0;
        self.waiters.clear();
    }
}

/// What appenders and the writer share, under one lock.
struct Queue {
    /// After the last chained record.
    head: ChainHead,
    /// After the last record on disk.
    durable_head: ChainHead,
    batch: Batch,
    commands: VecDeque<Command>,
    /// The writer sleeps until an append (or a command) wakes it.
    writer_idle: bool,
    /// The writer holds a batch back for calls in progress (`pacing.rs`):
    /// the append that ends the last of them wakes it.
    writer_pacing: bool,
    /// The writer has stopped: appends fail.
    closed: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    wake_writer: Condvar,
    /// Calls begun ([`Trail::begin_call`]) whose events are not queued yet.
    calls_in_progress: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Chains `entries` onto the head and adds them to the open batch; with
    /// `ending_call`, also ends that call in progress. Wakes the writer if it
    /// sleeps, or if it holds the batch back and this was the last call in
    /// progress.
    fn queue(
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
        let (segment, head_in_segment) =
            open_active_segment(&dir, segment_bytes, config.write_mode)?;
        // Earlier segments are read only when the active one holds no record.
        let head = match head_in_segment {
            Some(head) => head,
            None => stored::last_head(&layout::list_segments(&dir)?, state.checkpoint)?,
        };
        let preparer = Preparer::start(&dir, segment_bytes, segment.mode())?;
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
            segment,
            segment_bytes,
            preparer,
            frames: Vec::new(),
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
        self.shared.calls_in_progress.fetch_add(1, Ordering::AcqRel);
        CallInProgress {
            shared: Some(Arc::clone(&self.shared)),
        }
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

/// Creates segment `number` (written out in zeros) and opens it.
fn start_segment(
    dir: &Path,
    number: u64,
    size: u64,
    mode: WriteMode,
) -> Result<ActiveSegment, TrailError> {
    let path = dir.join(layout::segment_name(number));
    let spare = dir.join(SPARE_FILE);
    if !spare.exists() {
        prepare_spare(dir, size, mode)?;
    }
    std::fs::rename(&spare, &path).map_err(TrailError::io("rename", &spare))?;
    layout::sync_dir(dir)?;
    ActiveSegment::open(number, &path, size, 0, &[], mode)
}

/// Writes `spare.segment`: zeros under a temporary name, then renamed, so
/// that a spare that exists is whole.
fn prepare_spare(dir: &Path, size: u64, mode: WriteMode) -> Result<(), TrailError> {
    let temporary = dir.join(format!("{SPARE_FILE}.tmp"));
    prepare_segment(&temporary, size, mode)?;
    let spare = dir.join(SPARE_FILE);
    std::fs::rename(&temporary, &spare).map_err(TrailError::io("rename", &temporary))?;
    layout::sync_dir(dir)
}

/// The thread that writes the next spare segment while the writer fills the
/// active one. `busy` is held while a spare is written, so the writer, when it
/// needs the spare before it is ready, waits for it instead of writing a
/// second one.
struct Preparer {
    requests: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    busy: Arc<Mutex<()>>,
}

impl Preparer {
    fn start(dir: &Path, size: u64, mode: WriteMode) -> Result<Self, TrailError> {
        let (requests, received) = mpsc::channel::<()>();
        let busy = Arc::new(Mutex::new(()));
        let thread_busy = Arc::clone(&busy);
        let thread_dir = dir.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("keyward-trail-prepare".into())
            .spawn(move || {
                while received.recv().is_ok() {
                    let _busy = thread_busy.lock().unwrap_or_else(|p| p.into_inner());
                    if thread_dir.join(SPARE_FILE).exists() {
                        continue;
                    }
                    if let Err(error) = prepare_spare(&thread_dir, size, mode) {
                        tracing::error!(%error, "preparing the next audit trail segment failed");
                    }
                }
            })
            .map_err(TrailError::io("start the segment preparer for", dir))?;
        let preparer = Preparer {
            requests: Some(requests),
            thread: Some(thread),
            busy,
        };
        preparer.request();
        Ok(preparer)
    }

    fn request(&self) {
        if let Some(requests) = &self.requests {
            let _ = requests.send(());
        }
    }

    fn stop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The writer thread's state: the only writer of the trail.
struct Writer {
    shared: Arc<Shared>,
    dir: PathBuf,
    segment: ActiveSegment,
    segment_bytes: u64,
    preparer: Preparer,
    /// The frames of the batch being written (reused).
    frames: Vec<u8>,
    /// An empty batch with capacity, swapped in for the one being written.
    spare: Batch,
    pacing: Pacing,
    key: DigestSigningKey,
    digests: Vec<Digest>,
    state: State,
    config: TrailConfig,
}

impl Writer {
    fn run(&mut self) {
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
        self.preparer.stop();
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
        let outcome = self.write_batch(&batch);
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

    /// Frames `batch` and appends it durably, in the active segment or, when
    /// it does not fit, in the next. On failure, also says up to which record
    /// the batch did reach the disk: a batch bigger than a segment is written
    /// in parts, and the parts before a failed one stay.
    fn write_batch(&mut self, batch: &Batch) -> Result<(), (TrailError, Option<ChainHead>)> {
        let room = self.segment_bytes as usize - SEGMENT_HEADER_BYTES;
        if batch.records.len() <= FRAME_TARGET_BYTES.min(room - FRAME_HEADER_BYTES) {
            // The usual batch: one frame, its header and records appended
            // where they are, without a copy into `frames`.
            return self.write_one_frame(batch).map_err(|error| (error, None));
        }
        let mut frames = std::mem::take(&mut self.frames);
        frames.clear();
        let mut written_bytes = 0;
        let outcome = self.frame(batch, &mut frames).and_then(|()| {
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

    /// Cuts the batch into frames of at most [`FRAME_TARGET_BYTES`] at record
    /// boundaries (one frame, for any batch of usual size).
    fn frame(&self, batch: &Batch, out: &mut Vec<u8>) -> Result<(), TrailError> {
        if batch.records.len() <= FRAME_TARGET_BYTES {
            return encode_frame(out, &batch.summary, &batch.records);
        }
        let mut start = 0;
        let mut summary = FrameSummary {
            records: 0,
            ..batch.summary
        };
        let mut offset = 0;
        for_each_record_extent(&batch.records, |sequence, end| {
            if summary.records == 0 {
                summary.first_sequence = sequence;
            }
            summary.last_sequence = sequence;
            summary.records += 1;
            offset = end;
            if offset - start >= FRAME_TARGET_BYTES {
                encode_frame(out, &summary, &batch.records[start..offset])?;
                start = offset;
                summary.records = 0;
            }
            Ok(())
        })?;
        if summary.records > 0 {
            encode_frame(out, &summary, &batch.records[start..offset])?;
        }
        Ok(())
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
        let active = Some(self.segment.number());
        prune_to(&self.dir, &mut self.state, &self.digests, cutoff, active)
    }
}

/// Sleeps until an append or a command wakes the writer, or `timeout` passes.
fn wait_for_writer_work<'a>(
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

/// Calls `each(sequence, end offset)` for every record of a batch's bytes
/// (records the writer itself chained, so they are well formed).
fn for_each_record_extent(
    records: &[u8],
    mut each: impl FnMut(u64, usize) -> Result<(), TrailError>,
) -> Result<(), TrailError> {
    let header = keyward_audit::RECORD_HEADER_BYTES;
    let mut offset = 0;
    while offset < records.len() {
        let bad = || TrailError::Malformed("a queued record is cut short".to_owned());
        let field = |from: usize, length: usize| {
            records
                .get(offset + from..offset + from + length)
                .ok_or_else(bad)
        };
        let sequence = u64::from_be_bytes(field(1, 8)?.try_into().map_err(|_| bad())?);
        let length =
            u32::from_be_bytes(field(header - 4, 4)?.try_into().map_err(|_| bad())?) as usize;
        offset += header + length;
        each(sequence, offset)?;
    }
    Ok(())
}

/// The head after the last record of `frames` (frames the writer made).
fn last_head_of_frames(frames: &[u8]) -> Option<ChainHead> {
    let mut head = None;
    let mut offset = 0;
    while let Some(header) = frames.get(offset..offset + FRAME_HEADER_BYTES) {
        let length = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as usize;
        let payload =
            frames.get(offset + FRAME_HEADER_BYTES..offset + FRAME_HEADER_BYTES + length)?;
        stored::for_each_in_payload(payload, |record| {
            head = Some(record.head());
            true
        });
        offset += FRAME_HEADER_BYTES + length;
    }
    head
}

/// Splits a batch's frames into the parts that go into one segment each:
/// a part is whole frames and at most a segment's room for frames.
fn split_for_segments(frames: &[u8], segment_bytes: u64) -> Vec<&[u8]> {
    let room = segment_bytes as usize - SEGMENT_HEADER_BYTES;
    let mut parts = Vec::new();
    let mut start = 0;
    let mut offset = 0;
    while offset < frames.len() {
        let length = u32::from_be_bytes([
            frames[offset + 4],
            frames[offset + 5],
            frames[offset + 6],
            frames[offset + 7],
        ]) as usize;
        let end = offset + FRAME_HEADER_BYTES + length;
        if end - start > room && offset > start {
            parts.push(&frames[start..offset]);
            start = offset;
        }
        offset = end;
    }
    if start < frames.len() {
        parts.push(&frames[start..]);
    }
    parts
}
