//! The audit trail's I/O edge: a durable, append-only, hash-chained store of
//! CloudTrail events with group commit, signed digests, retention and
//! LookupEvents queries. The pure parts (the event, the chain, digests,
//! verification, export formats) are `keyward-audit`'s; this crate decides
//! where the bytes live and when they are on disk.
//!
//! ```text
//! <data-dir>/trail.sqlite          records (a block per group commit), digests, checkpoint (WAL)
//! <data-dir>/trail-signing-key     Ed25519 seed, hex, 0600
//! <data-dir>/trail-public-key.pem  the key auditors verify with
//! ```
//!
//! Invariants:
//! - [`Trail::append`] returns only after the events' block is committed and
//!   the WAL holding it is fsynced. A failed batch is reported to every waiter
//!   and leaves no hole in the chain.
//! - Only the writer thread writes; lookups read through their own connection
//!   and see committed batches only.
//! - Pruning cuts only at a signed digest's head, which is stored as the
//!   checkpoint, so the remaining trail verifies.
//! - Nothing here builds events: what an event may contain is decided by
//!   `keyward-audit`'s typed builders.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod error;
mod index;
mod lookup;
mod offline;
mod signing_key;
mod store;
mod writer;

pub use error::TrailError;
pub use index::{lookup_username, EventIndex};
pub use lookup::{FoundEvent, LookupAttribute, LookupPage, LookupQuery};
pub use offline::{
    export_data_dir, prune_data_dir, verify_data_dir, ExportSummary, EXPORT_BUCKET,
    EXPORT_TRAIL_NAME,
};
pub use signing_key::{parse_public_key, PUBLIC_KEY_FILE, SIGNING_KEY_FILE};
pub use store::{Entry, TRAIL_FILE};
pub use writer::{NowFn, Trail, TrailConfig};

#[cfg(test)]
mod tests;
