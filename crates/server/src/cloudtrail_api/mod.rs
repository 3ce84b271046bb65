//! CloudTrail's `LookupEvents` on the wire, so that `aws cloudtrail
//! lookup-events --endpoint-url …` reads keyward's trail.
//!
//! Protocol (botocore `cloudtrail/2013-11-01/service-2.json`): JSON 1.1,
//! `X-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents`,
//! SigV4 service `cloudtrail`. Input `LookupAttributes` (a list of
//! `{AttributeKey, AttributeValue}`, at most one entry), `StartTime`,
//! `EndTime` (timestamps, epoch seconds on the JSON wire), `MaxResults`
//! (1–50, default 50), `NextToken`; output `Events` (newest first) and
//! `NextToken`. `Event.ReadOnly` is a *string* in the model and
//! `Event.CloudTrailEvent` the record as a JSON string.
//!
//! Reading the trail is an IAM action: root may; any other caller needs an
//! identity policy allowing `cloudtrail:LookupEvents` (resource `*`, which is
//! the only resource AWS documents for it). Callers see only their own
//! account's events (the copies whose `recipientAccountId` is theirs).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use keyward_audit::{format_event_time, EventObject};
use keyward_policy::{combine, Verdict};
use keyward_principal::{Caller, RequestContextBuilder};
use keyward_trail::{LookupAttribute, LookupQuery, Trail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use keyward_trail::{Entry, TrailError};

use crate::audit::{cloudtrail_event, Outcome, RequestFacts};
use crate::error::{ApiError, WireError};
use crate::protocol::json::{decode, Json};
use crate::protocol::Protocol;
use crate::service::{BoxFuture, Call, Called, Input, Reply, Service};

/// `X-Amz-Target` prefix of the CloudTrail API.
pub const TARGET_PREFIX: &str = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.";

const MAX_RESULTS: usize = 50;

fn client_error(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Service {
        code,
        message: message.into(),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct LookupEventsRequest {
    lookup_attributes: Option<Vec<LookupAttributeShape>>,
    start_time: Option<Value>,
    end_time: Option<Value>,
    event_category: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LookupAttributeShape {
    attribute_key: String,
    attribute_value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LookupEventsResponse {
    events: Vec<EventShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EventShape {
    event_id: String,
    event_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_only: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_key_id: Option<String>,
    event_time: f64,
    event_source: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    username: Option<String>,
    resources: Vec<ResourceShape>,
    cloud_trail_event: String,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ResourceShape {
    resource_type: String,
    resource_name: String,
}

/// Whether `caller` may call `cloudtrail:<operation>`.
fn authorize(caller: &Caller, operation: &str, now_ms: i64) -> Result<(), ApiError> {
    if caller.is_root() {
        return Ok(());
    }
    let action = format!("cloudtrail:{operation}");
    let policies = caller.identity_policies().iter().map(|p| &**p);
    let request = RequestContextBuilder::new(caller, action.clone(), "*", policies, now_ms).build();
    let decisions: Vec<_> = caller
        .identity_policies()
        .iter()
        .map(|policy| policy.evaluate(&request))
        .collect();
    match combine(&decisions) {
        Verdict::Allowed { .. } => Ok(()),
        Verdict::ExplicitlyDenied { .. } => Err(client_error(
            "AccessDeniedException",
            format!(
                "User: {} is not authorized to perform: {action} with an explicit deny in an identity-based policy",
                caller.principal_arn()
            ),
        )),
        Verdict::ImplicitlyDenied => Err(client_error(
            "AccessDeniedException",
            format!(
                "User: {} is not authorized to perform: {action} because no identity-based policy allows the {action} action",
                caller.principal_arn()
            ),
        )),
    }
}

/// The `requestParameters` CloudTrail records for a LookupEvents call.
fn request_parameters(request: &LookupEventsRequest) -> Option<EventObject> {
    let mut members = serde_json::Map::new();
    if let Some(attributes) = &request.lookup_attributes {
        let list: Vec<Value> = attributes
            .iter()
            .map(|a| {
                serde_json::json!({"attributeKey": a.attribute_key, "attributeValue": a.attribute_value})
            })
            .collect();
        members.insert("lookupAttributes".into(), Value::Array(list));
    }
    for (name, value) in [
        ("startTime", &request.start_time),
        ("endTime", &request.end_time),
    ] {
        if let Some(time) = value.as_ref().and_then(epoch_seconds) {
            if let Ok(time) = time::OffsetDateTime::from_unix_timestamp(time) {
                members.insert(name.into(), Value::from(format_event_time(time)));
            }
        }
    }
    if let Some(max) = request.max_results {
        members.insert("maxResults".into(), Value::from(max));
    }
    serde_json::from_value(Value::Object(members)).ok()
}

/// A timestamp member: epoch seconds (what the CLI and SDKs send on the
/// JSON 1.1 wire), also accepted as a numeric string.
fn epoch_seconds(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_f64().map(|f| f.floor() as i64),
        Value::String(s) => s.parse::<f64>().ok().map(|f| f.floor() as i64).or_else(|| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp())
        }),
        _ => None,
    }
}

fn encode_token(sequence: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("keyward-trail-v1:{sequence}"))
}

fn decode_token(token: &str) -> Option<u64> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    text.strip_prefix("keyward-trail-v1:")?.parse().ok()
}

/// Runs a CloudTrail operation (blocking: it reads the trail's segments),
/// with the `requestParameters` of its event.
pub fn dispatch(
    trail: &Trail,
    caller: &Caller,
    operation: &str,
    body: &[u8],
    now_ms: i64,
) -> (Result<Option<Vec<u8>>, ApiError>, Option<EventObject>) {
    if operation != "LookupEvents" {
        return (Err(ApiError::NotImplemented(operation.to_owned())), None);
    }
    let request = decode::<LookupEventsRequest>(body);
    let logged = request.as_ref().ok().and_then(request_parameters);
    let result = authorize(caller, operation, now_ms)
        .and(request)
        .and_then(|request| lookup_events(trail, caller, request));
    (result, logged)
}

fn lookup_events(
    trail: &Trail,
    caller: &Caller,
    request: LookupEventsRequest,
) -> Result<Option<Vec<u8>>, ApiError> {
    let attributes = request.lookup_attributes.unwrap_or_default();
    if attributes.len() > 1 {
        return Err(client_error(
            "InvalidLookupAttributesException",
            "You cannot specify more than one lookup attribute.",
        ));
    }
    let attribute = match attributes.into_iter().next() {
        None => None,
        Some(LookupAttributeShape {
            attribute_key,
            attribute_value,
        }) => Some(match attribute_key.as_str() {
            "EventId" => LookupAttribute::EventId(attribute_value),
            "EventName" => LookupAttribute::EventName(attribute_value),
            "ReadOnly" => match attribute_value.as_str() {
                "true" => LookupAttribute::ReadOnly(true),
                "false" => LookupAttribute::ReadOnly(false),
                _ => {
                    return Err(client_error(
                        "InvalidLookupAttributesException",
                        "ReadOnly must be true or false.",
                    ))
                }
            },
            "Username" => LookupAttribute::Username(attribute_value),
            "ResourceType" => LookupAttribute::ResourceType(attribute_value),
            "ResourceName" => LookupAttribute::ResourceName(attribute_value),
            "EventSource" => LookupAttribute::EventSource(attribute_value),
            "AccessKeyId" => LookupAttribute::AccessKeyId(attribute_value),
            other => {
                return Err(client_error(
                    "InvalidLookupAttributesException",
                    format!("{other} is not a valid lookup attribute key."),
                ))
            }
        }),
    };
    if let Some(category) = &request.event_category {
        if category != "insight" {
            return Err(client_error(
                "InvalidEventCategoryException",
                format!("{category} is not a valid event category."),
            ));
        }
        // keyward records no Insights events.
        return serde_json::to_vec(&LookupEventsResponse {
            events: Vec::new(),
            next_token: None,
        })
        .map(Some)
        .map_err(|e| ApiError::Internal(e.to_string()));
    }
    let time = |value: Option<Value>| -> Result<Option<i64>, ApiError> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(value) => epoch_seconds(&value).map(Some).ok_or_else(|| {
                ApiError::Serialization("StartTime and EndTime must be timestamps.".into())
            }),
        }
    };
    let start_time = time(request.start_time)?;
    let end_time = time(request.end_time)?;
    if let (Some(start), Some(end)) = (start_time, end_time) {
        if start > end {
            return Err(client_error(
                "InvalidTimeRangeException",
                "Start time must be before end time.",
            ));
        }
    }
    let max_results = match request.max_results {
        None => MAX_RESULTS,
        Some(n) if (1..=MAX_RESULTS as i64).contains(&n) => n as usize,
        Some(_) => {
            return Err(client_error(
                "InvalidMaxResultsException",
                "MaxResults must be between 1 and 50.",
            ))
        }
    };
    let before_sequence = match request.next_token.as_deref() {
        None | Some("") => None,
        Some(token) => Some(
            decode_token(token)
                .ok_or_else(|| client_error("InvalidNextTokenException", "Invalid NextToken."))?,
        ),
    };
    let page = trail
        .lookup(&LookupQuery {
            account_id: caller.account_id().to_string(),
            attribute,
            start_time,
            end_time,
            max_results,
            before_sequence,
        })
        .map_err(|e| ApiError::Internal(format!("trail lookup failed: {e}")))?;
    let events = page
        .events
        .into_iter()
        .filter_map(|found| event_shape(found.event))
        .collect();
    serde_json::to_vec(&LookupEventsResponse {
        events,
        next_token: page.next_before.map(encode_token),
    })
    .map(Some)
    .map_err(|e| ApiError::Internal(format!("response encoding failed: {e}")))
}

/// One result: the lookup columns and the stored record as a string.
fn event_shape(bytes: Vec<u8>) -> Option<EventShape> {
    let event = keyward_audit::CloudTrailEvent::decode(&bytes).ok()?;
    let event_time = event.event_time().ok()?.unix_timestamp() as f64;
    let resources = match &event.resources {
        keyward_audit::Member::Present(list) => list
            .iter()
            .filter_map(|r| {
                Some(ResourceShape {
                    resource_type: r.resource_type.get()?.clone(),
                    resource_name: r.arn.get()?.clone(),
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    Some(EventShape {
        event_id: event.event_id.clone(),
        event_name: event.event_name.clone(),
        read_only: event.read_only.get().map(|b| b.to_string()),
        access_key_id: event.user_identity.access_key_id.get().cloned(),
        event_time,
        event_source: event.event_source.clone(),
        username: keyward_trail::lookup_username(&event),
        resources,
        cloud_trail_event: String::from_utf8(bytes).ok()?,
    })
}

/// CloudTrail at the endpoint (LookupEvents only).
pub(crate) struct CloudTrailService {
    /// `None` under `--benchmark-only-disable-trail`: there is nothing to read.
    trail: Option<Arc<Trail>>,
    clock: Arc<keyward_kms::Kms>,
    protocol: Protocol,
}

impl CloudTrailService {
    pub fn new(trail: Option<Arc<Trail>>, kms: Arc<keyward_kms::Kms>) -> CloudTrailService {
        CloudTrailService {
            trail,
            clock: kms,
            protocol: Protocol::Json(Json {
                target_prefix: TARGET_PREFIX,
            }),
        }
    }

    async fn run(&self, call: Call<'_>) -> Called {
        let body = match call.input {
            Input::Json(body) => body,
            Input::Rest { body, .. } => body,
            Input::Query(_) => Bytes::new(),
        };
        let (result, logged) = match (&self.trail, call.operation) {
            (_, None) => (
                Err(ApiError::UnknownOperation(format!(
                    "Unknown operation: {}",
                    call.facts.event_name
                ))),
                None,
            ),
            (None, Some(operation)) => (Err(ApiError::NotImplemented(operation.to_owned())), None),
            (Some(trail), Some(operation)) => {
                let trail = Arc::clone(trail);
                let caller = call.caller.clone();
                let operation = operation.to_owned();
                let now_ms = self.clock.clock().now_ms();
                tokio::task::spawn_blocking(move || {
                    dispatch(&trail, &caller, &operation, &body, now_ms)
                })
                .await
                .unwrap_or_else(|error| {
                    (
                        Err(ApiError::Internal(format!(
                            "operation task failed: {error}"
                        ))),
                        None,
                    )
                })
            }
        };
        let reply = result.map(Reply::ok).map_err(|error| {
            if error.is_server_fault() {
                tracing::error!(request_id = call.facts.request_id, error = ?error, "CloudTrail call failed");
            }
            error.wire()
        });
        let events = if call.record {
            Entry::new(&cloudtrail_event(
                &call.facts,
                call.caller,
                logged,
                Outcome::of(&reply),
            ))
            .map(|entry| vec![entry])
        } else {
            Ok(Vec::new())
        };
        Called { reply, events }
    }
}

impl Service for CloudTrailService {
    fn signing_names(&self) -> &'static [&'static str] {
        &["cloudtrail"]
    }

    fn protocol(&self) -> &Protocol {
        &self.protocol
    }

    fn event_source(&self) -> &'static str {
        "cloudtrail.amazonaws.com"
    }

    fn call<'a>(&'a self, call: Call<'a>) -> BoxFuture<'a, Called> {
        Box::pin(self.run(call))
    }

    fn internal_error(&self) -> WireError {
        WireError {
            code: "InternalFailure",
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: Some("The request processing has failed because of an unknown error, exception or failure.".into()),
        }
    }

    fn failure_events(
        &self,
        facts: &RequestFacts<'_>,
        caller: &Caller,
        error: &WireError,
    ) -> Result<Vec<Entry>, TrailError> {
        let failed: Result<(), WireError> = Err(error.clone());
        Entry::new(&cloudtrail_event(facts, caller, None, Outcome::of(&failed)))
            .map(|entry| vec![entry])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        assert_eq!(decode_token(&encode_token(42)), Some(42));
        assert_eq!(decode_token("nope"), None);
    }

    #[test]
    fn lookup_parameters_are_recorded_in_camel_case() {
        let request = decode::<LookupEventsRequest>(
            br#"{"LookupAttributes":[{"AttributeKey":"EventName","AttributeValue":"Decrypt"}],"StartTime":1800000000,"MaxResults":5}"#,
        )
        .unwrap();
        let object = request_parameters(&request).unwrap();
        let text = serde_json::to_string(&object).unwrap();
        assert_eq!(
            text,
            r#"{"lookupAttributes":[{"attributeKey":"EventName","attributeValue":"Decrypt"}],"maxResults":5,"startTime":"2027-01-15T08:00:00Z"}"#
        );
    }
}
