//! Durable storage for keyward: the [`Store`] trait, its row types, the
//! embedded SQLite backend and the data directory with its root key.
//!
//! The domain (`keyward-kms`) keeps its state in memory and writes through
//! this trait: every [`Store::apply`] is one atomic, durable transaction
//! (fsynced before it returns), so an acknowledged change survives a crash.
//! Rows are plain data with `serde`; domain types never cross this boundary.
//! Key material is stored only wrapped by the root key.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod data_dir;
mod error;
mod rows;
mod sqlite;

pub use data_dir::{write_secret_file, DataDir, DirLock, DATABASE_FILE, ROOT_KEY_FILE};
pub use error::StoreError;
pub use rows::{
    AccessKeyRow, AccountRow, AliasRow, DocumentRow, KeyRow, MaterialRow, Mutation, Snapshot,
};
pub use sqlite::SqliteStore;

/// A storage backend. Implementations must make each `apply` atomic and
/// durable before returning, and must return in `load` exactly what was
/// applied.
pub trait Store: Send + Sync {
    /// Everything stored, for the domain to build its in-memory state.
    fn load(&self) -> Result<Snapshot, StoreError>;
    /// Applies `batch` as one transaction.
    fn apply(&self, batch: &[Mutation]) -> Result<(), StoreError>;
}
