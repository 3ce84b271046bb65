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
//! What an event may say is decided here by *naming* members: the request
//! body is read into a struct that has fields only for loggable members (so
//! `Plaintext`, `CiphertextBlob`, `GrantTokens` are never even copied), and
//! the members go into keyward-audit's typed views and builders, which have
//! no field for secrets. Member names and which operations log what follow
//! the KMS CloudTrail examples in the KMS developer guide ("Logging AWS KMS
//! API calls with AWS CloudTrail" and its per-operation pages) and the seed
//! records.
//!
//! KMS calls, the hot path, are written by keyward-audit's one-pass event
//! writer from members borrowed in place (`kms_call.rs`); IAM, STS and
//! CloudTrail calls and service events are rarer and are built with the typed
//! builders (below). Both take the caller's identity from `identity.rs`.

use std::net::IpAddr;

use keyward_audit::{
    ApiCall, CloudTrailEvent, EventObject, KmsServiceEventDetails, Resource, ServiceAction,
};
use keyward_kms::{DueKey, DueWork, Kms};
use keyward_principal::Caller;
use serde_json::Value;
use time::OffsetDateTime;

mod flat_reply;
mod identity;
mod kms_call;
mod kms_request;
mod kms_response;
mod loose_json;

pub use identity::user_identity;
pub use kms_call::{arn_account, arn_in_message, kms_events};

/// What the event of a KMS call needs from the key store that the request
/// does not say by itself: the key an alias names (a failed call's
/// `resources`), the grant and key a grant token names (RetireGrant by token).
pub trait KeyNames {
    fn key_arn_named(&self, caller: &Caller, key_id: &str) -> Option<String>;
    /// `(grant id, key ARN)`.
    fn grant_named_by_token(&self, token: &str) -> Option<(String, String)>;
}

impl KeyNames for Kms {
    fn key_arn_named(&self, caller: &Caller, key_id: &str) -> Option<String> {
        Kms::key_arn_named(self, caller, key_id)
    }
    fn grant_named_by_token(&self, token: &str) -> Option<(String, String)> {
        Kms::grant_named_by_token(self, token)
    }
}

/// What the HTTP layer knows about a request, besides its body and caller,
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
    /// The response body (`None` when empty).
    Success(Option<&'a [u8]>),
    Failure {
        code: &'a str,
        message: Option<&'a str>,
    },
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

/// Form parameters of the IAM and STS Query APIs that an event may log: names
/// of users, roles, policies and sessions, ARNs, paths and policy documents.
/// Never `SecretAccessKey`, `SessionToken`, passwords or MFA codes.
const QUERY_LOGGED_PARAMETERS: &[&str] = &[
    "UserName",
    "RoleName",
    "GroupName",
    "PolicyName",
    "PolicyArn",
    "PolicyDocument",
    "AssumeRolePolicyDocument",
    "RoleArn",
    "RoleSessionName",
    "DurationSeconds",
    "AccessKeyId",
    "Status",
    "Path",
    "PathPrefix",
    "Description",
    "MaxSessionDuration",
    "Marker",
    "MaxItems",
    "ExternalId",
    "SourceIdentity",
    "Name",
    "Scope",
];

/// The event of an IAM or STS Query API call (`Action=...` form body).
/// `requestParameters` holds only [`QUERY_LOGGED_PARAMETERS`], camelCased as
/// CloudTrail writes IAM/STS parameters (`userName`, `roleArn`, …).
pub fn query_event(
    facts: &RequestFacts<'_>,
    caller: &Caller,
    form: &[(String, String)],
    outcome: Outcome<'_>,
) -> CloudTrailEvent {
    let mut parameters = serde_json::Map::new();
    for (name, value) in form {
        if QUERY_LOGGED_PARAMETERS.contains(&name.as_str()) {
            let mut chars = name.chars();
            let camel: String = match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => continue,
            };
            let value = match name.as_str() {
                "DurationSeconds" | "MaxSessionDuration" | "MaxItems" => value
                    .parse::<u64>()
                    .map(Value::from)
                    .unwrap_or_else(|_| Value::from(value.clone())),
                _ => Value::from(value.clone()),
            };
            parameters.insert(camel, value);
        }
    }
    let read_only = {
        let action = facts.event_name;
        ["Get", "List", "Describe"]
            .iter()
            .any(|p| action.starts_with(p))
            || action == "GetCallerIdentity"
    };
    let source_ip = caller
        .source_ip()
        .or(facts.source_ip)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let mut event = CloudTrailEvent::api_call(ApiCall {
        user_identity: user_identity(caller, facts.access_key_id),
        event_time: facts.event_time,
        event_source: facts.event_source.to_owned(),
        event_name: facts.event_name.to_owned(),
        aws_region: facts.region.to_owned(),
        source_ip_address: source_ip,
        user_agent: facts.user_agent.to_owned(),
        request_id: facts.request_id.to_owned(),
        event_id: new_id(),
        read_only,
        recipient_account_id: caller.account_id().to_string(),
    });
    if let Outcome::Failure { code, message } = outcome {
        event = event.with_error(code, message.unwrap_or_default());
    }
    if !parameters.is_empty() {
        // The checked JSON path of EventObject: it refuses secret member names.
        if let Ok(object) = serde_json::from_value::<EventObject>(Value::Object(parameters)) {
            event = event.with_request_parameters(object);
        }
    }
    event
}

/// The event of a CloudTrail API call (LookupEvents): `requestParameters`
/// name the lookup, as CloudTrail records its own management calls.
pub fn cloudtrail_event(
    facts: &RequestFacts<'_>,
    caller: &Caller,
    request_parameters: Option<EventObject>,
    outcome: Outcome<'_>,
) -> CloudTrailEvent {
    let source_ip = caller
        .source_ip()
        .or(facts.source_ip)
        .map(|ip| ip.to_string())
        .unwrap_or_default();
    let mut event = CloudTrailEvent::api_call(ApiCall {
        user_identity: user_identity(caller, facts.access_key_id),
        event_time: facts.event_time,
        event_source: facts.event_source.to_owned(),
        event_name: facts.event_name.to_owned(),
        aws_region: facts.region.to_owned(),
        source_ip_address: source_ip,
        user_agent: facts.user_agent.to_owned(),
        request_id: facts.request_id.to_owned(),
        event_id: new_id(),
        read_only: true,
        recipient_account_id: caller.account_id().to_string(),
    });
    if let Outcome::Failure { code, message } = outcome {
        event = event.with_error(code, message.unwrap_or_default());
    }
    if let Some(parameters) = request_parameters {
        event = event.with_request_parameters(parameters);
    }
    event
}

// ---------------------------------------------------------------------------
// Recording: the hook `aws_request` runs after every call, before answering.
// ---------------------------------------------------------------------------

/// The API a call was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Service {
    #[default]
    Kms,
    CloudTrail,
}

impl Service {
    fn event_source(self) -> &'static str {
        match self {
            Service::Kms => "kms.amazonaws.com",
            Service::CloudTrail => "cloudtrail.amazonaws.com",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Service::Kms => "kms",
            Service::CloudTrail => "cloudtrail",
        }
    }
}

/// What `handle` learned about the call: filled in once authentication
/// succeeded. A call without a caller is not recorded (module comment).
#[derive(Debug, Default)]
pub struct CallInfo {
    pub service: Service,
    pub caller: Option<Caller>,
}

impl CallInfo {
    /// Keeps the authenticated caller for the call's event and lends it back
    /// for the call itself (an operation that runs on the async worker
    /// borrows it from here instead of a copy).
    pub fn authenticated(&mut self, service: Service, caller: Caller) -> &Caller {
        self.service = service;
        self.caller.insert(caller)
    }
}

/// The access key id the request was signed with: from the first
/// `Authorization` header the SigV4 check read (not a secret).
fn access_key_id(parts: &axum::http::request::Parts) -> Option<&str> {
    let value = parts
        .headers
        .get_all(axum::http::header::AUTHORIZATION)
        .iter()
        .find_map(|value| value.to_str().ok())?;
    let credential = value.split("Credential=").nth(1)?;
    let id = credential.split('/').next()?;
    (!id.is_empty()).then_some(id)
}

fn header_text<'p>(parts: &'p axum::http::request::Parts, name: &str) -> &'p str {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn peer_ip(parts: &axum::http::request::Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|axum::extract::ConnectInfo(address)| address.ip())
}

fn facts<'a>(
    state: &'a crate::AppState,
    parts: &'a axum::http::request::Parts,
    request_id: &'a str,
    event_source: &'a str,
    event_name: &'a str,
) -> RequestFacts<'a> {
    RequestFacts {
        event_source,
        event_name,
        region: state.kms.region(),
        source_ip: peer_ip(parts),
        user_agent: header_text(parts, "user-agent"),
        request_id,
        access_key_id: access_key_id(parts),
        event_time: time_of_ms(state.kms.clock().now_ms()),
    }
}

/// Makes the events durable, counts the call, and watches for disabled keys.
///
/// Order, and what it means: the operation has run (a mutating operation has
/// *committed* its change to the key store) before its event is written. If
/// the trail cannot be written, the caller gets an internal error instead of
/// the result: no answer is ever sent without its record, but the change
/// stays (the event of a committed change whose write failed is lost with the
/// failed batch, and the error is logged).
#[allow(clippy::too_many_arguments)]
pub async fn record(
    state: &crate::AppState,
    parts: &axum::http::request::Parts,
    request_id: &str,
    target: &str,
    call: &CallInfo,
    request_body: &[u8],
    result: Result<Option<Vec<u8>>, crate::error::ApiError>,
    started: std::time::Instant,
    in_progress: Option<keyward_trail::CallInProgress>,
) -> Result<Option<Vec<u8>>, crate::error::ApiError> {
    let operation = match call.service {
        Service::Kms => target.strip_prefix("TrentService.").unwrap_or(target),
        Service::CloudTrail => target
            .strip_prefix(crate::cloudtrail_api::TARGET_PREFIX)
            .unwrap_or(target),
    };
    let wire = result.as_ref().err().map(|e| e.wire());
    // S-27, S-28: every attempt to use a disabled or pending-deletion key is
    // counted by key and logged.
    if let (Some(caller), Err(crate::error::ApiError::Kms(error))) = (&call.caller, &result) {
        if let Some((key_arn, key_state)) = error.unusable_key() {
            state
                .metrics
                .disabled_key_used(key_arn, operation, key_state, caller.principal_arn());
        }
    }
    let mut result = result;
    if let (Some(caller), Some(trail)) = (&call.caller, &state.trail) {
        let outcome = match (&result, &wire) {
            (Ok(body), _) => Outcome::Success(body.as_deref()),
            (Err(_), Some(wire)) => Outcome::Failure {
                code: wire.code,
                message: wire.message.as_deref(),
            },
            (Err(_), None) => Outcome::Failure {
                code: "InternalFailure",
                message: None,
            },
        };
        let facts = facts(
            state,
            parts,
            request_id,
            call.service.event_source(),
            operation,
        );
        let entries = match call.service {
            Service::Kms => kms_events(&facts, caller, request_body, outcome, &*state.kms)
                .map_err(keyward_trail::TrailError::from),
            Service::CloudTrail => keyward_trail::Entry::new(&cloudtrail_event(
                &facts,
                caller,
                crate::cloudtrail_api::request_parameters(request_body),
                outcome,
            ))
            .map(|entry| vec![entry]),
        };
        let written = match (entries, in_progress) {
            (Ok(entries), Some(call)) => call.append(entries).await,
            (Ok(entries), None) => trail.append(entries).await,
            (Err(error), _) => Err(error),
        };
        if let Err(error) = written {
            tracing::error!(request_id, operation, %error, "the call's audit event could not be written; answering an internal error");
            result = Err(crate::error::ApiError::Internal(format!(
                "audit trail write failed: {error}"
            )));
        }
    }
    let outcome_label = match &result {
        Ok(_) => "success",
        Err(error) => error.wire().code,
    };
    state.metrics.observe(
        call.service.label(),
        if call.caller.is_some() {
            operation
        } else {
            "unauthenticated"
        },
        outcome_label,
        started.elapsed(),
    );
    result
}

/// Serves an IAM or STS Query request and records its event before the
/// answer leaves. `query::run` authenticates the request once, before the
/// action runs, and returns the caller with the result, so the event names
/// who asked even when the action deleted the access key that signed it.
pub async fn serve_query(
    state: &std::sync::Arc<crate::AppState>,
    parts: axum::http::request::Parts,
    body: axum::body::Body,
    request_id: &str,
    started: std::time::Instant,
    in_progress: Option<keyward_trail::CallInProgress>,
) -> axum::response::Response {
    use crate::query::{self, QueryError};

    let bytes = match query::read_body(state, body).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let service = match access_scope_service(&parts).as_deref() {
                Some("sts") => query::QueryService::Sts,
                _ => query::QueryService::Iam,
            };
            return query::respond(service, Err(error), request_id);
        }
    };
    let call = query::run(state, &parts, &bytes, request_id).await;
    let service = call.service;
    let action = call
        .request
        .as_ref()
        .map(|r| r.action.clone())
        .unwrap_or_default();
    let wire = call.result.as_ref().err().map(|e| e.wire(service));
    let mut failed_write = false;
    if let (Some(caller), Some(trail)) = (&call.caller, &state.trail) {
        let event_source = format!("{}.amazonaws.com", service.signing_name());
        let facts = facts(state, &parts, request_id, &event_source, &action);
        let form: Vec<(String, String)> = QUERY_LOGGED_PARAMETERS
            .iter()
            .filter_map(|name| {
                let value = call.request.as_ref()?.get(name)?;
                Some(((*name).to_owned(), value.to_owned()))
            })
            .collect();
        let outcome = match &wire {
            None => Outcome::Success(None),
            Some(wire) => Outcome::Failure {
                code: wire.code,
                message: Some(wire.message.as_str()),
            },
        };
        let event = query_event(&facts, caller, &form, outcome);
        let written = match (keyward_trail::Entry::new(&event), in_progress) {
            (Ok(entry), Some(call)) => call.append(vec![entry]).await,
            (Ok(entry), None) => trail.append(vec![entry]).await,
            (Err(error), _) => Err(error),
        };
        if let Err(error) = written {
            tracing::error!(request_id, action, %error, "the call's audit event could not be written; answering an internal error");
            failed_write = true;
        }
    }
    let label = if call.caller.is_some() {
        action.as_str()
    } else {
        "unauthenticated"
    };
    let (outcome, result) = if failed_write {
        (
            "InternalFailure",
            Err(QueryError::Internal("audit trail write failed".into())),
        )
    } else {
        (wire.as_ref().map_or("success", |w| w.code), call.result)
    };
    state
        .metrics
        .observe(service.signing_name(), label, outcome, started.elapsed());
    query::respond(service, result, request_id)
}

/// The credential-scope service of a signed request.
fn access_scope_service(parts: &axum::http::request::Parts) -> Option<String> {
    let value = parts.headers.get("authorization")?.to_str().ok()?;
    let credential = value.split("Credential=").nth(1)?;
    let scope = credential.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_owned)
}

#[cfg(test)]
mod equivalence_tests;
#[cfg(test)]
mod reference;
#[cfg(test)]
mod tests;
