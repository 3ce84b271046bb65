//! The audit trail's pure core. This commit brings the record: CloudTrail
//! events that round-trip AWS's records, built from typed parts.
//!
//! Architecture invariants:
//! - Pure: no I/O, no clock, no randomness, no global state, no async. Times,
//!   ids and identities come in as arguments.
//! - **An event never holds plaintext, data keys, ciphertext blobs, grant
//!   tokens, import material or signed messages**: the members that describe a
//!   request can only be built from typed builders that have no field for them,
//!   or read from JSON that is checked for them ([`EventObject`]).
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

// The record.
mod event;
mod event_object;
mod identity;
mod json;
mod kms_elements;
mod member;
mod time_format;

mod error;

pub use error::AuditError;
pub use event::{
    ApiCall, CloudTrailEvent, EventType, Resource, ServiceAction, TlsDetails, EVENT_VERSION,
    MAX_ERROR_FIELD_BYTES,
};
pub use event_object::{is_forbidden, EventObject, FORBIDDEN_MEMBER_NAMES};
pub use identity::{
    IdentityType, SessionAttributes, SessionContext, SessionIssuer, UserIdentity, AWS_INTERNAL,
};
pub use json::{JsonObject, JsonValue};
pub use kms_elements::{
    kms_operation_is_read_only, ContextPairs, GrantConstraints, KeyMetadataElement,
    KmsAdditionalEventData, KmsRequestParameters, KmsResponseElements, KmsServiceEventDetails,
};
pub use member::Member;
pub use time_format::{format_event_time, format_response_date, parse_event_time};
