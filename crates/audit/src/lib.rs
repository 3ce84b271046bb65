//! The audit trail's pure core: CloudTrail records, a hash chain over them,
//! signed digests, whole-trail verification, and CloudTrail-style export files.
//!
//! ```
//! use keyward_audit::{
//!     verify_trail, ApiCall, ChainHead, CloudTrailEvent, DigestSigningKey, KmsRequestParameters,
//!     Resource, UserIdentity,
//! };
//! use time::macros::datetime;
//!
//! // One event per request, built from what the server knows.
//! let key_arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";
//! let event = CloudTrailEvent::api_call(ApiCall {
//!     user_identity: UserIdentity::iam_user("AIDAEXAMPLE", "arn:aws:iam::111122223333:user/Alice",
//!                                           "111122223333", "Alice"),
//!     event_time: datetime!(2025-08-07 13:45:45 UTC),
//!     event_source: "kms.amazonaws.com".into(),
//!     event_name: "Decrypt".into(),
//!     aws_region: "us-east-1".into(),
//!     source_ip_address: "192.0.2.7".into(),
//!     user_agent: "aws-cli/2.17".into(),
//!     request_id: "56764d19-1eb1-48f1-8044-594aa7dd05c4".into(),
//!     event_id: "1371b402-f1dc-4c47-8f3a-1004e4803c5a".into(),
//!     read_only: true,
//!     recipient_account_id: "111122223333".into(),
//! })
//! .with_request_parameters(KmsRequestParameters {
//!     key_id: Some(key_arn.into()),
//!     encryption_algorithm: Some("SYMMETRIC_DEFAULT".into()),
//!     ..KmsRequestParameters::default()
//! })
//! .with_resource(Resource::kms_key("111122223333", key_arn));
//!
//! // Chain it, sign a digest, verify the whole trail.
//! let mut head = ChainHead::GENESIS;
//! let record = head.append(event.encode()?)?;
//! let signing_key = DigestSigningKey::from_seed(&[7; 32])?;
//! let digest = signing_key.sign_digest(None, head, datetime!(2025-08-07 13:00 UTC),
//!                                      datetime!(2025-08-07 14:00 UTC))?;
//! let report = verify_trail(&[record], &[digest], &[signing_key.public_key()], ChainHead::GENESIS);
//! assert!(report.is_ok(), "{report}");
//! # Ok::<(), keyward_audit::AuditError>(())
//! ```
//!
//! Architecture invariants:
//! - Pure: no I/O, no clock, no randomness, no global state, no async. Times,
//!   ids, keys and records come in as arguments; bytes and reports go out.
//!   Storage, group commit, `LookupEvents` and gzip belong to the callers.
//! - **An event never holds plaintext, data keys, ciphertext blobs, grant
//!   tokens, import material or signed messages**: the members that describe a
//!   request can only be built from typed builders that have no field for them,
//!   or read from JSON that is checked for them ([`EventObject`]). The one-pass
//!   writer of a KMS call's event ([`KmsCallEvent`]) takes typed views with
//!   the same fields as those builders, never free-form JSON.
//! - The chain hashes the stored event bytes, never a re-serialization, so a
//!   record verifies exactly as it was written.
//! - Verification findings are data ([`TrailReport`], [`ChainFault`],
//!   [`DigestFault`]), with the first bad position; [`AuditError`] is only for
//!   "could not compute".
//! - Decoders take `&[u8]`, return typed errors, never panic and never
//!   allocate from an unchecked length.
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

// Writing a KMS call's record in one pass, from borrowed views.
mod event_writer;
mod identity_view;
mod json_text;
mod kms_request_view;

// Tamper evidence.
mod chain;
mod digest;
mod digest_key;
mod hash;
mod prune;
mod reader;
mod record_format;
mod verify;

// Files for existing CloudTrail tooling.
mod export;

mod error;

#[doc(hidden)]
pub mod fuzzing;

pub use chain::{
    verify_chain, ChainAnchor, ChainFault, ChainFaultKind, ChainHead, ChainRecord, ChainSummary,
    ChainVerifier, CHAIN_DOMAIN, MAX_EVENT_BYTES,
};
pub use digest::{
    verify_digest, verify_digest_chain, Digest, DigestChainSummary, DigestFault, DigestFaultKind,
    DigestLink, DIGEST_DOMAIN,
};
pub use digest_key::{
    DigestPublicKey, DigestSignature, DigestSigningKey, DIGEST_SIGNATURE_ALGORITHM,
};
pub use error::AuditError;
pub use event::{
    ApiCall, CloudTrailEvent, EventType, Resource, ServiceAction, TlsDetails, EVENT_VERSION,
    MAX_ERROR_FIELD_BYTES,
};
pub use event_object::{is_forbidden, EventObject, FORBIDDEN_MEMBER_NAMES};
pub use event_writer::{CallError, EventId, KeyResource, KmsCallEvent, SourceAddress};
pub use export::{
    digest_object_key, log_file, log_file_object_key, DigestFile, LogFile, LogFileEntry,
    HASH_ALGORITHM,
};
pub use hash::Sha256Hash;
pub use identity::{
    IdentityType, SessionAttributes, SessionContext, SessionIssuer, UserIdentity, AWS_INTERNAL,
};
pub use identity_view::{
    IdentityView, SessionAttributesView, SessionContextView, SessionIssuerView,
};
pub use json::{JsonObject, JsonValue};
pub use json_text::json_string_run;
pub use kms_elements::{
    ContextPairs, GrantConstraints, KeyMetadataElement, KmsAdditionalEventData,
    KmsRequestParameters, KmsResponseElements, KmsServiceEventDetails,
};
pub use kms_request_view::{ContextView, GrantConstraintsView, KmsAdditionalView, KmsRequestView};
pub use member::Member;
pub use prune::pruning_checkpoint;
pub use record_format::{encode_record_into, RECORD_FORMAT_VERSION, RECORD_HEADER_BYTES};
pub use time_format::{format_event_time, format_response_date, parse_event_time};
pub use verify::{verify_trail, TrailFailure, TrailReport, TrailVerifier};
