//! The service clock. Production reads the system time; `--dev` servers and
//! tests can move it forward so that deletion windows and rotation periods
//! (days to years) pass in a test without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn new() -> Self {
        Clock::default()
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        system.saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by up to [`MAX_ADVANCE_MS`]; returns false
    /// (and leaves the clock alone) for a negative or larger step. Time in a
    /// KMS only grows, and bounded steps keep every date representable.
    pub fn advance_ms(&self, ms: i64) -> bool {
        if !(0..=MAX_ADVANCE_MS).contains(&ms) {
            return false;
        }
        let _ = self
            .offset_ms
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |o| {
                Some(o.saturating_add(ms).min(MAX_OFFSET_MS))
            });
        true
    }
}

pub const DAY_MS: i64 = 86_400_000;
/// Largest single step of a test clock: ten years.
pub const MAX_ADVANCE_MS: i64 = 3653 * DAY_MS;
/// Largest total offset: a thousand years, far from any overflow.
const MAX_OFFSET_MS: i64 = 365_250 * DAY_MS;
