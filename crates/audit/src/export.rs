//! CloudTrail-style log files and digest files, as bytes.
//!
//! A log file is `{"Records": [...]}` with one CloudTrail record per element
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-examples.html>).
//! The records are the stored event bytes spliced in unchanged, so the file
//! holds exactly the bytes the chain hashed: with the digest's sequence range,
//! anyone can recompute the chain from an export.
//!
//! A digest file follows CloudTrail's digest file
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html>):
//! the same member names and order, `hashValue`s over the uncompressed log
//! files, `"previousDigest…": null` in the first digest, and
//! `digestSignatureAlgorithm: "Ed25519"`. CloudTrail keeps the signature in S3
//! object metadata; a file export has no metadata, so the signature is the
//! extra member `digestSignature`, and the chain range the digest signs is in
//! `keywardFirstSequence`, `keywardLastSequence` and `keywardLastHash`. With
//! those, [`DigestFile::decode`] rebuilds the signed [`Digest`] exactly.
//!
//! What this module does not do: compress (`.json.gz` is the I/O layer's job;
//! hash values are over the uncompressed bytes, as CloudTrail's are), write
//! files, or choose which records go in which file.

use serde::{Deserialize, Serialize};
use time::{OffsetDateTime, UtcOffset};

use crate::chain::{ChainHead, ChainRecord};
use crate::digest::{Digest, DigestLink, DigestParts};
use crate::digest_key::{DigestSignature, DIGEST_SIGNATURE_ALGORITHM};
use crate::error::AuditError;
use crate::hash::Sha256Hash;
use crate::time_format::{format_event_time, parse_event_time};

/// `hashAlgorithm` of log files and of the previous digest.
pub const HASH_ALGORITHM: &str = "SHA-256";

/// One log file, ready to compress and write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFile {
    /// `{"Records":[...]}`, uncompressed.
    pub contents: Vec<u8>,
    /// SHA-256 of `contents`: the digest file's `hashValue`.
    pub hash: Sha256Hash,
    pub record_count: usize,
    pub oldest_event_time: Option<OffsetDateTime>,
    pub newest_event_time: Option<OffsetDateTime>,
}

/// A digest file: where it and its log files live, and the signed digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestFile {
    pub aws_account_id: String,
    /// The export's name for the place files go (CloudTrail: the S3 bucket).
    pub bucket: String,
    /// This digest file's path under `bucket` ([`digest_object_key`]).
    pub digest_object: String,
    /// The previous digest file's path, `None` for the first digest.
    pub previous_digest_object: Option<String>,
    pub digest: Digest,
    pub log_files: Vec<LogFileEntry>,
}

/// A log file as a digest file lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFileEntry {
    /// The log file's path under the digest file's bucket ([`log_file_object_key`]).
    pub object: String,
    pub hash: Sha256Hash,
    pub oldest_event_time: Option<OffsetDateTime>,
    pub newest_event_time: Option<OffsetDateTime>,
}

/// Formats the records' events as one log file.
///
/// Each event must be a JSON object with an `eventTime` (every event this
/// crate builds is); otherwise the file would not be valid JSON.
pub fn log_file(records: &[ChainRecord]) -> Result<LogFile, AuditError> {
    #[derive(Deserialize)]
    struct EventTimeOnly {
        #[serde(rename = "eventTime")]
        event_time: String,
    }

    let event_bytes: usize = records.iter().map(|record| record.event.len() + 1).sum();
    let mut contents = Vec::with_capacity(event_bytes + 16);
    contents.extend_from_slice(b"{\"Records\":[");
    let mut oldest: Option<OffsetDateTime> = None;
    let mut newest: Option<OffsetDateTime> = None;
    for (index, record) in records.iter().enumerate() {
        let event: EventTimeOnly = serde_json::from_slice(&record.event).map_err(|source| {
            AuditError::ExportEventNotJson {
                sequence: record.sequence,
                source,
            }
        })?;
        let event_time = parse_event_time(&event.event_time)?;
        oldest = Some(oldest.map_or(event_time, |time| time.min(event_time)));
        newest = Some(newest.map_or(event_time, |time| time.max(event_time)));
        if index > 0 {
            contents.push(b',');
        }
        contents.extend_from_slice(&record.event);
    }
    contents.extend_from_slice(b"]}");
    Ok(LogFile {
        hash: Sha256Hash::of(&contents),
        contents,
        record_count: records.len(),
        oldest_event_time: oldest,
        newest_event_time: newest,
    })
}

impl LogFile {
    /// This file's line in a digest file, stored at `object`.
    pub fn entry(&self, object: impl Into<String>) -> LogFileEntry {
        LogFileEntry {
            object: object.into(),
            hash: self.hash,
            oldest_event_time: self.oldest_event_time,
            newest_event_time: self.newest_event_time,
        }
    }
}

/// The CloudTrail path of a log file:
/// `AWSLogs/<account>/CloudTrail/<region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail_<region>_<yyyymmddThhmmZ>_<unique>.json.gz`,
/// with the first sequence number (16 hex digits) as the unique part, so that
/// an export run twice writes the same names.
pub fn log_file_object_key(
    aws_account_id: &str,
    region: &str,
    time: OffsetDateTime,
    first_sequence: u64,
) -> String {
    let utc = time.to_offset(UtcOffset::UTC);
    let (year, month, day) = (utc.year(), u8::from(utc.month()), utc.day());
    format!(
        "AWSLogs/{aws_account_id}/CloudTrail/{region}/{year:04}/{month:02}/{day:02}/\
         {aws_account_id}_CloudTrail_{region}_{year:04}{month:02}{day:02}T{:02}{:02}Z_{first_sequence:016x}.json.gz",
        utc.hour(),
        utc.minute()
    )
}

/// The CloudTrail path of a digest file:
/// `AWSLogs/<account>/CloudTrail-Digest/<region>/<yyyy>/<mm>/<dd>/<account>_CloudTrail-Digest_<region>_<trail>_<region>_<yyyymmddThhmmssZ>.json.gz`.
pub fn digest_object_key(
    aws_account_id: &str,
    region: &str,
    trail_name: &str,
    digest_end_time: OffsetDateTime,
) -> String {
    let utc = digest_end_time.to_offset(UtcOffset::UTC);
    let (year, month, day) = (utc.year(), u8::from(utc.month()), utc.day());
    format!(
        "AWSLogs/{aws_account_id}/CloudTrail-Digest/{region}/{year:04}/{month:02}/{day:02}/\
         {aws_account_id}_CloudTrail-Digest_{region}_{trail_name}_{region}_{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z.json.gz",
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// The JSON layout of a digest file; member order is CloudTrail's.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct DigestFileJson {
    aws_account_id: String,
    digest_start_time: String,
    digest_end_time: String,
    #[serde(rename = "digestS3Bucket")]
    digest_s3_bucket: String,
    #[serde(rename = "digestS3Object")]
    digest_s3_object: String,
    digest_public_key_fingerprint: String,
    digest_signature_algorithm: String,
    newest_event_time: Option<String>,
    oldest_event_time: Option<String>,
    #[serde(rename = "previousDigestS3Bucket")]
    previous_digest_s3_bucket: Option<String>,
    #[serde(rename = "previousDigestS3Object")]
    previous_digest_s3_object: Option<String>,
    previous_digest_hash_value: Option<String>,
    previous_digest_hash_algorithm: Option<String>,
    previous_digest_signature: Option<String>,
    log_files: Vec<LogFileJson>,
    digest_signature: String,
    keyward_first_sequence: u64,
    keyward_last_sequence: u64,
    keyward_last_hash: String,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LogFileJson {
    #[serde(rename = "s3Bucket")]
    s3_bucket: String,
    #[serde(rename = "s3Object")]
    s3_object: String,
    hash_value: String,
    hash_algorithm: String,
    newest_event_time: Option<String>,
    oldest_event_time: Option<String>,
}

const FORMAT: &str = "digest file";

impl DigestFile {
    /// The digest file's JSON, uncompressed.
    pub fn encode(&self) -> Result<Vec<u8>, AuditError> {
        let digest = &self.digest;
        let previous = digest.previous();
        let times = |pick: fn(&LogFileEntry) -> Option<OffsetDateTime>| {
            self.log_files.iter().filter_map(pick)
        };
        let json = DigestFileJson {
            aws_account_id: self.aws_account_id.clone(),
            digest_start_time: format_event_time(digest.start_time()),
            digest_end_time: format_event_time(digest.end_time()),
            digest_s3_bucket: self.bucket.clone(),
            digest_s3_object: self.digest_object.clone(),
            digest_public_key_fingerprint: digest.public_key_fingerprint().to_hex(),
            digest_signature_algorithm: DIGEST_SIGNATURE_ALGORITHM.to_owned(),
            newest_event_time: times(|entry| entry.newest_event_time)
                .max()
                .map(format_event_time),
            oldest_event_time: times(|entry| entry.oldest_event_time)
                .min()
                .map(format_event_time),
            previous_digest_s3_bucket: previous.map(|_| self.bucket.clone()),
            previous_digest_s3_object: previous.and(self.previous_digest_object.clone()),
            previous_digest_hash_value: previous.map(|link| link.hash.to_hex()),
            previous_digest_hash_algorithm: previous.map(|_| HASH_ALGORITHM.to_owned()),
            previous_digest_signature: previous.map(|link| link.signature.to_hex()),
            log_files: self
                .log_files
                .iter()
                .map(|entry| LogFileJson {
                    s3_bucket: self.bucket.clone(),
                    s3_object: entry.object.clone(),
                    hash_value: entry.hash.to_hex(),
                    hash_algorithm: HASH_ALGORITHM.to_owned(),
                    newest_event_time: entry.newest_event_time.map(format_event_time),
                    oldest_event_time: entry.oldest_event_time.map(format_event_time),
                })
                .collect(),
            digest_signature: digest.signature().to_hex(),
            keyward_first_sequence: digest.first_sequence(),
            keyward_last_sequence: digest.last().sequence,
            keyward_last_hash: digest.last().hash.to_hex(),
        };
        serde_json::to_vec(&json).map_err(|source| AuditError::DigestFileEncoding { source })
    }

    /// Reads a digest file written by [`DigestFile::encode`]. The digest is
    /// rebuilt but not verified: pass it to [`crate::verify_digest`].
    pub fn decode(bytes: &[u8]) -> Result<Self, AuditError> {
        let json: DigestFileJson = serde_json::from_slice(bytes)
            .map_err(|source| AuditError::DigestFileDecoding { source })?;
        if json.digest_signature_algorithm != DIGEST_SIGNATURE_ALGORITHM {
            return Err(invalid("digestSignatureAlgorithm"));
        }
        let previous = match (
            &json.previous_digest_hash_value,
            &json.previous_digest_signature,
        ) {
            (None, None) => None,
            (Some(hash), Some(signature)) => Some(DigestLink {
                hash: Sha256Hash::from_hex(hash).ok_or(invalid("previousDigestHashValue"))?,
                signature: DigestSignature::from_hex(signature)
                    .ok_or(invalid("previousDigestSignature"))?,
            }),
            _ => return Err(invalid("previousDigestSignature")),
        };
        let digest = Digest::from_parts(DigestParts {
            start_time: unix_seconds(&json.digest_start_time, "digestStartTime")?,
            end_time: unix_seconds(&json.digest_end_time, "digestEndTime")?,
            first_sequence: json.keyward_first_sequence,
            last: ChainHead {
                sequence: json.keyward_last_sequence,
                hash: Sha256Hash::from_hex(&json.keyward_last_hash)
                    .ok_or(invalid("keywardLastHash"))?,
            },
            previous,
            public_key_fingerprint: Sha256Hash::from_hex(&json.digest_public_key_fingerprint)
                .ok_or(invalid("digestPublicKeyFingerprint"))?,
            signature: DigestSignature::from_hex(&json.digest_signature)
                .ok_or(invalid("digestSignature"))?,
        })?;
        let log_files = json
            .log_files
            .into_iter()
            .map(|entry| {
                Ok(LogFileEntry {
                    hash: Sha256Hash::from_hex(&entry.hash_value).ok_or(invalid("hashValue"))?,
                    object: entry.s3_object,
                    oldest_event_time: optional_time(entry.oldest_event_time.as_deref())?,
                    newest_event_time: optional_time(entry.newest_event_time.as_deref())?,
                })
            })
            .collect::<Result<Vec<_>, AuditError>>()?;
        Ok(DigestFile {
            aws_account_id: json.aws_account_id,
            bucket: json.digest_s3_bucket,
            digest_object: json.digest_s3_object,
            previous_digest_object: json.previous_digest_s3_object,
            digest,
            log_files,
        })
    }
}

fn invalid(field: &'static str) -> AuditError {
    AuditError::InvalidField {
        format: FORMAT,
        field,
    }
}

fn unix_seconds(text: &str, field: &'static str) -> Result<i64, AuditError> {
    parse_event_time(text)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| invalid(field))
}

fn optional_time(text: Option<&str>) -> Result<Option<OffsetDateTime>, AuditError> {
    text.map(parse_event_time).transpose()
}
