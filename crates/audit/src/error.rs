//! The crate's error type: things that stop an operation from producing a value.
//!
//! A trail that fails verification is *not* an error here: verification
//! returns its findings as data ([`crate::ChainFault`], [`crate::DigestFault`],
//! [`crate::TrailReport`]), because "record 17 was modified" is the answer the
//! caller asked for, not a failure to compute one.

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

    #[error("the chain has no sequence number left after {last_sequence}")]
    SequenceExhausted { last_sequence: u64 },

    #[error("a chain record of {length} event bytes exceeds the format's limit of {limit}")]
    EventTooLarge { length: usize, limit: usize },

    #[error("truncated {format}: {needed} bytes needed, {available} available")]
    Truncated {
        format: &'static str,
        needed: usize,
        available: usize,
    },

    #[error("{format} has unknown version {version}")]
    UnknownVersion { format: &'static str, version: u8 },

    #[error("{format} has an invalid {field}")]
    InvalidField {
        format: &'static str,
        field: &'static str,
    },

    #[error("{length} trailing bytes after the {format}")]
    TrailingBytes { format: &'static str, length: usize },

    #[error("the digest signing key was rejected")]
    InvalidSigningKey {
        #[source]
        source: aws_lc_rs::error::KeyRejected,
    },

    #[error("an Ed25519 public key has 32 bytes, not {length}")]
    InvalidPublicKeyLength { length: usize },

    #[error("signing the digest failed")]
    SigningFailed,

    #[error("a digest cannot end ({end}) before it starts ({start})")]
    DigestPeriodReversed { start: i64, end: i64 },

    #[error("a digest cannot start ({start}) before the previous one ended ({previous_end})")]
    DigestPeriodOverlaps { start: i64, previous_end: i64 },

    #[error("a digest cannot name head {head} after one that named {previous}: the chain went back or forked")]
    DigestHeadBehind { head: u64, previous: u64 },

    #[error("a digest time must lie between years 1 and 9999")]
    DigestTimeOutOfRange,

    #[error("record {sequence} is not a JSON object and cannot go into a log file")]
    ExportEventNotJson {
        sequence: u64,
        #[source]
        source: serde_json::Error,
    },

    #[error("the digest file could not be written as JSON")]
    DigestFileEncoding {
        #[source]
        source: serde_json::Error,
    },

    #[error("the digest file is not valid")]
    DigestFileDecoding {
        #[source]
        source: serde_json::Error,
    },
}
