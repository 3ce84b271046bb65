//! `trail.sqlite`: the records, their lookup columns, the signed digests and
//! the pruning checkpoint, in a database file of their own.
//!
//! Why a separate file from `keyward.sqlite`: the trail grows with every
//! request while the key database stays small; a separate WAL keeps the
//! trail's group commits from queueing behind key changes (and the reverse),
//! and `keyward trail verify` can read it without the server's lock.
//!
//! **Stored order is `position`, not `sequence`.** Verification reads rows in
//! `position` order and checks the sequence numbers, so a row moved, deleted
//! or inserted directly in the file is found and named (a table ordered by
//! its sequence number could not even express "reordered").

use std::path::Path;

use keyward_audit::{ChainHead, ChainRecord, Digest, Sha256Hash};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::error::TrailError;
use crate::index::EventIndex;

/// The trail database's file name in the data directory.
pub const TRAIL_FILE: &str = "trail.sqlite";

const SCHEMA_VERSION: i64 = 1;

/// One table of records with their lookup columns and a single secondary
/// index (by sequence), because every index is paid for on the durable path
/// of every call: each one adds dirty pages to the group commit that the
/// fsync must write. LookupEvents scans newest-first by sequence and filters
/// the columns (AWS's LookupEvents is itself limited to 2 calls per second);
/// `resources` holds `\n<type>\t<ARN>\n` per resource.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    position      INTEGER PRIMARY KEY,
    sequence      INTEGER NOT NULL,
    previous_hash BLOB NOT NULL,
    hash          BLOB NOT NULL,
    event         BLOB NOT NULL,
    event_time    INTEGER NOT NULL,
    event_id      TEXT NOT NULL,
    event_name    TEXT NOT NULL,
    event_source  TEXT NOT NULL,
    username      TEXT,
    access_key_id TEXT,
    read_only     INTEGER,
    account_id    TEXT NOT NULL,
    resources     TEXT
);
CREATE INDEX IF NOT EXISTS events_sequence ON events(sequence);
CREATE TABLE IF NOT EXISTS digests (
    position INTEGER PRIMARY KEY,
    digest   BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
";

/// One event ready to append: its canonical bytes and lookup columns.
#[derive(Debug, Clone)]
pub struct Entry {
    pub bytes: Vec<u8>,
    pub index: EventIndex,
}

impl Entry {
    /// Encodes `event` (in the caller's thread, so the writer only writes).
    pub fn new(event: &keyward_audit::CloudTrailEvent) -> Result<Self, TrailError> {
        Ok(Entry {
            bytes: event.encode()?,
            index: EventIndex::of(event)?,
        })
    }
}

/// Opens (creating) the trail database for writing: WAL, `synchronous=FULL`,
/// so a committed transaction is on disk when `commit` returns.
pub fn open_writer(path: &Path) -> Result<Connection, TrailError> {
    let connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.execute_batch(SCHEMA)?;
    let version: Option<i64> = connection
        .query_row(
            "SELECT value FROM meta WHERE name = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?;
    match version {
        None => {
            connection.execute(
                "INSERT INTO meta (name, value) VALUES ('schema_version', ?1)",
                params![SCHEMA_VERSION],
            )?;
        }
        Some(SCHEMA_VERSION) => {}
        Some(other) => {
            return Err(TrailError::Malformed(format!(
                "schema version {other}, this keyward reads {SCHEMA_VERSION}"
            )))
        }
    }
    Ok(connection)
}

/// Opens an existing trail read-only (verify, export, lookups).
pub fn open_reader(path: &Path) -> Result<Connection, TrailError> {
    if !path.exists() {
        return Err(TrailError::NoTrail(
            path.parent().unwrap_or(path).to_path_buf(),
        ));
    }
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(connection)
}

/// Appends `records` (already chained) with their lookup columns. The caller
/// runs this inside a transaction.
pub fn insert_records(
    connection: &Connection,
    records: &[(ChainRecord, &EventIndex)],
) -> Result<(), TrailError> {
    let mut event = connection.prepare_cached(
        "INSERT INTO events (sequence, previous_hash, hash, event, event_time, event_id,
             event_name, event_source, username, access_key_id, read_only, account_id, resources)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?;
    for (record, index) in records {
        let sequence = sql_sequence(record.sequence)?;
        event.execute(params![
            sequence,
            record.previous_hash.as_bytes().as_slice(),
            record.hash.as_bytes().as_slice(),
            record.event,
            index.event_time,
            index.event_id,
            index.event_name,
            index.event_source,
            index.username,
            index.access_key_id,
            index.read_only,
            index.account_id,
            resources_column(&index.resources),
        ])?;
    }
    Ok(())
}

/// `\n<type>\t<ARN>\n` per resource (`None` without resources), so that a
/// lookup matches one name or one type with `instr`.
fn resources_column(resources: &[(String, String)]) -> Option<String> {
    if resources.is_empty() {
        return None;
    }
    let mut column = String::from("\n");
    for (resource_type, name) in resources {
        column.push_str(resource_type);
        column.push('\t');
        column.push_str(name);
        column.push('\n');
    }
    Some(column)
}

pub(crate) fn sql_sequence(sequence: u64) -> Result<i64, TrailError> {
    i64::try_from(sequence)
        .map_err(|_| TrailError::Malformed(format!("sequence {sequence} exceeds SQLite's range")))
}

/// The head to append after: the last stored record, else the checkpoint.
pub fn load_head(connection: &Connection) -> Result<ChainHead, TrailError> {
    let last: Option<(i64, Vec<u8>)> = connection
        .query_row(
            "SELECT sequence, hash FROM events ORDER BY position DESC LIMIT 1",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    match last {
        Some((sequence, hash)) => Ok(ChainHead {
            sequence: u64::try_from(sequence)
                .map_err(|_| TrailError::Malformed(format!("sequence {sequence}")))?,
            hash: hash_of(&hash),
        }),
        None => load_checkpoint(connection),
    }
}

/// Where the stored records start: genesis, or the head pruning cut at.
pub fn load_checkpoint(connection: &Connection) -> Result<ChainHead, TrailError> {
    let sequence: Option<i64> = meta(connection, "checkpoint_sequence")?;
    let hash: Option<Vec<u8>> = meta(connection, "checkpoint_hash")?;
    match (sequence, hash) {
        (Some(sequence), Some(hash)) => Ok(ChainHead {
            sequence: u64::try_from(sequence)
                .map_err(|_| TrailError::Malformed(format!("checkpoint {sequence}")))?,
            hash: hash_of(&hash),
        }),
        _ => Ok(ChainHead::GENESIS),
    }
}

pub fn store_checkpoint(connection: &Connection, head: ChainHead) -> Result<(), TrailError> {
    set_meta(
        connection,
        "checkpoint_sequence",
        &sql_sequence(head.sequence)?,
    )?;
    set_meta(
        connection,
        "checkpoint_hash",
        &head.hash.as_bytes().as_slice(),
    )?;
    Ok(())
}

pub(crate) fn meta<T: rusqlite::types::FromSql>(
    connection: &Connection,
    name: &str,
) -> Result<Option<T>, TrailError> {
    Ok(connection
        .query_row("SELECT value FROM meta WHERE name = ?1", [name], |row| {
            row.get(0)
        })
        .optional()?)
}

pub(crate) fn set_meta(
    connection: &Connection,
    name: &str,
    value: &dyn rusqlite::ToSql,
) -> Result<(), TrailError> {
    connection.execute(
        "INSERT INTO meta (name, value) VALUES (?1, ?2)
         ON CONFLICT(name) DO UPDATE SET value = excluded.value",
        params![name, value],
    )?;
    Ok(())
}

/// A stored hash; a value of the wrong length (tampering) reads as a hash no
/// record has, so verification reports the record instead of failing to read.
fn hash_of(bytes: &[u8]) -> Sha256Hash {
    Sha256Hash::from_slice(bytes).unwrap_or(Sha256Hash::ZERO)
}

/// A column read as bytes whatever type it was stored as: someone editing the
/// file may have turned a blob into text (or a number); verification must
/// then report the record, not fail to read it.
pub(crate) fn bytes_at(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<Vec<u8>> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(index)? {
        ValueRef::Blob(bytes) | ValueRef::Text(bytes) => bytes.to_vec(),
        ValueRef::Integer(n) => n.to_string().into_bytes(),
        ValueRef::Real(f) => f.to_string().into_bytes(),
        ValueRef::Null => Vec::new(),
    })
}

/// A sequence column; anything but a non-negative integer (tampering) reads
/// as a sequence no record has.
fn sequence_at(row: &rusqlite::Row<'_>, index: usize) -> rusqlite::Result<u64> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(index)? {
        ValueRef::Integer(n) => u64::try_from(n).unwrap_or(u64::MAX),
        _ => u64::MAX,
    })
}

/// All digests, oldest first.
pub fn load_digests(connection: &Connection) -> Result<Vec<Digest>, TrailError> {
    let mut statement =
        connection.prepare("SELECT position, digest FROM digests ORDER BY position")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
    })?;
    let mut digests = Vec::new();
    for row in rows {
        let (position, bytes) = row?;
        let digest = Digest::decode(&bytes)
            .map_err(|e| TrailError::Malformed(format!("digest at position {position}: {e}")))?;
        digests.push(digest);
    }
    Ok(digests)
}

pub fn insert_digest(connection: &Connection, digest: &Digest) -> Result<(), TrailError> {
    connection.execute(
        "INSERT INTO digests (digest) VALUES (?1)",
        params![digest.encode()],
    )?;
    Ok(())
}

/// Calls `each` with every record in stored order until it returns false.
pub fn for_each_record(
    connection: &Connection,
    mut each: impl FnMut(ChainRecord) -> bool,
) -> Result<(), TrailError> {
    let mut statement = connection
        .prepare("SELECT sequence, previous_hash, hash, event FROM events ORDER BY position")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let previous = bytes_at(row, 1)?;
        let hash = bytes_at(row, 2)?;
        let event = bytes_at(row, 3)?;
        let record = ChainRecord {
            sequence: sequence_at(row, 0)?,
            previous_hash: hash_of(&previous),
            hash: hash_of(&hash),
            event,
        };
        if !each(record) {
            break;
        }
    }
    Ok(())
}

/// The records with sequence numbers in `first..=last`, in sequence order
/// (for export, after verification).
pub fn records_in(
    connection: &Connection,
    first: u64,
    last: u64,
) -> Result<Vec<ChainRecord>, TrailError> {
    let mut statement = connection.prepare_cached(
        "SELECT sequence, previous_hash, hash, event FROM events
         WHERE sequence BETWEEN ?1 AND ?2 ORDER BY sequence",
    )?;
    let rows = statement.query_map(params![sql_sequence(first)?, sql_sequence(last)?], |row| {
        Ok((
            sequence_at(row, 0)?,
            bytes_at(row, 1)?,
            bytes_at(row, 2)?,
            bytes_at(row, 3)?,
        ))
    })?;
    let mut records = Vec::new();
    for row in rows {
        let (sequence, previous, hash, event) = row?;
        records.push(ChainRecord {
            sequence,
            previous_hash: hash_of(&previous),
            hash: hash_of(&hash),
            event,
        });
    }
    Ok(records)
}

/// Deletes records up to `checkpoint` and records the checkpoint, in the
/// caller's transaction.
pub fn prune_to(connection: &Connection, checkpoint: ChainHead) -> Result<u64, TrailError> {
    let through = sql_sequence(checkpoint.sequence)?;
    let deleted =
        connection.execute("DELETE FROM events WHERE sequence <= ?1", params![through])?;
    store_checkpoint(connection, checkpoint)?;
    Ok(deleted as u64)
}
