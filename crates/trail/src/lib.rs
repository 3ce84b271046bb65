//! The audit trail's I/O edge: a durable, append-only, hash-chained store of
//! CloudTrail events with group commit, signed digests, retention and
//! LookupEvents queries. The pure parts (the event, the chain, digests,
//! verification, export formats) are `keyward-audit`'s; this crate decides
//! where the bytes live and when they are on disk.
//!
//! ```text
//! <data-dir>/trail/segment-*.log   records, in a frame per group commit (segment.rs)
//! <data-dir>/trail/spare.segment   the next segment, written out ahead of time
//! <data-dir>/trail/state           creation time, pruning checkpoint
//! <data-dir>/trail/digests         the signed digests
//! <data-dir>/trail-signing-key     Ed25519 seed, hex, 0600
//! <data-dir>/trail-public-key.pem  the key auditors verify with
//! ```
//!
//! Invariants:
//! - [`Trail::append`] returns only after the events' frame is on disk
//!   (a direct synchronous write, or a write and `fdatasync`). A failed write
//!   is reported to every waiter of it and of what was chained after it, and
//!   leaves no hole in the chain.
//! - Only the writer thread writes segments; readers (lookups, verify,
//!   export) read up to where the written frames end and never lock.
//! - Pruning cuts only at a signed digest's head, which is stored as the
//!   checkpoint (before any segment is deleted), so the remaining trail
//!   verifies.
//! - Nothing here builds events: what an event may contain is decided by
//!   `keyward-audit`'s typed builders.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod appender;
mod entry;
mod error;
mod index;
mod layout;
mod legacy;
mod lookup;
mod offline;
mod pacing;
mod prune;
mod segment;
mod signing_key;
mod stored;
mod writer;

pub use appender::WriteMode;
pub use entry::Entry;
pub use error::TrailError;
pub use index::{lookup_username, EventIndex};
pub use layout::{LEGACY_FILE, TRAIL_DIR};
pub use lookup::{FoundEvent, LookupAttribute, LookupPage, LookupQuery};
pub use offline::{
    export_data_dir, prune_data_dir, verify_data_dir, verify_data_dir_in_detail, ExportSummary,
    Verification, EXPORT_BUCKET, EXPORT_TRAIL_NAME,
};
pub use signing_key::{parse_public_key, PUBLIC_KEY_FILE, SIGNING_KEY_FILE};
pub use stored::CutShortWrite;
pub use writer::{
    CallInProgress, NowFn, Trail, TrailConfig, DEFAULT_COMMIT_INTERVAL, DEFAULT_SEGMENT_BYTES,
};

#[cfg(test)]
mod tests;
