//! Where the trail lives in the data directory, and its small files.
//!
//! ```text
//! <data-dir>/trail/
//!     segment-0000000001.log …   the records, in frames (segment.rs); the
//!                                highest number is the one being appended to
//!     spare.segment              the next segment, written out in zeros ahead of time
//!     state                      JSON: format, creation time, pruning checkpoint
//!     digests                    the signed digests, appended
//! ```
//!
//! `state` is replaced atomically (written beside, fsynced, renamed, the
//! directory fsynced). `digests` holds length-prefixed records with a CRC so
//! that a digest cut short by a crash is recognised and set aside; it is
//! appended and fsynced once per digest (hourly and at shutdown), so its
//! growing size costs nothing on the path of a call.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use keyward_audit::{ChainHead, Digest, Sha256Hash};
use serde::{Deserialize, Serialize};

use crate::error::TrailError;

/// The trail's directory in the data directory.
pub const TRAIL_DIR: &str = "trail";
/// The trail of an earlier keyward, in SQLite (`legacy.rs` moves it into
/// [`TRAIL_DIR`]).
pub const LEGACY_FILE: &str = "trail.sqlite";
const STATE_FILE: &str = "state";
const DIGESTS_FILE: &str = "digests";
pub(crate) const SPARE_FILE: &str = "spare.segment";
const SEGMENT_PREFIX: &str = "segment-";
const SEGMENT_SUFFIX: &str = ".log";
/// The format `state` names; a trail of another format is not read.
const FORMAT: u32 = 3;

/// The trail directory of `data_dir`.
pub fn trail_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(TRAIL_DIR)
}

/// File name of segment `number`.
pub fn segment_name(number: u64) -> String {
    format!("{SEGMENT_PREFIX}{number:010}{SEGMENT_SUFFIX}")
}

/// The segments in `dir`, in order.
pub fn list_segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, TrailError> {
    let mut segments = Vec::new();
    for entry in fs::read_dir(dir).map_err(TrailError::io("list", dir))? {
        let entry = entry.map_err(TrailError::io("list", dir))?;
        let name = entry.file_name();
        let Some(number) = name
            .to_str()
            .and_then(|n| n.strip_prefix(SEGMENT_PREFIX))
            .and_then(|n| n.strip_suffix(SEGMENT_SUFFIX))
            .and_then(|n| n.parse::<u64>().ok())
        else {
            continue;
        };
        segments.push((number, entry.path()));
    }
    segments.sort_by_key(|(number, _)| *number);
    Ok(segments)
}

/// The trail's `state` file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct State {
    /// Unix seconds the trail was created: the first digest's start.
    pub created: i64,
    /// Where the stored records start: genesis, or the head pruning cut at.
    /// Records at or before it may still be in the oldest segment; readers
    /// skip them.
    pub checkpoint: ChainHead,
}

#[derive(Serialize, Deserialize)]
struct StateFile {
    format: u32,
    created: i64,
    checkpoint_sequence: u64,
    checkpoint_hash: String,
}

impl State {
    pub fn read(dir: &Path) -> Result<State, TrailError> {
        let path = dir.join(STATE_FILE);
        let text = fs::read(&path).map_err(TrailError::io("read", &path))?;
        let file: StateFile = serde_json::from_slice(&text)
            .map_err(|e| TrailError::Malformed(format!("{}: {e}", path.display())))?;
        if file.format != FORMAT {
            return Err(TrailError::Malformed(format!(
                "{}: format {}, this keyward reads {FORMAT}",
                path.display(),
                file.format
            )));
        }
        // A hash that is not 32 bytes of hex (tampering) reads as a hash no
        // record has: verification then reports the checkpoint.
        let hash = hex::decode(&file.checkpoint_hash)
            .ok()
            .and_then(|bytes| Sha256Hash::from_slice(&bytes))
            .unwrap_or(Sha256Hash::ZERO);
        Ok(State {
            created: file.created,
            checkpoint: ChainHead {
                sequence: file.checkpoint_sequence,
                hash,
            },
        })
    }

    /// Replaces the state file atomically and durably.
    pub fn write(&self, dir: &Path) -> Result<(), TrailError> {
        let file = StateFile {
            format: FORMAT,
            created: self.created,
            checkpoint_sequence: self.checkpoint.sequence,
            checkpoint_hash: hex::encode(self.checkpoint.hash.as_bytes()),
        };
        let bytes = serde_json::to_vec_pretty(&file)
            .map_err(|e| TrailError::Malformed(format!("state: {e}")))?;
        replace_file(dir, STATE_FILE, &bytes)
    }
}

/// Writes `name` in `dir` as `bytes`, atomically: a crash leaves the old or
/// the new file, never a mix.
pub fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), TrailError> {
    let path = dir.join(name);
    let temporary = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&temporary).map_err(TrailError::io("create", &temporary))?;
    file.write_all(bytes)
        .map_err(TrailError::io("write", &temporary))?;
    file.sync_all()
        .map_err(TrailError::io("fsync", &temporary))?;
    fs::rename(&temporary, &path).map_err(TrailError::io("rename", &temporary))?;
    sync_dir(dir)
}

/// Makes the directory's entries (created, renamed, deleted files) durable.
pub fn sync_dir(dir: &Path) -> Result<(), TrailError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(TrailError::io("fsync", dir))
}

/// Reads every digest, oldest first. A last record cut short by a crash is
/// set aside; a damaged record before the last is an error.
pub fn read_digests(dir: &Path) -> Result<Vec<Digest>, TrailError> {
    let path = dir.join(DIGESTS_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(TrailError::io("read", &path)(error)),
    };
    let mut digests = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let record = digest_record_at(&bytes[offset..]);
        let Some((digest_bytes, used)) = record else {
            if trailing_partial_record(&bytes[offset..]) {
                tracing::warn!(path = %path.display(), "ignoring a digest cut short by a crash");
                break;
            }
            return Err(TrailError::Malformed(format!(
                "{}: digest {} is damaged",
                path.display(),
                digests.len()
            )));
        };
        let digest = Digest::decode(digest_bytes).map_err(|e| {
            TrailError::Malformed(format!("{}: digest {}: {e}", path.display(), digests.len()))
        })?;
        digests.push(digest);
        offset += used;
    }
    Ok(digests)
}

/// `length u32 | digest | crc32 u32` at the start of `bytes`: the digest and
/// the record's size, if the record is whole and its CRC matches.
fn digest_record_at(bytes: &[u8]) -> Option<(&[u8], usize)> {
    let length = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let digest = bytes.get(4..4usize.checked_add(length)?)?;
    let crc_end = 8usize.checked_add(length)?;
    let crc = u32::from_be_bytes(bytes.get(4 + length..crc_end)?.try_into().ok()?);
    (crc32fast::hash(digest) == crc).then_some((digest, crc_end))
}

/// Whether `bytes` (the file's rest) can be the last record, whose write a
/// crash cut short: it reaches the end of the file (or its length does not
/// fit in what is left).
fn trailing_partial_record(bytes: &[u8]) -> bool {
    match bytes.get(..4) {
        None => true,
        Some(prefix) => {
            let length = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
            bytes.len() <= length.saturating_add(8)
        }
    }
}

/// Appends `digest` to the digests file and fsyncs it.
pub fn append_digest(dir: &Path, digest: &Digest) -> Result<(), TrailError> {
    let path = dir.join(DIGESTS_FILE);
    let encoded = digest.encode();
    let length = u32::try_from(encoded.len())
        .map_err(|_| TrailError::Malformed("a digest over 4 GiB".to_owned()))?;
    let mut record = Vec::with_capacity(encoded.len() + 8);
    record.extend_from_slice(&length.to_be_bytes());
    record.extend_from_slice(&encoded);
    record.extend_from_slice(&crc32fast::hash(&encoded).to_be_bytes());
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(TrailError::io("open", &path))?;
    file.write_all(&record)
        .map_err(TrailError::io("write", &path))?;
    file.sync_data().map_err(TrailError::io("fsync", &path))
}

/// Whether `data_dir` holds a trail of this format.
pub fn exists(data_dir: &Path) -> bool {
    trail_dir(data_dir).join(STATE_FILE).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_a_bad_hash_reads_as_no_hash() {
        let dir = tempfile::tempdir().unwrap();
        let state = State {
            created: 1_800_000_000,
            checkpoint: ChainHead {
                sequence: 42,
                hash: Sha256Hash::of_parts(&[b"x"]),
            },
        };
        state.write(dir.path()).unwrap();
        assert_eq!(State::read(dir.path()).unwrap(), state);
        let text = fs::read_to_string(dir.path().join(STATE_FILE)).unwrap();
        let edited = text.replace(&hex::encode(state.checkpoint.hash.as_bytes()), "zz");
        fs::write(dir.path().join(STATE_FILE), edited).unwrap();
        assert_eq!(
            State::read(dir.path()).unwrap().checkpoint.hash,
            Sha256Hash::ZERO
        );
    }

    #[test]
    fn segments_are_listed_in_order_and_other_files_ignored() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            segment_name(10),
            segment_name(2),
            "spare.segment".into(),
            "segment-x.log".into(),
        ] {
            fs::write(dir.path().join(name), b"").unwrap();
        }
        let numbers: Vec<u64> = list_segments(dir.path())
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(numbers, [2, 10]);
    }
}
