//! The events of one KMS call, written straight into the trail's entries
//! from the call's typed facts ([`KmsFacts`], filled in by `kms_api`).
//!
//! Every KMS call is recorded before it is answered, so this is on every
//! request's path: the identity is borrowed from the caller
//! (`identity.rs`), and keyward-audit's [`KmsCallEvent`] writes each
//! event's canonical bytes into one buffer: one event, or two sharing a
//! `sharedEventID` when the caller used another account's key (one copy per
//! account, as CloudTrail delivers cross-account KMS calls), and a
//! `RotateKey` service event after a RotateKeyOnDemand.

use keyward_audit::{
    AuditError, CallError, EventId, EventObject, KeyResource, KmsAdditionalView, KmsCallEvent,
    KmsRequestView, KmsResponseElements, SourceAddress,
};
use keyward_kms::{DueKey, KmsOperation, OperationFacts};
use keyward_principal::Caller;
use keyward_trail::Entry;
use uuid::Uuid;

use super::identity::{identity_view, last_segment};
use super::{rotate_key_event, Outcome, RequestFacts};

/// What a KMS call's events say, from its decoded request and the domain's
/// typed result.
#[derive(Debug, Default)]
pub struct KmsFacts {
    /// The loggable request members; `None` writes `"requestParameters":
    /// null` (the body did not decode; RetireGrant by token).
    pub request: Option<KmsRequestView<'static>>,
    /// The keys the call acted on, in the order `resources` lists them.
    keys: Vec<String>,
    /// The key material a cryptographic operation used.
    pub key_material_id: Option<String>,
    /// The grant RetireGrant retired by its token (`additionalEventData`;
    /// the token itself is never logged).
    pub grant_id: Option<String>,
    /// `responseElements` of the few operations that log any.
    pub response_elements: Option<KmsResponseElements>,
}

/// The most keys one call names (a ReEncrypt's two, a grant's, and what a
/// failed call's members and message name).
const MAX_KEYS: usize = 6;

impl KmsFacts {
    /// Adds a key the call acted on: a key ARN not listed yet (an alias or
    /// anything else is no key resource).
    pub fn key(&mut self, arn: Option<&str>) {
        let Some(arn) = arn.filter(|arn| is_key_arn(arn)) else {
            return;
        };
        if self.keys.len() < MAX_KEYS && !self.keys.iter().any(|known| known == arn) {
            self.keys.push(arn.to_owned());
        }
    }

    pub fn has_keys(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The key ARNs the call acted on, in `resources` order.
    pub fn keys(&self) -> &[String] {
        &self.keys
    }
}

/// Writes the events of one KMS call; see the module comment.
/// `operation` is `None` for a name no KMS operation has.
pub fn kms_events(
    facts: &RequestFacts<'_>,
    caller: &Caller,
    operation: Option<&OperationFacts>,
    call: &KmsFacts,
    outcome: Outcome<'_>,
) -> Result<Vec<Entry>, AuditError> {
    kms_events_with_ids(facts, caller, operation, call, outcome, &mut Uuid::new_v4)
}

/// [`kms_events`] with event ids from `new_id` (the tests' are predictable).
pub(super) fn kms_events_with_ids(
    facts: &RequestFacts<'_>,
    caller: &Caller,
    operation: Option<&OperationFacts>,
    call: &KmsFacts,
    outcome: Outcome<'_>,
    new_id: &mut dyn FnMut() -> Uuid,
) -> Result<Vec<Entry>, AuditError> {
    let cryptographic = operation.is_some_and(|o| o.cryptographic);
    // RetireGrant is no cryptographic operation, so at most one of the two.
    let additional = match (&call.grant_id, &call.key_material_id) {
        (Some(grant_id), _) => Some(KmsAdditionalView {
            grant_id: Some(grant_id),
            ..KmsAdditionalView::default()
        }),
        (None, Some(material)) if cryptographic => Some(KmsAdditionalView {
            key_material_id: Some(material),
            ..KmsAdditionalView::default()
        }),
        (None, _) => None,
    };
    let resources: Vec<KeyResource<'_>> = call
        .keys
        .iter()
        .map(|arn| KeyResource {
            account_id: arn_account(arn).unwrap_or(caller.account_id()),
            arn,
        })
        .collect();
    let (source_ip, user_agent) = match caller.service_call() {
        Some(service_call) => (
            SourceAddress::Name(service_call.service()),
            service_call.service(),
        ),
        None => (
            caller
                .source_ip()
                .or(facts.source_ip)
                .map_or(SourceAddress::Name(""), SourceAddress::Ip),
            facts.user_agent,
        ),
    };
    let identity = identity_view(caller, facts.access_key_id);
    let response_elements = match outcome {
        Outcome::Success => call.response_elements.clone().map(EventObject::from),
        Outcome::Failure { .. } => None,
    };
    // One event in the caller's account, or a copy per account when the
    // caller used another account's key; ids drawn shared one first.
    let caller_account = caller.account_id();
    let one_account = resources.iter().all(|key| key.account_id == caller_account);
    let shared_event_id = (!one_account).then(|| EventId(new_id().as_u128()));
    let mut event = KmsCallEvent {
        user_identity: &identity,
        event_time: facts.event_time,
        event_source: facts.event_source,
        event_name: facts.event_name,
        aws_region: facts.region,
        source_ip_address: source_ip,
        user_agent,
        error: match outcome {
            Outcome::Failure { code, message } => Some(CallError {
                code,
                message: message.unwrap_or_default(),
            }),
            Outcome::Success => None,
        },
        request_parameters: call.request.as_ref(),
        response_elements: response_elements.as_ref(),
        additional_event_data: additional.as_ref(),
        request_id: facts.request_id,
        event_id: EventId(new_id().as_u128()),
        read_only: operation.is_some_and(|o| o.read_only),
        resources: &resources,
        recipient_account_id: caller_account,
        shared_event_id,
    };
    let entry = |event: &KmsCallEvent<'_>| -> Result<Entry, AuditError> {
        Ok(Entry {
            bytes: event.encode()?,
            event_time: facts.event_time.unix_timestamp(),
        })
    };
    let mut entries = vec![entry(&event)?];
    if one_account {
        // keyward rotates on demand before answering (AWS does it shortly
        // after), and AWS records that rotation as a `RotateKey` service
        // event with `"rotationType": "ON_DEMAND"`.
        let on_demand = operation.is_some_and(|o| o.operation == KmsOperation::RotateKeyOnDemand);
        if let (true, Outcome::Success, Some(arn)) = (on_demand, outcome, call.keys.first()) {
            let key = DueKey {
                key_id: last_segment(arn).to_owned(),
                arn: arn.clone(),
                account_id: caller_account.to_owned(),
                key_material_id: None,
            };
            let rotation = rotate_key_event(
                &key,
                "ON_DEMAND",
                facts.region,
                facts.event_time,
                new_id().to_string(),
            );
            entries.push(Entry {
                bytes: rotation.encode()?,
                event_time: facts.event_time.unix_timestamp(),
            });
        }
        return Ok(entries);
    }
    let mut recipients = vec![caller_account];
    for resource in &resources {
        if !recipients.contains(&resource.account_id) {
            recipients.push(resource.account_id);
            event.event_id = EventId(new_id().as_u128());
            event.recipient_account_id = resource.account_id;
            entries.push(entry(&event)?);
        }
    }
    Ok(entries)
}

/// Whether `text` is a KMS key ARN (not an alias ARN).
pub fn is_key_arn(text: &str) -> bool {
    text.starts_with("arn:") && text.contains(":key/")
}

/// The account in an ARN (`arn:partition:service:region:ACCOUNT:...`):
/// `arn.split(':').nth(4)` when not empty, without a searcher per field.
pub fn arn_account(arn: &str) -> Option<&str> {
    let mut colons = arn
        .bytes()
        .enumerate()
        .filter(|&(_, byte)| byte == b':')
        .map(|(index, _)| index);
    let start = colons.nth(3)? + 1;
    let end = colons.next().unwrap_or(arn.len());
    arn.get(start..end).filter(|account| !account.is_empty())
}

/// The key ARN an error message starts with (`<key ARN> is disabled.`).
pub fn arn_in_message(message: &str) -> Option<&str> {
    let first = message.split_whitespace().next()?;
    is_key_arn(first).then_some(first.trim_end_matches(['.', ',']))
}
