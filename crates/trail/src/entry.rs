//! What a caller hands the trail: one event's canonical bytes and its time.

use crate::error::TrailError;

/// One event ready to append: its canonical bytes and its time.
#[derive(Debug, Clone)]
pub struct Entry {
    pub bytes: Vec<u8>,
    /// Unix seconds of `eventTime` (the frame's time bounds, for lookups).
    pub event_time: i64,
}

impl Entry {
    /// Encodes `event` (in the caller's thread, so the writer only writes).
    pub fn new(event: &keyward_audit::CloudTrailEvent) -> Result<Self, TrailError> {
        Ok(Entry {
            bytes: event.encode()?,
            event_time: event.event_time()?.unix_timestamp(),
        })
    }
}
