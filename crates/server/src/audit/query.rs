//! The event of an IAM or STS call (Query protocol), from its decoded form
//! and the domain's typed result.

use keyward_audit::{ApiCall, CloudTrailEvent, EventObject};
use keyward_principal::Caller;
use serde_json::Value;

use super::{new_id, user_identity, Outcome, RequestFacts};
use crate::protocol::query::QueryRequest;

/// Form parameters of the IAM and STS Query APIs that an event may log: names
/// of users, roles, policies and sessions, ARNs, paths and policy documents.
/// Never `SecretAccessKey`, `SessionToken`, passwords or MFA codes.
const LOGGED_PARAMETERS: &[&str] = &[
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

/// What an IAM or STS call's event says besides who called what.
#[derive(Debug, Default)]
pub struct QueryFacts {
    /// The loggable form parameters, camelCased as CloudTrail writes IAM and
    /// STS parameters (`userName`, `roleArn`, …).
    pub request_parameters: Option<EventObject>,
    /// What the call created, as CloudTrail logs it (AssumeRole's
    /// credentials id and expiry, CreateAccessKey's key id and status):
    /// never a secret or a session token.
    pub response_elements: Option<EventObject>,
}

impl QueryFacts {
    /// The facts of a call with form `request` (nothing but its loggable
    /// parameters yet).
    pub fn of_form(request: Option<&QueryRequest>) -> QueryFacts {
        QueryFacts {
            request_parameters: request.and_then(request_parameters),
            response_elements: None,
        }
    }

    /// Sets `responseElements` from `members` (the checked JSON path of
    /// [`EventObject`], which refuses secret member names).
    pub fn respond(&mut self, members: Value) {
        self.response_elements = serde_json::from_value::<EventObject>(members).ok();
    }
}

/// `requestParameters`: [`LOGGED_PARAMETERS`] of the form, camelCased.
fn request_parameters(request: &QueryRequest) -> Option<EventObject> {
    let mut parameters = serde_json::Map::new();
    for name in LOGGED_PARAMETERS {
        let Some(value) = request.get(name) else {
            continue;
        };
        let mut chars = name.chars();
        let camel: String = match chars.next() {
            Some(first) => first.to_lowercase().chain(chars).collect(),
            None => continue,
        };
        let value = match *name {
            "DurationSeconds" | "MaxSessionDuration" | "MaxItems" => value
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(value)),
            _ => Value::from(value),
        };
        parameters.insert(camel, value);
    }
    if parameters.is_empty() {
        return None;
    }
    serde_json::from_value::<EventObject>(Value::Object(parameters)).ok()
}

/// The event of an IAM or STS call.
pub fn query_event(
    facts: &RequestFacts<'_>,
    caller: &Caller,
    read_only: bool,
    call: QueryFacts,
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
        read_only,
        recipient_account_id: caller.account_id().to_owned(),
    });
    match outcome {
        Outcome::Failure { code, message } => {
            event = event.with_error(code, message.unwrap_or_default());
        }
        Outcome::Success => {
            if let Some(elements) = call.response_elements {
                event = event.with_response_elements(elements);
            }
        }
    }
    if let Some(parameters) = call.request_parameters {
        event = event.with_request_parameters(parameters);
    }
    event
}
