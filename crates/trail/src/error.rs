//! The one error type of the trail's I/O edge.

use std::path::PathBuf;

/// Why the trail could not do what was asked. Verification *findings* are not
/// errors: they are a [`keyward_audit::TrailReport`].
#[derive(Debug, thiserror::Error)]
pub enum TrailError {
    /// Reading an earlier version's `trail.sqlite` to move it into segments.
    #[error("trail database of an earlier version: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("could not {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Audit(#[from] keyward_audit::AuditError),
    /// A stored file is not what this version writes (a corrupt or foreign file).
    #[error("the trail is malformed: {0}")]
    Malformed(String),
    /// The writer thread is gone (shut down, or it failed to start).
    #[error("the trail writer has stopped")]
    WriterStopped,
    /// The trail's key file is missing or unreadable.
    #[error("trail signing key {path}: {reason}")]
    SigningKey { path: PathBuf, reason: String },
    #[error("no audit trail in {0} (no trail/state)")]
    NoTrail(PathBuf),
    /// A batch could not be committed; the request that waited for it must
    /// not be acknowledged.
    #[error("audit trail write failed: {0}")]
    WriteFailed(String),
    #[error("could not generate a random signing key")]
    Random,
}

impl TrailError {
    pub(crate) fn io(
        action: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> TrailError {
        let path = path.to_path_buf();
        move |source| TrailError::Io {
            action,
            path,
            source,
        }
    }
}
