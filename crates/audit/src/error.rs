//! The crate's error type: things that stop an operation from producing a value.

use thiserror::Error;

/// Why an audit operation could not produce its value.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AuditError {
    #[error("the audit event could not be written as JSON")]
    EventEncoding {
        #[source]
        source: serde_json::Error,
    },

    #[error("the bytes are not a CloudTrail record this crate can read")]
    EventDecoding {
        #[source]
        source: serde_json::Error,
    },

    #[error("`{text}` is not an RFC 3339 time")]
    InvalidEventTime {
        text: String,
        #[source]
        source: time::error::Parse,
    },
}
