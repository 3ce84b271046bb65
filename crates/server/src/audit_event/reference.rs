//! The typed build path of a KMS call's events, as it was before the event
//! writer: the reference model the writer's bytes are checked against.
//!
//! It reads the request into `serde_json::Value`s, builds a
//! [`CloudTrailEvent`] with keyward-audit's typed builders and encodes it with
//! serde. Kept as it was (only the event ids come from the caller, so that the
//! two paths can be compared byte for byte); test code only.

use uuid::Uuid;

use keyward_audit::{
    kms_operation_is_read_only, ApiCall, CloudTrailEvent, ContextPairs, GrantConstraints,
    KeyMetadataElement, KmsAdditionalEventData, KmsRequestParameters, KmsResponseElements,
    Resource, SessionAttributes, SessionContext, SessionIssuer, UserIdentity,
};
use keyward_kms::DueKey;
use keyward_policy::RequestPrincipal;
use keyward_principal::{Caller, ServiceMode};
use serde::Deserialize;
use serde_json::Value;
use std::borrow::Cow;
use time::OffsetDateTime;

use super::{rotate_key_event, time_of_ms, KeyNames, Outcome, RequestFacts};

/// `userIdentity` for `caller`, from every field the `Caller` has.
pub fn user_identity(caller: &Caller, access_key_id: Option<&str>) -> UserIdentity {
    let mut identity = match (caller.service_call(), caller.principal()) {
        (Some(call), _) if call.mode() == ServiceMode::AsItself => {
            return UserIdentity::aws_service(call.service().to_string());
        }
        (_, RequestPrincipal::Account { account_id }) => {
            UserIdentity::root(account_id.clone(), caller.principal_arn().to_string())
        }
        (_, RequestPrincipal::User { account_id, arn }) => UserIdentity::iam_user(
            caller.user_id().to_string(),
            arn.clone(),
            account_id.clone(),
            caller
                .username()
                .map(str::to_owned)
                .unwrap_or_else(|| last_segment(arn).to_owned()),
        ),
        (
            _,
            RequestPrincipal::AssumedRole {
                account_id,
                role_arn,
                session_arn,
            },
        ) => {
            // `AROA…:session` → the role's own id is the part before the colon.
            let role_id = caller
                .user_id()
                .split_once(':')
                .map_or(caller.user_id(), |(id, _)| id);
            let issuer = SessionIssuer::role(
                role_id,
                role_arn.clone(),
                account_id.clone(),
                last_segment(role_arn),
            );
            // AWS writes both attributes for every role session; keyward
            // has no MFA, so a session never is MFA-authenticated.
            let attributes = caller
                .session_issued_ms()
                .map(|issued_ms| SessionAttributes {
                    creation_date: keyward_audit::Member::Present(
                        keyward_audit::format_event_time(time_of_ms(issued_ms)),
                    ),
                    mfa_authenticated: keyward_audit::Member::Present("false".to_owned()),
                });
            let context = SessionContext {
                session_issuer: keyward_audit::Member::Present(issuer),
                attributes: attributes.map_or(
                    keyward_audit::Member::Absent,
                    keyward_audit::Member::Present,
                ),
                ..SessionContext::default()
            };
            UserIdentity::assumed_role(
                caller.user_id().to_string(),
                session_arn.clone(),
                account_id.clone(),
                context,
            )
        }
        (_, RequestPrincipal::Role { account_id, arn }) => UserIdentity {
            identity_type: keyward_audit::IdentityType::Role.into(),
            principal_id: caller.user_id().to_string().into(),
            arn: arn.clone().into(),
            account_id: account_id.clone().into(),
            ..UserIdentity::default()
        },
        (_, RequestPrincipal::FederatedUser { account_id, arn }) => UserIdentity {
            identity_type: keyward_audit::IdentityType::FederatedUser.into(),
            principal_id: caller.user_id().to_string().into(),
            arn: arn.clone().into(),
            account_id: account_id.clone().into(),
            ..UserIdentity::default()
        },
        (_, RequestPrincipal::Service { name }) => return UserIdentity::aws_service(name.clone()),
        (_, RequestPrincipal::Federated { .. } | RequestPrincipal::Anonymous) => UserIdentity {
            identity_type: keyward_audit::IdentityType::Unknown.into(),
            principal_id: caller.user_id().to_string().into(),
            account_id: caller.account_id().to_string().into(),
            ..UserIdentity::default()
        },
    };
    if let Some(access_key_id) = access_key_id {
        identity = identity.with_access_key_id(access_key_id);
    }
    if let Some(call) = caller.service_call() {
        if call.mode() == ServiceMode::ForCaller {
            identity = identity.with_invoked_by(call.service().to_string());
        }
    }
    identity
}

fn last_segment(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// The request members a KMS event may log; everything else in the body
/// (plaintext, blobs, grant tokens, recipient attestations) is skipped by
/// the deserializer without being copied.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct KmsRequestMembers {
    key_id: Option<Value>,
    grant_id: Option<Value>,
    encryption_context: Option<Value>,
    encryption_algorithm: Option<Value>,
    key_spec: Option<Value>,
    number_of_bytes: Option<Value>,
    key_pair_spec: Option<Value>,
    mac_algorithm: Option<Value>,
    signing_algorithm: Option<Value>,
    message_type: Option<Value>,
    source_key_id: Option<Value>,
    source_encryption_context: Option<Value>,
    source_encryption_algorithm: Option<Value>,
    destination_key_id: Option<Value>,
    destination_encryption_context: Option<Value>,
    destination_encryption_algorithm: Option<Value>,
    grantee_principal: Option<Value>,
    retiring_principal: Option<Value>,
    operations: Option<Value>,
    constraints: Option<Value>,
    name: Option<Value>,
    policy: Option<Value>,
    policy_name: Option<Value>,
    bypass_policy_lockout_safety_check: Option<Value>,
    description: Option<Value>,
    key_usage: Option<Value>,
    origin: Option<Value>,
    customer_master_key_spec: Option<Value>,
    multi_region: Option<Value>,
    custom_key_store_id: Option<Value>,
    xks_key_id: Option<Value>,
    tags: Option<Value>,
    tag_keys: Option<Value>,
    alias_name: Option<Value>,
    target_key_id: Option<Value>,
    pending_window_in_days: Option<Value>,
    rotation_period_in_days: Option<Value>,
    wrapping_algorithm: Option<Value>,
    wrapping_key_spec: Option<Value>,
    expiration_model: Option<Value>,
    replica_region: Option<Value>,
    primary_region: Option<Value>,
    limit: Option<Value>,
    marker: Option<Value>,
    dry_run: Option<Value>,
}

/// Members read only to find what an event names, never logged or kept:
/// RetireGrant's `GrantToken` (→ its grant id and key) and the blob Encrypt
/// returns (→ the key material that sealed it, from the blob's header).
/// Borrowed, so the token and blob are not even copied.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NamingMembers<'a> {
    #[serde(borrow)]
    grant_token: Option<Cow<'a, str>>,
    #[serde(borrow)]
    ciphertext_blob: Option<Cow<'a, str>>,
}

/// The key material id (hex) in the header of a base64 ciphertext blob.
fn material_of_blob(blob_base64: &str) -> Option<String> {
    use base64::Engine as _;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob_base64)
        .ok()?;
    keyward_crypto::BlobHeader::decode(&blob)
        .ok()
        .map(|header| header.material_id.to_hex())
}

/// The response members an event may log or needs (key ARN, material id).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct KmsResponseMembers {
    key_id: Option<String>,
    source_key_id: Option<String>,
    key_material_id: Option<String>,
    source_key_material_id: Option<String>,
    destination_key_material_id: Option<String>,
    key_metadata: Option<ResponseKeyMetadata>,
    grant_id: Option<String>,
    key_state: Option<String>,
    deletion_date: Option<f64>,
    pending_window_in_days: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ResponseKeyMetadata {
    #[serde(rename = "AWSAccountId")]
    aws_account_id: Option<String>,
    key_id: Option<String>,
    arn: Option<String>,
    creation_date: Option<f64>,
    enabled: Option<bool>,
    description: Option<String>,
    key_usage: Option<String>,
    key_state: Option<String>,
    deletion_date: Option<f64>,
    valid_to: Option<f64>,
    origin: Option<String>,
    custom_key_store_id: Option<String>,
    key_manager: Option<String>,
    customer_master_key_spec: Option<String>,
    key_spec: Option<String>,
    encryption_algorithms: Option<Vec<String>>,
    multi_region: Option<bool>,
}

fn text(value: Option<Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

fn number(value: Option<Value>) -> Option<u64> {
    value?.as_u64()
}

fn boolean(value: Option<Value>) -> Option<bool> {
    value?.as_bool()
}

fn strings(value: Option<Value>) -> Option<Vec<String>> {
    match value? {
        Value::Array(items) => Some(
            items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

fn context(value: Option<Value>) -> Option<ContextPairs> {
    match value? {
        Value::Object(map) => Some(
            map.into_iter()
                .map(|(k, v)| {
                    let v = match v {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, v)
                })
                .collect(),
        ),
        _ => None,
    }
}

fn tags(value: Option<Value>) -> Option<Vec<(String, String)>> {
    match value? {
        Value::Array(items) => Some(
            items
                .iter()
                .map(|tag| {
                    let field = |name: &str| {
                        tag.get(name)
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned()
                    };
                    (field("TagKey"), field("TagValue"))
                })
                .collect(),
        ),
        _ => None,
    }
}

fn constraints(value: Option<Value>) -> Option<GrantConstraints> {
    let value = value?;
    Some(GrantConstraints {
        encryption_context_subset: context(value.get("EncryptionContextSubset").cloned()),
        encryption_context_equals: context(value.get("EncryptionContextEquals").cloned()),
    })
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

fn request_parameters(operation: &str, m: KmsRequestMembers) -> KmsRequestParameters {
    let mut parameters = KmsRequestParameters {
        key_id: text(m.key_id),
        grant_id: text(m.grant_id),
        encryption_context: context(m.encryption_context),
        encryption_algorithm: text(m.encryption_algorithm),
        key_spec: text(m.key_spec),
        number_of_bytes: number(m.number_of_bytes),
        key_pair_spec: text(m.key_pair_spec),
        mac_algorithm: text(m.mac_algorithm),
        signing_algorithm: text(m.signing_algorithm),
        message_type: text(m.message_type),
        source_key_id: text(m.source_key_id),
        source_encryption_context: context(m.source_encryption_context),
        source_encryption_algorithm: text(m.source_encryption_algorithm),
        destination_key_id: text(m.destination_key_id),
        destination_encryption_context: context(m.destination_encryption_context),
        destination_encryption_algorithm: text(m.destination_encryption_algorithm),
        grantee_principal: text(m.grantee_principal),
        retiring_principal: text(m.retiring_principal),
        operations: strings(m.operations),
        constraints: constraints(m.constraints),
        name: text(m.name),
        policy: text(m.policy),
        policy_name: text(m.policy_name),
        bypass_policy_lockout_safety_check: boolean(m.bypass_policy_lockout_safety_check),
        description: text(m.description),
        key_usage: text(m.key_usage),
        origin: text(m.origin),
        customer_master_key_spec: text(m.customer_master_key_spec),
        multi_region: boolean(m.multi_region),
        custom_key_store_id: text(m.custom_key_store_id),
        xks_key_id: text(m.xks_key_id),
        tags: tags(m.tags),
        tag_keys: strings(m.tag_keys),
        alias_name: text(m.alias_name),
        target_key_id: text(m.target_key_id),
        pending_window_in_days: number(m.pending_window_in_days),
        rotation_period_in_days: number(m.rotation_period_in_days),
        wrapping_algorithm: text(m.wrapping_algorithm),
        wrapping_key_spec: text(m.wrapping_key_spec),
        expiration_model: text(m.expiration_model),
        valid_to: None,
        replica_region: text(m.replica_region),
        primary_region: text(m.primary_region),
        limit: number(m.limit),
        marker: text(m.marker),
        dry_run: boolean(m.dry_run),
    };
    // AWS writes the algorithm of every Decrypt and Encrypt, sent or not
    // (kms-api.md §12.1: "always present for Decrypt even if not sent").
    if matches!(operation, "Decrypt" | "Encrypt") && parameters.encryption_algorithm.is_none() {
        parameters.encryption_algorithm = Some("SYMMETRIC_DEFAULT".to_owned());
    }
    parameters
}

fn epoch_to_time(seconds: f64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds.floor() as i64).ok()
}

/// `responseElements` as AWS logs them: `null` for cryptographic and read
/// operations, the listed members for the operations that have any.
fn response_elements(operation: &str, r: &KmsResponseMembers) -> Option<KmsResponseElements> {
    match operation {
        "CreateKey" => {
            let m = r.key_metadata.as_ref()?;
            Some(KmsResponseElements {
                key_metadata: Some(KeyMetadataElement {
                    aws_account_id: m.aws_account_id.clone(),
                    key_id: m.key_id.clone(),
                    arn: m.arn.clone(),
                    creation_date: m.creation_date.and_then(epoch_to_time),
                    enabled: m.enabled,
                    description: m.description.clone(),
                    key_usage: m.key_usage.clone(),
                    key_state: m.key_state.clone(),
                    deletion_date: m.deletion_date.and_then(epoch_to_time),
                    valid_to: m.valid_to.and_then(epoch_to_time),
                    origin: m.origin.clone(),
                    custom_key_store_id: m.custom_key_store_id.clone(),
                    key_manager: m.key_manager.clone(),
                    customer_master_key_spec: m.customer_master_key_spec.clone(),
                    key_spec: m.key_spec.clone(),
                    encryption_algorithms: m.encryption_algorithms.clone(),
                    multi_region: m.multi_region,
                }),
                ..KmsResponseElements::default()
            })
        }
        "CreateGrant" => Some(KmsResponseElements {
            grant_id: r.grant_id.clone(),
            key_id: r.key_id.clone(),
            ..KmsResponseElements::default()
        }),
        "ScheduleKeyDeletion" => Some(KmsResponseElements {
            key_id: r.key_id.clone(),
            key_state: r.key_state.clone(),
            deletion_date: r.deletion_date.and_then(epoch_to_time),
            pending_window_in_days: r.pending_window_in_days,
            ..KmsResponseElements::default()
        }),
        "CancelKeyDeletion" => Some(KmsResponseElements {
            key_id: r.key_id.clone(),
            ..KmsResponseElements::default()
        }),
        _ => None,
    }
}

/// Whether `text` is a KMS key ARN (not an alias ARN).
fn is_key_arn(text: &str) -> bool {
    text.starts_with("arn:") && text.contains(":key/")
}

/// The account in an ARN (`arn:partition:service:region:ACCOUNT:...`).
pub fn arn_account(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
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
            && text[4..].bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The key ARN an error message starts with (`<key ARN> is disabled.`).
pub fn arn_in_message(message: &str) -> Option<&str> {
    let first = message.split_whitespace().next()?;
    is_key_arn(first).then_some(first.trim_end_matches(['.', ',']))
}

/// Builds the events of one KMS call: one, or two sharing a `sharedEventID`
/// when the caller used another account's key (one copy per account, as
/// CloudTrail delivers cross-account KMS calls).
pub fn kms_events(
    facts: &RequestFacts<'_>,
    caller: &Caller,
    request_body: &[u8],
    outcome: Outcome<'_>,
    names: &dyn KeyNames,
    new_id_uuid: &mut dyn FnMut() -> Uuid,
) -> Vec<CloudTrailEvent> {
    let mut new_id = || new_id_uuid().to_string();
    let operation = facts.event_name;
    let request: Option<KmsRequestMembers> = serde_json::from_slice(request_body).ok();
    let response: KmsResponseMembers = match outcome {
        Outcome::Success(Some(body)) => serde_json::from_slice(body).unwrap_or_default(),
        _ => KmsResponseMembers::default(),
    };
    let mut parameters = request.map(|r| request_parameters(operation, r));

    // RetireGrant by token: AWS logs `"requestParameters": null` and the
    // grant in `additionalEventData`; the token itself is never logged.
    let retired_by_token = if operation == "RetireGrant" {
        serde_json::from_slice::<NamingMembers>(request_body)
            .ok()
            .and_then(|m| m.grant_token)
            .and_then(|token| names.grant_named_by_token(&token))
    } else {
        None
    };
    if retired_by_token.is_some()
        && parameters
            .as_ref()
            .is_some_and(|p| p.key_id.is_none() && p.grant_id.is_none())
    {
        parameters = None;
    }
    // Encrypt answers no KeyMaterialId; the blob's header names the material.
    let sealed_by = match (operation, outcome) {
        ("Encrypt", Outcome::Success(Some(body))) => serde_json::from_slice::<NamingMembers>(body)
            .ok()
            .and_then(|m| m.ciphertext_blob)
            .and_then(|blob| material_of_blob(&blob)),
        _ => None,
    };

    // The keys the call acted on: from the answer when there is one, else
    // from the request (a bare id is in the caller's account) or the error.
    let mut keys: Vec<String> = Vec::new();
    let push_key = |keys: &mut Vec<String>, arn: Option<String>| {
        if let Some(arn) = arn.filter(|a| is_key_arn(a)) {
            if !keys.contains(&arn) {
                keys.push(arn);
            }
        }
    };
    let to_arn = |id: &Option<String>| -> Option<String> {
        let id = id.as_ref()?;
        if is_key_arn(id) {
            Some(id.clone())
        } else if is_bare_key_id(id) {
            Some(format!(
                "arn:aws:kms:{}:{}:key/{id}",
                facts.region,
                caller.account_id()
            ))
        } else {
            None
        }
    };
    if let Some((_, key_arn)) = &retired_by_token {
        push_key(&mut keys, Some(key_arn.clone()));
    }
    match outcome {
        Outcome::Success(_) => {
            push_key(&mut keys, response.source_key_id.clone());
            push_key(&mut keys, response.key_id.clone());
            push_key(
                &mut keys,
                response.key_metadata.as_ref().and_then(|m| m.arn.clone()),
            );
            if let Some(p) = &parameters {
                push_key(&mut keys, to_arn(&p.key_id));
                push_key(&mut keys, to_arn(&p.target_key_id));
            }
        }
        Outcome::Failure { message, .. } => {
            // An alias (or a key in another account) names its key through
            // the key store, whatever the call's outcome.
            let named = |id: &Option<String>| {
                to_arn(id).or_else(|| names.key_arn_named(caller, id.as_deref()?))
            };
            if let Some(p) = &parameters {
                push_key(&mut keys, named(&p.key_id));
                push_key(&mut keys, named(&p.source_key_id));
                push_key(&mut keys, named(&p.destination_key_id));
                push_key(&mut keys, named(&p.target_key_id));
            }
            if keys.is_empty() {
                push_key(
                    &mut keys,
                    message.and_then(arn_in_message).map(str::to_owned),
                );
            }
        }
    }

    let source_ip = match caller.service_call() {
        Some(call) => call.service().to_string(),
        None => caller
            .source_ip()
            .map(|ip| ip.to_string())
            .or_else(|| facts.source_ip.map(|ip| ip.to_string()))
            .unwrap_or_default(),
    };
    let user_agent = match caller.service_call() {
        Some(call) => call.service().to_string(),
        None => facts.user_agent.to_owned(),
    };
    let identity = user_identity(caller, facts.access_key_id);
    // Identity and parameters are moved into the event when there is one
    // copy (nearly every call), cloned only for a second account's copy.
    let build = |event_id: String,
                 recipient: &str,
                 identity: UserIdentity,
                 parameters: Option<KmsRequestParameters>| {
        let mut event = CloudTrailEvent::api_call(ApiCall {
            user_identity: identity,
            event_time: facts.event_time,
            event_source: facts.event_source.to_owned(),
            event_name: facts.event_name.to_owned(),
            aws_region: facts.region.to_owned(),
            source_ip_address: source_ip.clone(),
            user_agent: user_agent.clone(),
            request_id: facts.request_id.to_owned(),
            event_id,
            read_only: kms_operation_is_read_only(operation),
            recipient_account_id: recipient.to_owned(),
        });
        if let Outcome::Failure { code, message } = outcome {
            event = event.with_error(code, message.unwrap_or_default());
        }
        if let Some(p) = parameters {
            event = event.with_request_parameters(p);
        }
        if let Outcome::Success(_) = outcome {
            if let Some(elements) = response_elements(operation, &response) {
                event = event.with_response_elements(elements);
            }
        }
        if uses_key_material(operation) {
            let material = response
                .destination_key_material_id
                .clone()
                .or_else(|| response.key_material_id.clone())
                .or_else(|| response.source_key_material_id.clone())
                .or_else(|| sealed_by.clone());
            if let Some(material) = material {
                event = event.with_additional_event_data(KmsAdditionalEventData {
                    key_material_id: Some(material),
                    ..KmsAdditionalEventData::default()
                });
            }
        }
        if let Some((grant_id, _)) = &retired_by_token {
            event = event.with_additional_event_data(KmsAdditionalEventData {
                grant_id: Some(grant_id.clone()),
                ..KmsAdditionalEventData::default()
            });
        }
        for arn in &keys {
            let owner = arn_account(arn).unwrap_or(caller.account_id());
            event = event.with_resource(Resource::kms_key(owner, arn.clone()));
        }
        event
    };

    let owners: Vec<&str> = keys
        .iter()
        .filter_map(|arn| arn_account(arn))
        .filter(|owner| *owner != caller.account_id())
        .collect();
    let caller_account = caller.account_id();
    if owners.is_empty() {
        let mut events = vec![build(new_id(), caller_account, identity, parameters)];
        // keyward rotates on demand before answering (AWS does it shortly
        // after), and AWS records that rotation as a `RotateKey` service
        // event with `"rotationType": "ON_DEMAND"`.
        if let ("RotateKeyOnDemand", Outcome::Success(_), Some(arn)) =
            (operation, outcome, keys.first())
        {
            let key = DueKey {
                key_id: last_segment(arn).to_owned(),
                arn: arn.clone(),
                account_id: caller.account_id().to_string(),
                key_material_id: None,
            };
            events.push(rotate_key_event(
                &key,
                "ON_DEMAND",
                facts.region,
                facts.event_time,
                new_id(),
            ));
        }
        return events;
    }
    let shared = new_id();
    let mut recipients = vec![caller_account];
    for owner in owners {
        if !recipients.contains(&owner) {
            recipients.push(owner);
        }
    }
    recipients
        .into_iter()
        .map(|recipient| {
            build(new_id(), recipient, identity.clone(), parameters.clone())
                .with_shared_event_id(shared.clone())
        })
        .collect()
}
