//! Request → CloudTrail event: what the trail records about one API call.
//!
//! One event per request to every API keyward serves, whatever the outcome
//! (success, AccessDenied, validation and state errors, DryRun, unknown
//! operations). Requests that fail *authentication* (no or unknown access
//! key, bad signature, expired request) are not recorded: no identity was
//! established, and AWS likewise delivers no CloudTrail event for a request
//! it rejected before it knew who sent it (the event reference documents
//! `userIdentity` for every event, and the failures CloudTrail does record
//! are AccessDenied-type *authorization* failures). They are counted in
//! `/metrics` under their error code instead.
//!
//! An event is written from the typed facts of the call, never by reading
//! the request or the reply again: each service's handler decodes its input
//! once, and fills in what the event may say (the loggable request members,
//! the keys acted on, the key material used, `responseElements`) from the
//! decoded request and the domain's typed result. The views those facts go
//! into (keyward-audit's) have no field for plaintext, ciphertext blobs,
//! data keys or grant tokens, so none can reach an event. Member names and
//! which operations log what follow the KMS CloudTrail examples in the KMS
//! developer guide ("Logging AWS KMS API calls with AWS CloudTrail" and its
//! per-operation pages) and the seed records.
//!
//! KMS calls, the hot path, are written by keyward-audit's one-pass event
//! writer (`kms.rs`); IAM, STS and CloudTrail calls and service events are
//! rarer and are built with the typed builders (`query.rs`, `cloudtrail.rs`,
//! below). All take the caller's identity from `identity.rs`.

use std::net::IpAddr;

use keyward_audit::{CloudTrailEvent, KmsServiceEventDetails, Resource, ServiceAction};
use keyward_kms::{DueKey, DueWork};
use time::OffsetDateTime;

use crate::error::WireError;

mod cloudtrail;
mod identity;
mod kms;
mod query;

pub use cloudtrail::cloudtrail_event;
pub use identity::user_identity;
pub use kms::{arn_account, arn_in_message, is_key_arn, kms_events, KmsFacts};
pub use query::{query_event, QueryFacts};

/// What the pipeline knows about a request, besides its input and caller,
/// borrowed from the request (an event is written for every call).
#[derive(Debug, Clone, Copy)]
pub struct RequestFacts<'a> {
    /// `kms.amazonaws.com`, `iam.amazonaws.com`, `sts.amazonaws.com`, `cloudtrail.amazonaws.com`.
    pub event_source: &'a str,
    /// The operation as the client named it (unknown names included).
    pub event_name: &'a str,
    pub region: &'a str,
    /// The peer address; a service name replaces it for service calls.
    pub source_ip: Option<IpAddr>,
    pub user_agent: &'a str,
    /// The `x-amzn-RequestId` of the response.
    pub request_id: &'a str,
    /// The access key the request was signed with (not secret).
    pub access_key_id: Option<&'a str>,
    pub event_time: OffsetDateTime,
}

/// How the call ended.
#[derive(Debug, Clone, Copy)]
pub enum Outcome<'a> {
    Success,
    Failure {
        code: &'a str,
        message: Option<&'a str>,
    },
}

impl<'a> Outcome<'a> {
    /// The outcome of a call that answered `result`.
    pub fn of<T>(result: &'a Result<T, WireError>) -> Outcome<'a> {
        match result {
            Ok(_) => Outcome::Success,
            Err(error) => Outcome::Failure {
                code: error.code,
                message: error.message.as_deref(),
            },
        }
    }
}

/// What keyward did by itself, as AWS records it (`AwsServiceEvent`,
/// "AWS Internal" identity, the key in `resources`, the owner as
/// recipient): `DeleteKey` when a waiting period ended, `RotateKey` with
/// `serviceEventDetails` `{"rotationType": "AUTOMATIC", "keyId": …}` for a
/// scheduled rotation (shapes from the KMS developer guide's `ct-deletekey`
/// and `ct-rotatekey` pages and CloudTrail's "AWS service events" page).
pub fn due_work_events(done: &DueWork, region: &str, now: OffsetDateTime) -> Vec<CloudTrailEvent> {
    let deleted = done
        .deleted_keys
        .iter()
        .map(|key| key_service_event(key, "DeleteKey", region, now, new_id()));
    let rotated = done
        .rotated_keys
        .iter()
        .map(|key| rotate_key_event(key, "AUTOMATIC", region, now, new_id()));
    deleted.chain(rotated).collect()
}

fn key_service_event(
    key: &DueKey,
    name: &str,
    region: &str,
    now: OffsetDateTime,
    event_id: String,
) -> CloudTrailEvent {
    CloudTrailEvent::service_event(ServiceAction {
        account_id: key.account_id.clone(),
        event_time: now,
        event_source: "kms.amazonaws.com".to_owned(),
        event_name: name.to_owned(),
        aws_region: region.to_owned(),
        event_id,
        read_only: false,
    })
    .with_resource(Resource::kms_key(key.account_id.clone(), key.arn.clone()))
}

fn rotate_key_event(
    key: &DueKey,
    rotation_type: &str,
    region: &str,
    now: OffsetDateTime,
    event_id: String,
) -> CloudTrailEvent {
    key_service_event(key, "RotateKey", region, now, event_id).with_service_event_details(
        KmsServiceEventDetails {
            rotation_type: Some(rotation_type.to_owned()),
            key_id: Some(key.key_id.clone()),
        },
    )
}

/// An epoch-milliseconds time (the service clock's) as a time, to the second.
pub fn time_of_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[cfg(test)]
mod tests;
