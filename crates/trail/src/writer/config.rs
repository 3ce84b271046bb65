//! How the live trail behaves: [`TrailConfig`] and its defaults.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;

use crate::appender::WriteMode;

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
