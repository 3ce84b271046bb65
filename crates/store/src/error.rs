use thiserror::Error;

/// A storage failure. All of them are the server's fault, never the client's.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] rusqlite::Error),
    #[error("stored record {what} is corrupt")]
    Corrupt {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("could not {action} {path}")]
    Io {
        action: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the data directory {0} is in use by another keyward process")]
    Locked(std::path::PathBuf),
    #[error("the root key file {0} is malformed")]
    MalformedRootKey(std::path::PathBuf),
    #[error("the database schema version {found} is newer than this keyward ({supported})")]
    SchemaTooNew { found: i64, supported: i64 },
    #[error("the random generator failed")]
    Random,
}
