//! LookupEvents queries over the stored segments.
//!
//! The model is CloudTrail's `LookupEvents` (botocore `cloudtrail/2013-11-01`):
//! at most one lookup attribute per call, an optional time range on
//! `eventTime`, newest events first, pages of at most 50.
//!
//! Segments are read newest first, each up to the end of its written frames;
//! a frame whose time bounds or sequence range miss the query is skipped
//! without reading its records. Within a frame, an event is decoded (and
//! matched through [`EventIndex`], the one definition of what each attribute
//! means) only if its bytes contain the account and the value looked for — a
//! cheap byte search that rules out most events. AWS limits LookupEvents to
//! two calls a second per account; appending, which every call does, is what
//! the layout is for.

use std::path::Path;

use keyward_audit::CloudTrailEvent;

use crate::error::TrailError;
use crate::index::EventIndex;
use crate::layout::{self, State};
use crate::stored::{for_each_in_payload, read_written, valid_frames};

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

/// Runs `query` on the trail in `dir` (`<data-dir>/trail`).
pub fn lookup(dir: &Path, query: &LookupQuery) -> Result<LookupPage, TrailError> {
    let checkpoint = State::read(dir)?.checkpoint.sequence;
    let limit = query.max_results.max(1);
    let needles = Needles::of(query);
    let mut events = Vec::new();
    'segments: for (_, path) in layout::list_segments(dir)?.iter().rev() {
        let bytes = match read_written(path) {
            Ok(bytes) => bytes,
            // Pruned while this lookup ran.
            Err(TrailError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                continue
            }
            Err(error) => return Err(error),
        };
        for (summary, payload) in valid_frames(&bytes).into_iter().rev() {
            let outside = query
                .start_time
                .is_some_and(|start| summary.max_time < start)
                || query.end_time.is_some_and(|end| summary.min_time > end)
                || query
                    .before_sequence
                    .is_some_and(|before| summary.first_sequence >= before)
                || summary.last_sequence <= checkpoint;
            if outside {
                continue;
            }
            let mut matching = Vec::new();
            for_each_in_payload(payload, |record| {
                let wanted = record.sequence > checkpoint
                    && query
                        .before_sequence
                        .is_none_or(|before| record.sequence < before);
                if wanted && needles.may_match(&record.event) && matches(query, &record.event) {
                    matching.push(FoundEvent {
                        sequence: record.sequence,
                        event: record.event,
                    });
                }
                true
            });
            events.extend(matching.into_iter().rev());
            if events.len() > limit {
                break 'segments;
            }
        }
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

/// Whether a stored event is one `query` asks for. An event that does not
/// decode (tampering) is not.
fn matches(query: &LookupQuery, bytes: &[u8]) -> bool {
    let Ok(event) = CloudTrailEvent::decode(bytes) else {
        return false;
    };
    let Ok(index) = EventIndex::of(&event) else {
        return false;
    };
    if index.account_id != query.account_id
        || query
            .start_time
            .is_some_and(|start| index.event_time < start)
        || query.end_time.is_some_and(|end| index.event_time > end)
    {
        return false;
    }
    match &query.attribute {
        None => true,
        Some(LookupAttribute::EventId(v)) => index.event_id == *v,
        Some(LookupAttribute::EventName(v)) => index.event_name == *v,
        Some(LookupAttribute::EventSource(v)) => index.event_source == *v,
        Some(LookupAttribute::Username(v)) => index.username.as_ref() == Some(v),
        Some(LookupAttribute::AccessKeyId(v)) => index.access_key_id.as_ref() == Some(v),
        Some(LookupAttribute::ReadOnly(v)) => index.read_only == Some(*v),
        Some(LookupAttribute::ResourceType(v)) => index.resources.iter().any(|(t, _)| t == v),
        Some(LookupAttribute::ResourceName(v)) => index.resources.iter().any(|(_, n)| n == v),
    }
}

/// Strings an event's JSON must contain to match: the account, and the
/// attribute's value. Only values that the encoder (serde_json) writes as
/// they are — no quote, backslash or control character — are searched for;
/// the rest are left to [`matches`].
struct Needles {
    finders: Vec<memchr::memmem::Finder<'static>>,
}

impl Needles {
    fn of(query: &LookupQuery) -> Self {
        let literal = |text: &str| text.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\');
        let mut wanted = vec![query.account_id.clone()];
        match &query.attribute {
            Some(
                LookupAttribute::EventId(v)
                | LookupAttribute::EventName(v)
                | LookupAttribute::EventSource(v)
                | LookupAttribute::AccessKeyId(v)
                | LookupAttribute::ResourceType(v)
                | LookupAttribute::ResourceName(v),
            ) => wanted.push(v.clone()),
            // `root` and session names are derived from other members.
            Some(LookupAttribute::Username(_) | LookupAttribute::ReadOnly(_)) | None => {}
        }
        let finders = wanted
            .iter()
            .filter(|text| !text.is_empty() && literal(text))
            .map(|text| memchr::memmem::Finder::new(text.as_bytes()).into_owned())
            .collect();
        Needles { finders }
    }

    fn may_match(&self, event: &[u8]) -> bool {
        self.finders
            .iter()
            .all(|finder| finder.find(event).is_some())
    }
}
