//! `trail.sqlite`: the records in blocks (one per group commit), the signed
//! digests and the pruning checkpoint, in a database file of their own.
//!
//! Why a separate file from `keyward.sqlite`: the trail grows with every
//! request while the key database stays small; a separate WAL keeps the
//! trail's group commits from queueing behind key changes (and the reverse),
//! and `keyward trail verify` can read it without the server's lock.
//!
//! **One row per group commit, not per event.** A row with its columns and
//! index entries cost SQLite about 5 µs of CPU per event, paid on the durable
//! path of every call (BENCHMARKS.md, "The audit trail"); a block is the
//! commit's records back to back in keyward-audit's record format, so one
//! insert carries them all. LookupEvents reads blocks newest first and looks
//! at each event (`lookup.rs`); the time bounds let it skip blocks.
//!
//! **Stored order is block `position`, then order within the block, not
//! `sequence`.** Verification reads records in that order and checks the
//! sequence numbers, so a record moved, deleted or inserted directly in the
//! file is found and named by its place among all records.

use std::path::Path;

use keyward_audit::{ChainHead, ChainRecord, Digest, Sha256Hash};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::error::TrailError;

/// The trail database's file name in the data directory.
pub const TRAIL_FILE: &str = "trail.sqlite";

/// 1: a row per event with lookup columns; 2: a row per group commit.
const SCHEMA_VERSION: i64 = 2;

/// `first_sequence`/`last_sequence` and the time bounds describe the block's
/// records for queries; verification never trusts them, it reads `records`.
/// The one index (by last sequence) serves export and pruning; it costs one
/// entry per group commit, not per event.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS blocks (
    position       INTEGER PRIMARY KEY,
    first_sequence INTEGER NOT NULL,
    last_sequence  INTEGER NOT NULL,
    min_time       INTEGER NOT NULL,
    max_time       INTEGER NOT NULL,
    records        BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS blocks_last_sequence ON blocks(last_sequence);
CREATE TABLE IF NOT EXISTS digests (
    position INTEGER PRIMARY KEY,
    digest   BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
    name  TEXT PRIMARY KEY,
    value BLOB NOT NULL
);
";

/// One event ready to append: its canonical bytes and its time.
#[derive(Debug, Clone)]
pub struct Entry {
    pub bytes: Vec<u8>,
    /// Unix seconds of `eventTime` (the block's time bounds).
    pub event_time: i64,
}

impl Entry {
    /// Encodes `event` (in the caller's thread, so the writer only writes).
    pub fn new(event: &keyward_audit::CloudTrailEvent) -> Result<Self, TrailError> {
        Ok(Entry {
            bytes: event.encode()?,
            event_time: event.event_time()?.unix_timestamp(),
        })
    }
}

/// The records of one group commit, chained and encoded back to back.
#[derive(Debug, Default)]
pub struct Block {
    records: Vec<u8>,
    first_sequence: u64,
    last_sequence: u64,
    min_time: i64,
    max_time: i64,
}

impl Block {
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Chains `event` after `head` and adds its record. On error neither
    /// changes.
    pub fn push(
        &mut self,
        head: &mut ChainHead,
        event: &[u8],
        event_time: i64,
    ) -> Result<(), TrailError> {
        let first = self.records.is_empty();
        head.append_encoded(event, &mut self.records)?;
        self.note(first, head.sequence, event_time);
        Ok(())
    }

    /// Adds a record as it is (migration, pruning, tests).
    pub fn push_record(&mut self, record: &ChainRecord, event_time: i64) -> Result<(), TrailError> {
        let first = self.records.is_empty();
        keyward_audit::encode_record_into(
            &mut self.records,
            record.sequence,
            &record.previous_hash,
            &record.hash,
            &record.event,
        )?;
        self.note(first, record.sequence, event_time);
        Ok(())
    }

    fn note(&mut self, first: bool, sequence: u64, event_time: i64) {
        if first {
            self.first_sequence = sequence;
            self.min_time = event_time;
            self.max_time = event_time;
        }
        self.last_sequence = sequence;
        self.min_time = self.min_time.min(event_time);
        self.max_time = self.max_time.max(event_time);
    }

    pub fn clear(&mut self) {
        self.records.clear();
        self.first_sequence = 0;
        self.last_sequence = 0;
    }
}

/// Opens (creating, or upgrading from schema 1) the trail database for
/// writing: WAL, `synchronous=FULL`, so a committed transaction is on disk
/// when `commit` returns.
pub fn open_writer(path: &Path) -> Result<Connection, TrailError> {
    let connection = Connection::open(path)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.busy_timeout(std::time::Duration::from_secs(10))?;
    connection.execute_batch(SCHEMA)?;
    match schema_version(&connection)? {
        None => {
            connection.execute(
                "INSERT INTO meta (name, value) VALUES ('schema_version', ?1)",
                params![SCHEMA_VERSION],
            )?;
        }
        Some(1) => upgrade_from_rows(&connection)?,
        Some(SCHEMA_VERSION) => {}
        Some(other) => return Err(unreadable_version(other)),
    }
    Ok(connection)
}

fn schema_version(connection: &Connection) -> Result<Option<i64>, TrailError> {
    Ok(connection
        .query_row(
            "SELECT value FROM meta WHERE name = 'schema_version'",
            [],
            |row| row.get(0),
        )
        .optional()?)
}

fn unreadable_version(version: i64) -> TrailError {
    TrailError::Malformed(format!(
        "schema version {version}, this keyward reads {SCHEMA_VERSION}{}",
        if version == 1 {
            " (start `keyward serve` on it once to upgrade it)"
        } else {
            ""
        }
    ))
}

/// Records per block when rows of schema 1 are regrouped.
const UPGRADE_BLOCK_RECORDS: usize = 1024;

/// Schema 1 → 2: the rows of `events`, in stored order and unchanged (a
/// tampered row stays tampered), regrouped into blocks, in one transaction.
fn upgrade_from_rows(connection: &Connection) -> Result<(), TrailError> {
    let transaction = connection.unchecked_transaction()?;
    {
        let mut statement = transaction.prepare(
            "SELECT sequence, previous_hash, hash, event, event_time FROM events ORDER BY position",
        )?;
        let mut rows = statement.query([])?;
        let mut block = Block::default();
        let mut in_block = 0;
        while let Some(row) = rows.next()? {
            let record = ChainRecord {
                sequence: sequence_at(row, 0)?,
                previous_hash: hash_of(&bytes_at(row, 1)?),
                hash: hash_of(&bytes_at(row, 2)?),
                event: bytes_at(row, 3)?,
            };
            let event_time = row.get::<_, i64>(4).unwrap_or(0);
            block.push_record(&record, event_time)?;
            in_block += 1;
            if in_block == UPGRADE_BLOCK_RECORDS {
                insert_block(&transaction, &block)?;
                block.clear();
                in_block = 0;
            }
        }
        if !block.is_empty() {
            insert_block(&transaction, &block)?;
        }
    }
    transaction.execute_batch(
        "DROP TABLE events;
         UPDATE meta SET value = 2 WHERE name = 'schema_version';",
    )?;
    transaction.commit()?;
    Ok(())
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
    match schema_version(&connection)? {
        Some(SCHEMA_VERSION) => Ok(connection),
        Some(other) => Err(unreadable_version(other)),
        None => Err(TrailError::Malformed("no schema version".to_owned())),
    }
}

/// Stores `block` (already chained) as one row. A single statement, so it is
/// its own transaction unless the caller opened one.
pub fn insert_block(connection: &Connection, block: &Block) -> Result<(), TrailError> {
    let mut statement = connection.prepare_cached(
        "INSERT INTO blocks (first_sequence, last_sequence, min_time, max_time, records)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    statement.execute(params![
        sql_sequence(block.first_sequence)?,
        sql_sequence(block.last_sequence)?,
        block.min_time,
        block.max_time,
        block.records,
    ])?;
    Ok(())
}

/// Calls `each` with the records of one stored block, in order, until it
/// returns false; returns whether it always returned true. Bytes that do not
/// decode (tampering) come as one record no chain has — sequence `u64::MAX`,
/// zero hashes, the rest of the block as its event — so that verification
/// names their position instead of failing to read them.
pub(crate) fn for_each_in_block(bytes: &[u8], mut each: impl FnMut(ChainRecord) -> bool) -> bool {
    let mut offset = 0;
    while offset < bytes.len() {
        match ChainRecord::decode(&bytes[offset..]) {
            Ok((record, used)) => {
                offset += used;
                if !each(record) {
                    return false;
                }
            }
            Err(_) => {
                return each(ChainRecord {
                    sequence: u64::MAX,
                    previous_hash: Sha256Hash::ZERO,
                    hash: Sha256Hash::ZERO,
                    event: bytes[offset..].to_vec(),
                });
            }
        }
    }
    true
}

pub(crate) fn sql_sequence(sequence: u64) -> Result<i64, TrailError> {
    i64::try_from(sequence)
        .map_err(|_| TrailError::Malformed(format!("sequence {sequence} exceeds SQLite's range")))
}

/// The head to append after: the last stored record, else the checkpoint.
pub fn load_head(connection: &Connection) -> Result<ChainHead, TrailError> {
    let last: Option<Vec<u8>> = connection
        .query_row(
            "SELECT records FROM blocks ORDER BY position DESC LIMIT 1",
            [],
            |row| bytes_at(row, 0),
        )
        .optional()?;
    let mut head = None;
    if let Some(bytes) = last {
        for_each_in_block(&bytes, |record| {
            head = Some(record.head());
            true
        });
    }
    match head {
        Some(head) => Ok(head),
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
    let mut statement = connection.prepare("SELECT records FROM blocks ORDER BY position")?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        if !for_each_in_block(&bytes_at(row, 0)?, &mut each) {
            break;
        }
    }
    Ok(())
}

/// The records with sequence numbers in `first..=last`, in stored order (for
/// export, after verification, so stored order is sequence order).
pub fn records_in(
    connection: &Connection,
    first: u64,
    last: u64,
) -> Result<Vec<ChainRecord>, TrailError> {
    let mut statement = connection.prepare_cached(
        "SELECT records FROM blocks
         WHERE last_sequence >= ?1 AND first_sequence <= ?2 ORDER BY position",
    )?;
    let mut rows = statement.query(params![sql_sequence(first)?, sql_sequence(last)?])?;
    let mut records = Vec::new();
    while let Some(row) = rows.next()? {
        for_each_in_block(&bytes_at(row, 0)?, |record| {
            if (first..=last).contains(&record.sequence) {
                records.push(record);
            }
            true
        });
    }
    Ok(records)
}

/// Deletes records up to `checkpoint` and records the checkpoint, in the
/// caller's transaction; returns how many records were deleted. A block that
/// straddles the checkpoint keeps its later records (its time bounds stay:
/// still bounds of what is left).
pub fn prune_to(connection: &Connection, checkpoint: ChainHead) -> Result<u64, TrailError> {
    let through = sql_sequence(checkpoint.sequence)?;
    let mut deleted = 0u64;
    let blocks: Vec<(i64, Vec<u8>)> = {
        let mut statement = connection
            .prepare("SELECT position, records FROM blocks WHERE first_sequence <= ?1")?;
        let rows =
            statement.query_map(params![through], |row| Ok((row.get(0)?, bytes_at(row, 1)?)))?;
        rows.collect::<Result<_, _>>()?
    };
    for (position, bytes) in blocks {
        // The kept records' times are not needed: the row keeps its bounds.
        let mut kept = Block::default();
        let mut pushed = Ok(());
        for_each_in_block(&bytes, |record| {
            if record.sequence <= checkpoint.sequence {
                deleted += 1;
                return true;
            }
            pushed = kept.push_record(&record, 0);
            pushed.is_ok()
        });
        pushed?;
        if kept.is_empty() {
            connection.execute("DELETE FROM blocks WHERE position = ?1", params![position])?;
        } else {
            connection.execute(
                "UPDATE blocks SET first_sequence = ?1, records = ?2 WHERE position = ?3",
                params![sql_sequence(kept.first_sequence)?, kept.records, position],
            )?;
        }
    }
    store_checkpoint(connection, checkpoint)?;
    Ok(deleted)
}
