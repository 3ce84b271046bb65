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
//! the members go into keyward-audit's typed builders, which have no field
//! for secrets. Member names and which operations log what follow the KMS
//! CloudTrail examples in the KMS developer guide ("Logging AWS KMS API calls
//! with AWS CloudTrail" and its per-operation pages) and the seed records.

use std::borrow::Cow;

use keyward_audit::{
    kms_operation_is_read_only, ApiCall, CloudTrailEvent, ContextPairs, EventObject,
    GrantConstraints, KeyMetadataElement, KmsAdditionalEventData, KmsRequestParameters,
    KmsResponseElements, KmsServiceEventDetails, Resource, ServiceAction, SessionAttributes,
    SessionContext, SessionIssuer, UserIdentity,
};
use keyward_kms::{Caller, DueKey, DueWork, Kms, ServiceMode};
use keyward_policy::RequestPrincipal;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

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

/// What the HTTP layer knows about a request, besides its body and caller.
#[derive(Debug, Clone)]
pub struct RequestFacts {
    /// `kms.amazonaws.com`, `iam.amazonaws.com`, `sts.amazonaws.com`, `cloudtrail.amazonaws.com`.
    pub event_source: String,
    /// The operation as the client named it (unknown names included).
    pub event_name: String,
    pub region: String,
    /// The peer address; a service name replaces it for service calls.
    pub source_ip: Option<String>,
    pub user_agent: String,
    /// The `x-amzn-RequestId` of the response.
    pub request_id: String,
    /// The access key the request was signed with (not secret).
    pub access_key_id: Option<String>,
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

/// `userIdentity` for `caller`, from every field the `Caller` has.
pub fn user_identity(caller: &Caller, access_key_id: Option<&str>) -> UserIdentity {
    let mut identity = match (&caller.service_call, &caller.principal) {
        (Some(call), _) if call.mode == ServiceMode::AsItself => {
            return UserIdentity::aws_service(call.service.clone());
        }
        (_, RequestPrincipal::Account { account_id }) => {
            UserIdentity::root(account_id.clone(), caller.principal_arn.clone())
        }
        (_, RequestPrincipal::User { account_id, arn }) => UserIdentity::iam_user(
            caller.user_id.clone(),
            arn.clone(),
            account_id.clone(),
            caller
                .username
                .clone()
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
                .user_id
                .split_once(':')
                .map_or(caller.user_id.as_str(), |(id, _)| id);
            let issuer = SessionIssuer::role(
                role_id,
                role_arn.clone(),
                account_id.clone(),
                last_segment(role_arn),
            );
            // AWS writes both attributes for every role session; keyward
            // has no MFA, so a session never is MFA-authenticated.
            let attributes = caller.session_issued_ms.map(|issued_ms| SessionAttributes {
                creation_date: keyward_audit::Member::Present(keyward_audit::format_event_time(
                    time_of_ms(issued_ms),
                )),
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
                caller.user_id.clone(),
                session_arn.clone(),
                account_id.clone(),
                context,
            )
        }
        (_, RequestPrincipal::Role { account_id, arn }) => UserIdentity {
            identity_type: keyward_audit::IdentityType::Role.into(),
            principal_id: caller.user_id.clone().into(),
            arn: arn.clone().into(),
            account_id: account_id.clone().into(),
            ..UserIdentity::default()
        },
        (_, RequestPrincipal::FederatedUser { account_id, arn }) => UserIdentity {
            identity_type: keyward_audit::IdentityType::FederatedUser.into(),
            principal_id: caller.user_id.clone().into(),
            arn: arn.clone().into(),
            account_id: account_id.clone().into(),
            ..UserIdentity::default()
        },
        (_, RequestPrincipal::Service { name }) => return UserIdentity::aws_service(name.clone()),
        (_, RequestPrincipal::Federated { .. } | RequestPrincipal::Anonymous) => UserIdentity {
            identity_type: keyward_audit::IdentityType::Unknown.into(),
            principal_id: caller.user_id.clone().into(),
            account_id: caller.account_id.clone().into(),
            ..UserIdentity::default()
        },
    };
    if let Some(access_key_id) = access_key_id {
        identity = identity.with_access_key_id(access_key_id);
    }
    if let Some(call) = &caller.service_call {
        if call.mode == ServiceMode::ForCaller {
            identity = identity.with_invoked_by(call.service.clone());
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
    facts: &RequestFacts,
    caller: &Caller,
    request_body: &[u8],
    outcome: Outcome<'_>,
    names: &dyn KeyNames,
) -> Vec<CloudTrailEvent> {
    let operation = facts.event_name.as_str();
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
                facts.region, caller.account_id
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

    let source_ip = match &caller.service_call {
        Some(call) => call.service.clone(),
        None => caller
            .source_ip
            .map(|ip| ip.to_string())
            .or_else(|| facts.source_ip.clone())
            .unwrap_or_default(),
    };
    let user_agent = match &caller.service_call {
        Some(call) => call.service.clone(),
        None => facts.user_agent.clone(),
    };
    let identity = user_identity(caller, facts.access_key_id.as_deref());
    // Identity and parameters are moved into the event when there is one
    // copy (nearly every call), cloned only for a second account's copy.
    let build = |event_id: String,
                 recipient: &str,
                 identity: UserIdentity,
                 parameters: Option<KmsRequestParameters>| {
        let mut event = CloudTrailEvent::api_call(ApiCall {
            user_identity: identity,
            event_time: facts.event_time,
            event_source: facts.event_source.clone(),
            event_name: facts.event_name.clone(),
            aws_region: facts.region.clone(),
            source_ip_address: source_ip.clone(),
            user_agent: user_agent.clone(),
            request_id: facts.request_id.clone(),
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
            let owner = arn_account(arn).unwrap_or(&caller.account_id);
            event = event.with_resource(Resource::kms_key(owner, arn.clone()));
        }
        event
    };

    let owners: Vec<&str> = keys
        .iter()
        .filter_map(|arn| arn_account(arn))
        .filter(|owner| *owner != caller.account_id)
        .collect();
    let caller_account = caller.account_id.as_str();
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
                account_id: caller.account_id.clone(),
                key_material_id: None,
            };
            events.push(rotate_key_event(
                &key,
                "ON_DEMAND",
                &facts.region,
                facts.event_time,
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
        .map(|key| key_service_event(key, "DeleteKey", region, now));
    let rotated = done
        .rotated_keys
        .iter()
        .map(|key| rotate_key_event(key, "AUTOMATIC", region, now));
    deleted.chain(rotated).collect()
}

fn key_service_event(
    key: &DueKey,
    name: &str,
    region: &str,
    now: OffsetDateTime,
) -> CloudTrailEvent {
    CloudTrailEvent::service_event(ServiceAction {
        account_id: key.account_id.clone(),
        event_time: now,
        event_source: "kms.amazonaws.com".to_owned(),
        event_name: name.to_owned(),
        aws_region: region.to_owned(),
        event_id: new_id(),
        read_only: false,
    })
    .with_resource(Resource::kms_key(key.account_id.clone(), key.arn.clone()))
}

fn rotate_key_event(
    key: &DueKey,
    rotation_type: &str,
    region: &str,
    now: OffsetDateTime,
) -> CloudTrailEvent {
    key_service_event(key, "RotateKey", region, now).with_service_event_details(
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
    facts: &RequestFacts,
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
        let action = facts.event_name.as_str();
        ["Get", "List", "Describe"]
            .iter()
            .any(|p| action.starts_with(p))
            || action == "GetCallerIdentity"
    };
    let source_ip = caller
        .source_ip
        .map(|ip| ip.to_string())
        .or_else(|| facts.source_ip.clone())
        .unwrap_or_default();
    let mut event = CloudTrailEvent::api_call(ApiCall {
        user_identity: user_identity(caller, facts.access_key_id.as_deref()),
        event_time: facts.event_time,
        event_source: facts.event_source.clone(),
        event_name: facts.event_name.clone(),
        aws_region: facts.region.clone(),
        source_ip_address: source_ip,
        user_agent: facts.user_agent.clone(),
        request_id: facts.request_id.clone(),
        event_id: new_id(),
        read_only,
        recipient_account_id: caller.account_id.clone(),
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
    facts: &RequestFacts,
    caller: &Caller,
    request_parameters: Option<EventObject>,
    outcome: Outcome<'_>,
) -> CloudTrailEvent {
    let source_ip = caller
        .source_ip
        .map(|ip| ip.to_string())
        .or_else(|| facts.source_ip.clone())
        .unwrap_or_default();
    let mut event = CloudTrailEvent::api_call(ApiCall {
        user_identity: user_identity(caller, facts.access_key_id.as_deref()),
        event_time: facts.event_time,
        event_source: facts.event_source.clone(),
        event_name: facts.event_name.clone(),
        aws_region: facts.region.clone(),
        source_ip_address: source_ip,
        user_agent: facts.user_agent.clone(),
        request_id: facts.request_id.clone(),
        event_id: new_id(),
        read_only: true,
        recipient_account_id: caller.account_id.clone(),
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
    pub access_key_id: Option<String>,
}

impl CallInfo {
    /// Notes the authenticated caller and the access key it signed with.
    pub fn authenticated(
        &mut self,
        service: Service,
        caller: &Caller,
        signed: &keyward_iam::sigv4::RequestParts<'_>,
    ) {
        self.service = service;
        self.caller = Some(caller.clone());
        self.access_key_id = access_key_id(signed.headers);
    }
}

/// The access key id of a SigV4 `Authorization` header (not a secret).
fn access_key_id(headers: &[(&str, &str)]) -> Option<String> {
    let value = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))?
        .1;
    let credential = value.split("Credential=").nth(1)?;
    let id = credential.split('/').next()?;
    (!id.is_empty()).then(|| id.to_owned())
}

fn header_text(parts: &axum::http::request::Parts, name: &str) -> String {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

fn peer_ip(parts: &axum::http::request::Parts) -> Option<String> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|axum::extract::ConnectInfo(address)| address.ip().to_string())
}

fn facts(
    state: &crate::AppState,
    parts: &axum::http::request::Parts,
    request_id: &str,
    event_source: &str,
    event_name: &str,
    access_key_id: Option<String>,
) -> RequestFacts {
    let event_time = time_of_ms(state.kms.clock().now_ms());
    RequestFacts {
        event_source: event_source.to_owned(),
        event_name: event_name.to_owned(),
        region: state.kms.region().to_owned(),
        source_ip: peer_ip(parts),
        user_agent: header_text(parts, "user-agent"),
        request_id: request_id.to_owned(),
        access_key_id,
        event_time,
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
                .disabled_key_used(key_arn, operation, key_state, &caller.principal_arn);
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
            call.access_key_id.clone(),
        );
        let events = match call.service {
            Service::Kms => kms_events(&facts, caller, request_body, outcome, &*state.kms),
            Service::CloudTrail => vec![cloudtrail_event(
                &facts,
                caller,
                crate::cloudtrail_api::request_parameters(request_body),
                outcome,
            )],
        };
        let entries: Result<Vec<_>, _> = events.iter().map(keyward_trail::Entry::new).collect();
        let written = match entries {
            Ok(entries) => trail.append(entries).await,
            Err(error) => Err(error),
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
        let headers = crate::auth::request_headers(&parts);
        let facts = facts(
            state,
            &parts,
            request_id,
            &format!("{}.amazonaws.com", service.signing_name()),
            &action,
            access_key_id(&headers),
        );
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
        let written = match keyward_trail::Entry::new(&event) {
            Ok(entry) => trail.append(vec![entry]).await,
            Err(error) => Err(error),
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
mod tests;
