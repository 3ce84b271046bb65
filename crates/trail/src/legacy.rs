//! Moving a trail of an earlier keyward (`trail.sqlite`) into segments.
//!
//! Earlier versions kept the trail in SQLite: schema 1 a row per event,
//! schema 2 a row per group commit (`blocks`, the commit's records back to
//! back in keyward-audit's record format). A SQLite transaction per group
//! commit cost several times the CPU of one direct write into a segment
//! (BENCHMARKS.md, "The audit trail"), so the trail moved to segment files.
//!
//! The move copies every record in stored order *byte for byte* (a tampered
//! record stays tampered and `trail verify` still finds it), the digests, the
//! checkpoint and the creation time. It builds the new directory under a
//! temporary name and renames it into place, so a crash leaves either the old
//! trail or the whole new one; only then are the SQLite files deleted.

use std::path::Path;

use keyward_audit::{ChainHead, Digest, Sha256Hash};
use rusqlite::{Connection, OptionalExtension};

use crate::error::TrailError;
use crate::layout::{self, State, LEGACY_FILE};
use crate::segment::{encode_frame, segment_header, FrameSummary, SEGMENT_HEADER_BYTES};
use crate::stored::for_each_in_payload;

const STAGING_DIR: &str = "trail.migrating";
/// Records per frame when rows of schema 1 are regrouped.
const RECORDS_PER_FRAME: usize = 1024;

/// Moves `<data_dir>/trail.sqlite`, if there is one, into `<data_dir>/trail`.
pub fn migrate(data_dir: &Path, segment_bytes: u64) -> Result<(), TrailError> {
    let legacy = data_dir.join(LEGACY_FILE);
    if !legacy.exists() {
        return Ok(());
    }
    if !layout::exists(data_dir) {
        let staging = data_dir.join(STAGING_DIR);
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(TrailError::io("delete", &staging))?;
        }
        std::fs::create_dir_all(&staging).map_err(TrailError::io("create", &staging))?;
        let records = copy_trail(&legacy, &staging, segment_bytes)?;
        layout::sync_dir(&staging)?;
        let dir = layout::trail_dir(data_dir);
        std::fs::rename(&staging, &dir).map_err(TrailError::io("rename", &staging))?;
        layout::sync_dir(data_dir)?;
        tracing::info!(
            records,
            "moved the audit trail from trail.sqlite into trail/ (segment files), unchanged"
        );
    }
    for suffix in ["", "-wal", "-shm"] {
        let path = data_dir.join(format!("{LEGACY_FILE}{suffix}"));
        match std::fs::remove_file(&path) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
                return Err(TrailError::io("delete", &path)(error))
            }
            _ => {}
        }
    }
    layout::sync_dir(data_dir)
}

/// Writes the records, digests and state of the SQLite trail at `legacy` into
/// `dir`; returns how many records there were.
fn copy_trail(legacy: &Path, dir: &Path, segment_bytes: u64) -> Result<u64, TrailError> {
    let connection = Connection::open(legacy)?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    let mut segments = SegmentBuilder::new(dir, segment_bytes);
    match meta::<i64>(&connection, "schema_version")? {
        Some(2) => {
            let mut statement = connection.prepare(
                "SELECT first_sequence, last_sequence, min_time, max_time, records FROM blocks ORDER BY position",
            )?;
            let mut rows = statement.query([])?;
            while let Some(row) = rows.next()? {
                let payload = bytes_at(row, 4)?;
                let mut records = 0u32;
                for_each_in_payload(&payload, |_| {
                    records += 1;
                    true
                });
                let summary = FrameSummary {
                    first_sequence: integer_at(row, 0)? as u64,
                    last_sequence: integer_at(row, 1)? as u64,
                    min_time: integer_at(row, 2)?,
                    max_time: integer_at(row, 3)?,
                    records,
                };
                segments.push_frame(&summary, &payload)?;
            }
        }
        Some(1) => {
            let mut statement = connection.prepare(
                "SELECT sequence, previous_hash, hash, event, event_time FROM events ORDER BY position",
            )?;
            let mut rows = statement.query([])?;
            let mut payload = Vec::new();
            let mut summary = FrameSummary::default();
            while let Some(row) = rows.next()? {
                let sequence = integer_at(row, 0).map(|n| u64::try_from(n).unwrap_or(u64::MAX))?;
                let time = integer_at(row, 4)?;
                keyward_audit::encode_record_into(
                    &mut payload,
                    sequence,
                    &hash_of(&bytes_at(row, 1)?),
                    &hash_of(&bytes_at(row, 2)?),
                    &bytes_at(row, 3)?,
                )?;
                if summary.records == 0 {
                    summary = FrameSummary {
                        first_sequence: sequence,
                        last_sequence: sequence,
                        min_time: time,
                        max_time: time,
                        records: 0,
                    };
                }
                summary.last_sequence = sequence;
                summary.min_time = summary.min_time.min(time);
                summary.max_time = summary.max_time.max(time);
                summary.records += 1;
                if summary.records as usize == RECORDS_PER_FRAME {
                    segments.push_frame(&summary, &payload)?;
                    payload.clear();
                    summary.records = 0;
                }
            }
            if summary.records > 0 {
                segments.push_frame(&summary, &payload)?;
            }
        }
        other => {
            return Err(TrailError::Malformed(format!(
                "{}: schema version {other:?}, which no keyward wrote",
                legacy.display()
            )))
        }
    }
    let records = segments.finish()?;
    let checkpoint = match (
        meta::<i64>(&connection, "checkpoint_sequence")?,
        meta::<Vec<u8>>(&connection, "checkpoint_hash")?,
    ) {
        (Some(sequence), Some(hash)) => ChainHead {
            sequence: u64::try_from(sequence).unwrap_or(u64::MAX),
            hash: hash_of(&hash),
        },
        _ => ChainHead::GENESIS,
    };
    let created = match meta::<i64>(&connection, "created")? {
        Some(created) => created,
        None => time::OffsetDateTime::now_utc().unix_timestamp(),
    };
    let mut statement = connection.prepare("SELECT digest FROM digests ORDER BY position")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let bytes = bytes_at(row, 0)?;
        let digest = Digest::decode(&bytes)
            .map_err(|e| TrailError::Malformed(format!("{}: a digest: {e}", legacy.display())))?;
        layout::append_digest(dir, &digest)?;
    }
    State {
        created,
        checkpoint,
    }
    .write(dir)?;
    Ok(records)
}

/// Writes frames into segment files one after another.
struct SegmentBuilder<'a> {
    dir: &'a Path,
    size: u64,
    number: u64,
    bytes: Vec<u8>,
    records: u64,
}

impl<'a> SegmentBuilder<'a> {
    fn new(dir: &'a Path, size: u64) -> Self {
        SegmentBuilder {
            dir,
            size,
            number: 1,
            bytes: segment_header(1).to_vec(),
            records: 0,
        }
    }

    fn push_frame(&mut self, summary: &FrameSummary, payload: &[u8]) -> Result<(), TrailError> {
        let mut frame = Vec::new();
        encode_frame(&mut frame, summary, payload)?;
        if (self.bytes.len() + frame.len()) as u64 > self.size
            && self.bytes.len() > SEGMENT_HEADER_BYTES
        {
            self.write_segment()?;
            self.number += 1;
            self.bytes = segment_header(self.number).to_vec();
        }
        self.bytes.extend_from_slice(&frame);
        self.records += u64::from(summary.records);
        Ok(())
    }

    /// Writes the segment being built, in zeros up to the segment size.
    fn write_segment(&mut self) -> Result<(), TrailError> {
        let length = (self.bytes.len() as u64).max(self.size);
        self.bytes.resize(length as usize, 0);
        let path = self.dir.join(layout::segment_name(self.number));
        let mut file = std::fs::File::create(&path).map_err(TrailError::io("create", &path))?;
        std::io::Write::write_all(&mut file, &self.bytes)
            .map_err(TrailError::io("write", &path))?;
        file.sync_all().map_err(TrailError::io("fsync", &path))
    }

    /// Writes the last segment (if it holds any frame); returns the records.
    fn finish(mut self) -> Result<u64, TrailError> {
        if self.bytes.len() > SEGMENT_HEADER_BYTES {
            self.write_segment()?;
        }
        Ok(self.records)
    }
}

fn meta<T: rusqlite::types::FromSql>(
    connection: &Connection,
    name: &str,
) -> Result<Option<T>, TrailError> {
    Ok(connection
        .query_row("SELECT value FROM meta WHERE name = ?1", [name], |row| {
            row.get(0)
        })
        .optional()?)
}

/// A stored hash; a value of the wrong length (tampering) reads as a hash no
/// record has, so verification reports the record instead of failing to read.
fn hash_of(bytes: &[u8]) -> Sha256Hash {
    Sha256Hash::from_slice(bytes).unwrap_or(Sha256Hash::ZERO)
}

/// A column as bytes whatever type it was stored as (someone editing the file
/// may have turned a blob into text): the record is copied, not judged.
fn bytes_at(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Vec<u8>> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(index)? {
        ValueRef::Blob(bytes) | ValueRef::Text(bytes) => bytes.to_vec(),
        ValueRef::Integer(n) => n.to_string().into_bytes(),
        ValueRef::Real(f) => f.to_string().into_bytes(),
        ValueRef::Null => Vec::new(),
    })
}

/// An integer column; anything else reads as -1 (a sequence no record has).
fn integer_at(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<i64> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(index)? {
        ValueRef::Integer(n) => n,
        _ => -1,
    })
}
