//! The events of one KMS call, written straight into the trail's entries.
//!
//! Every KMS call is recorded before it is answered, so this is on every
//! request's path: the request and the reply are read in place
//! (`kms_request.rs`, `kms_response.rs`), the identity is borrowed from the
//! caller (`identity.rs`), and keyward-audit's [`KmsCallEvent`] writes each
//! event's canonical bytes into one buffer. Nothing here copies a member the
//! event does not change.
//!
//! The events are those the typed builders made (the reference in
//! `reference.rs`, which the tests compare byte for byte): one event, or two
//! sharing a `sharedEventID` when the caller used another account's key (one
//! copy per account, as CloudTrail delivers cross-account KMS calls), and a
//! `RotateKey` service event after a RotateKeyOnDemand.

use std::borrow::Cow;

use keyward_audit::{
    kms_operation_is_read_only, AuditError, CallError, EventId, EventObject, KeyResource,
    KmsAdditionalView, KmsCallEvent, KmsRequestView, SourceAddress,
};
use keyward_kms::DueKey;
use keyward_principal::Caller;
use keyward_trail::Entry;
use uuid::Uuid;

use super::identity::{identity_view, last_segment};
use super::kms_request::{grant_token, read_request_parameters};
use super::kms_response::{response_elements, KmsReply, KmsResponseMembers};
use super::{rotate_key_event, KeyNames, Outcome, RequestFacts};

/// Writes the events of one KMS call; see the module comment.
pub fn kms_events(
    facts: &RequestFacts<'_>,
    caller: &Caller,
    request_body: &[u8],
    outcome: Outcome<'_>,
    names: &dyn KeyNames,
) -> Result<Vec<Entry>, AuditError> {
    kms_events_with_ids(
        facts,
        caller,
        request_body,
        outcome,
        names,
        &mut Uuid::new_v4,
    )
}

/// [`kms_events`] with event ids from `new_id` (the tests' are predictable).
pub(super) fn kms_events_with_ids(
    facts: &RequestFacts<'_>,
    caller: &Caller,
    request_body: &[u8],
    outcome: Outcome<'_>,
    names: &dyn KeyNames,
    new_id: &mut dyn FnMut() -> Uuid,
) -> Result<Vec<Entry>, AuditError> {
    let operation = facts.event_name;
    let reply = match outcome {
        Outcome::Success(Some(body)) => Some(KmsReply::read(body)),
        Outcome::Success(None) | Outcome::Failure { .. } => None,
    };
    let no_reply = KmsResponseMembers::default();
    let response = reply.as_ref().map_or(&no_reply, |reply| &reply.members);
    let mut request = KmsRequestView::default();
    let mut parameters =
        read_request_parameters(operation, request_body, &mut request).then_some(&request);

    // RetireGrant by token: AWS logs `"requestParameters": null` and the
    // grant in `additionalEventData`; the token itself is never logged.
    let retired_by_token = if operation == "RetireGrant" {
        grant_token(request_body).and_then(|token| names.grant_named_by_token(&token))
    } else {
        None
    };
    if retired_by_token.is_some()
        && parameters.is_some_and(|p| p.key_id.is_none() && p.grant_id.is_none())
    {
        parameters = None;
    }
    // Encrypt answers no KeyMaterialId; the blob's header names the material.
    let sealed_by = match (operation, &reply) {
        ("Encrypt", Some(reply)) => reply.sealed_by(),
        _ => None,
    };
    let key_material = if uses_key_material(operation) {
        response.key_material_id(sealed_by)
    } else {
        None
    };
    // RetireGrant is no cryptographic operation, so at most one of the two.
    let additional = match (&retired_by_token, &key_material) {
        (Some((grant_id, _)), _) => Some(KmsAdditionalView {
            grant_id: Some(grant_id),
            ..KmsAdditionalView::default()
        }),
        (None, Some(material)) => Some(KmsAdditionalView {
            key_material_id: Some(material),
            ..KmsAdditionalView::default()
        }),
        (None, None) => None,
    };

    // The keys the call acted on: from the answer when there is one, else
    // from the request (a bare id is in the caller's account) or the error.
    let mut keys = KeyList::default();
    if let Some((_, key_arn)) = &retired_by_token {
        keys.push(Some(Cow::Borrowed(key_arn)));
    }
    match outcome {
        Outcome::Success(_) => {
            for arn in response.key_arns() {
                keys.push(arn.map(Cow::Borrowed));
            }
            if let Some(p) = parameters {
                for id in [&p.key_id, &p.target_key_id] {
                    keys.push(key_arn_of(id.as_deref(), facts.region, caller));
                }
            }
        }
        Outcome::Failure { message, .. } => {
            // An alias (or a key in another account) names its key through
            // the key store, whatever the call's outcome.
            if let Some(p) = parameters {
                for id in [
                    &p.key_id,
                    &p.source_key_id,
                    &p.destination_key_id,
                    &p.target_key_id,
                ] {
                    let id = id.as_deref();
                    let arn = key_arn_of(id, facts.region, caller)
                        .or_else(|| names.key_arn_named(caller, id?).map(Cow::Owned));
                    keys.push(arn);
                }
            }
            if keys.is_empty() {
                keys.push(message.and_then(arn_in_message).map(Cow::Borrowed));
            }
        }
    }
    let resources: [KeyResource<'_>; MAX_KEYS] = std::array::from_fn(|index| {
        let arn = keys.get(index).unwrap_or_default();
        KeyResource {
            account_id: arn_account(arn).unwrap_or(caller.account_id()),
            arn,
        }
    });

    let (source_ip, user_agent) = match caller.service_call() {
        Some(call) => (SourceAddress::Name(call.service()), call.service()),
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
        Outcome::Success(_) => response_elements(operation, response).map(EventObject::from),
        Outcome::Failure { .. } => None,
    };
    // One event in the caller's account, or a copy per account when the
    // caller used another account's key; ids drawn in the typed path's
    // order (the shared one first).
    let resources = resources.get(..keys.len()).unwrap_or_default();
    let caller_account = caller.account_id();
    let one_account = resources.iter().all(|key| key.account_id == caller_account);
    let shared_event_id = (!one_account).then(|| EventId(new_id().as_u128()));
    let mut event = KmsCallEvent {
        user_identity: &identity,
        event_time: facts.event_time,
        event_source: facts.event_source,
        event_name: operation,
        aws_region: facts.region,
        source_ip_address: source_ip,
        user_agent,
        error: match outcome {
            Outcome::Failure { code, message } => Some(CallError {
                code,
                message: message.unwrap_or_default(),
            }),
            Outcome::Success(_) => None,
        },
        request_parameters: parameters,
        response_elements: response_elements.as_ref(),
        additional_event_data: additional.as_ref(),
        request_id: facts.request_id,
        event_id: EventId(new_id().as_u128()),
        read_only: kms_operation_is_read_only(operation),
        resources,
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
        if let ("RotateKeyOnDemand", Outcome::Success(_), Some(arn)) =
            (operation, outcome, keys.get(0))
        {
            let key = DueKey {
                key_id: last_segment(arn).to_owned(),
                arn: arn.to_string(),
                account_id: caller.account_id().to_string(),
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
    for resource in resources {
        if !recipients.contains(&resource.account_id) {
            recipients.push(resource.account_id);
            event.event_id = EventId(new_id().as_u128());
            event.recipient_account_id = resource.account_id;
            entries.push(entry(&event)?);
        }
    }
    Ok(entries)
}

/// The key ARN a request's key id names by itself: a key ARN as is, a bare
/// key id in the caller's account; `None` for an alias.
fn key_arn_of<'k>(id: Option<&'k str>, region: &str, caller: &Caller) -> Option<Cow<'k, str>> {
    let id = id?;
    if is_key_arn(id) {
        Some(Cow::Borrowed(id))
    } else if is_bare_key_id(id) {
        Some(Cow::Owned(format!(
            "arn:aws:kms:{region}:{}:key/{id}",
            caller.account_id()
        )))
    } else {
        None
    }
}

/// The most keys one call names: a retired grant's key, three the reply
/// names and two the request names (a failed call: four and the message's).
const MAX_KEYS: usize = 6;

/// The keys a call acted on, in the order `resources` lists them, each once:
/// on the stack, as there are at most [`MAX_KEYS`].
#[derive(Default)]
struct KeyList<'k> {
    keys: [Option<Cow<'k, str>>; MAX_KEYS],
    len: usize,
}

impl<'k> KeyList<'k> {
    /// Adds `arn` if it is a key ARN not listed yet.
    fn push(&mut self, arn: Option<Cow<'k, str>>) {
        let Some(arn) = arn.filter(|arn| is_key_arn(arn)) else {
            return;
        };
        if (0..self.len).any(|index| self.get(index) == Some(arn.as_ref())) {
            return;
        }
        let slot = self.keys.get_mut(self.len);
        debug_assert!(slot.is_some(), "more than {MAX_KEYS} keys");
        if let Some(slot) = slot {
            *slot = Some(arn);
            self.len += 1;
        }
    }

    fn get(&self, index: usize) -> Option<&str> {
        self.keys.get(index)?.as_deref()
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Operations whose events carry `additionalEventData.keyMaterialId` (the
/// cryptographic operations, per the 2025 KMS CloudTrail examples).
fn uses_key_material(operation: &str) -> bool {
    matches!(
        operation,
        "Encrypt"
            | "Decrypt"
            | "ReEncrypt"
            | "GenerateDataKey"
            | "GenerateDataKeyWithoutPlaintext"
            | "GenerateDataKeyPair"
            | "GenerateDataKeyPairWithoutPlaintext"
            | "GenerateMac"
            | "VerifyMac"
            | "Sign"
            | "Verify"
    )
}

/// Whether `text` is a KMS key ARN (not an alias ARN).
fn is_key_arn(text: &str) -> bool {
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

/// A bare key id (`1234abcd-12ab-34cd-56ef-1234567890ab`, or `mrk-…`).
fn is_bare_key_id(text: &str) -> bool {
    let uuid = |s: &str| {
        s.len() == 36
            && s.bytes().enumerate().all(|(i, b)| {
                if matches!(i, 8 | 13 | 18 | 23) {
                    b == b'-'
                } else {
                    b.is_ascii_hexdigit()
                }
            })
    };
    uuid(text)
        || (text.starts_with("mrk-")
            && text.len() == 36
            && text.bytes().skip(4).all(|b| b.is_ascii_hexdigit()))
}

/// The key ARN an error message starts with (`<key ARN> is disabled.`).
pub fn arn_in_message(message: &str) -> Option<&str> {
    let first = message.split_whitespace().next()?;
    is_key_arn(first).then_some(first.trim_end_matches(['.', ',']))
}
