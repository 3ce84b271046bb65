//! The event of a CloudTrail API call (LookupEvents).

use keyward_audit::{ApiCall, CloudTrailEvent, EventObject};
use keyward_principal::Caller;

use super::{new_id, user_identity, Outcome, RequestFacts};

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
