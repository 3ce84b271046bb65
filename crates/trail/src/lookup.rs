//! LookupEvents queries over the indexed columns.
//!
//! The model is CloudTrail's `LookupEvents` (botocore `cloudtrail/2013-11-01`):
//! at most one lookup attribute per call, an optional time range on
//! `eventTime`, newest events first, pages of at most 50.

use rusqlite::types::Value;
use rusqlite::Connection;

use crate::error::TrailError;
use crate::store::sql_sequence;

/// One `LookupAttributes` entry (AWS accepts one per call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupAttribute {
    EventId(String),
    EventName(String),
    ReadOnly(bool),
    Username(String),
    ResourceType(String),
    ResourceName(String),
    EventSource(String),
    AccessKeyId(String),
}

/// A lookup in one account's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupQuery {
    /// Only events recorded for this account (`recipientAccountId`).
    pub account_id: String,
    pub attribute: Option<LookupAttribute>,
    /// Unix seconds, inclusive.
    pub start_time: Option<i64>,
    /// Unix seconds, inclusive.
    pub end_time: Option<i64>,
    pub max_results: usize,
    /// Continue with events older than this sequence number (the page token).
    pub before_sequence: Option<u64>,
}

/// One found event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundEvent {
    pub sequence: u64,
    /// The stored CloudTrail record, byte for byte.
    pub event: Vec<u8>,
}

/// A page of results, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupPage {
    pub events: Vec<FoundEvent>,
    /// Set when more events match: pass it as `before_sequence` for the next page.
    pub next_before: Option<u64>,
}

/// Runs `query` on a trail connection.
pub fn lookup(connection: &Connection, query: &LookupQuery) -> Result<LookupPage, TrailError> {
    let mut sql = String::from("SELECT e.sequence, e.event FROM events e WHERE e.account_id = ?");
    let mut values: Vec<Value> = vec![Value::Text(query.account_id.clone())];
    if let Some(attribute) = &query.attribute {
        let (clause, value) = match attribute {
            LookupAttribute::EventId(v) => (" AND e.event_id = ?", Value::Text(v.clone())),
            LookupAttribute::EventName(v) => (" AND e.event_name = ?", Value::Text(v.clone())),
            LookupAttribute::EventSource(v) => (" AND e.event_source = ?", Value::Text(v.clone())),
            LookupAttribute::Username(v) => (" AND e.username = ?", Value::Text(v.clone())),
            LookupAttribute::AccessKeyId(v) => (" AND e.access_key_id = ?", Value::Text(v.clone())),
            LookupAttribute::ReadOnly(v) => (" AND e.read_only = ?", Value::Integer(i64::from(*v))),
            LookupAttribute::ResourceType(v) => (
                " AND instr(e.resources, ?) > 0",
                Value::Text(format!("\n{v}\t")),
            ),
            LookupAttribute::ResourceName(v) => (
                " AND instr(e.resources, ?) > 0",
                Value::Text(format!("\t{v}\n")),
            ),
        };
        sql.push_str(clause);
        values.push(value);
    }
    if let Some(start) = query.start_time {
        sql.push_str(" AND e.event_time >= ?");
        values.push(Value::Integer(start));
    }
    if let Some(end) = query.end_time {
        sql.push_str(" AND e.event_time <= ?");
        values.push(Value::Integer(end));
    }
    if let Some(before) = query.before_sequence {
        sql.push_str(" AND e.sequence < ?");
        values.push(Value::Integer(sql_sequence(before)?));
    }
    sql.push_str(" ORDER BY e.sequence DESC LIMIT ?");
    let limit = query.max_results.max(1);
    values.push(Value::Integer(
        i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX),
    ));
    let mut statement = connection.prepare_cached(&sql)?;
    let rows = statement.query_map(rusqlite::params_from_iter(values), |row| {
        Ok((row.get::<_, i64>(0)?, crate::store::bytes_at(row, 1)?))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (sequence, event) = row?;
        events.push(FoundEvent {
            sequence: u64::try_from(sequence).unwrap_or(0),
            event,
        });
    }
    let next_before = if events.len() > limit {
        events.truncate(limit);
        events.last().map(|e| e.sequence)
    } else {
        None
    };
    Ok(LookupPage {
        events,
        next_before,
    })
}
