//! One function per implemented KMS operation: decode the input shape once,
//! note what the event logs of it, call the domain, note what the event
//! needs of the result, encode the output shape.

use keyward_audit::{KeyMetadataElement, KmsResponseElements};
use keyward_kms::{self as kms, Kms, Page};
use keyward_principal::Caller;
use time::OffsetDateTime;

use super::logged::Logged;
use super::shapes::*;
use crate::audit::KmsFacts;
use crate::error::ApiError;
use crate::protocol::json::{decode, encode};

/// An operation's handler: `Ok(None)` is a success with no output members.
pub(super) type Handler =
    fn(&Kms, &Caller, &[u8], &mut KmsFacts) -> Result<Option<Vec<u8>>, ApiError>;

/// Decodes `body` as `T` and notes its loggable members.
fn input<T: serde::de::DeserializeOwned + Default + Logged>(
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<T, ApiError> {
    let request: T = decode(body)?;
    facts.request = Some(request.logged());
    Ok(request)
}

fn paged<T, U>(page: Page<T>, map: impl FnMut(T) -> U) -> (Vec<U>, Option<String>, bool) {
    let truncated = page.next_marker.is_some();
    (
        page.items.into_iter().map(map).collect(),
        page.next_marker,
        truncated,
    )
}

fn page_request(limit: Option<i64>, marker: Option<String>) -> kms::PageRequest {
    kms::PageRequest { limit, marker }
}

fn time_of(ms: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000)).ok()
}

pub(super) fn create_key(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: CreateKeyRequest = input(body, facts)?;
    let metadata = kms.create_key(
        caller,
        kms::CreateKeyInput {
            policy: r.policy,
            description: r.description,
            key_usage: r.key_usage,
            key_spec: r.key_spec,
            customer_master_key_spec: r.customer_master_key_spec,
            origin: r.origin,
            custom_key_store_id: r.custom_key_store_id,
            bypass_policy_lockout_safety_check: r.bypass_policy_lockout_safety_check,
            tags: tags_in(r.tags),
            multi_region: r.multi_region,
            xks_key_id: r.xks_key_id,
        },
    )?;
    facts.key(Some(&metadata.arn));
    facts.response_elements = Some(KmsResponseElements {
        key_metadata: Some(key_metadata_element(&metadata)),
        ..KmsResponseElements::default()
    });
    encode(&KeyMetadataResponse {
        key_metadata: metadata.into(),
    })
}

/// CreateKey's `responseElements.keyMetadata`, as CloudTrail logs it.
fn key_metadata_element(metadata: &kms::KeyMetadata) -> KeyMetadataElement {
    KeyMetadataElement {
        aws_account_id: Some(metadata.account_id.clone()),
        key_id: Some(metadata.key_id.clone()),
        arn: Some(metadata.arn.clone()),
        creation_date: time_of(metadata.creation_date_ms),
        enabled: Some(metadata.enabled),
        description: Some(metadata.description.clone()),
        key_usage: Some(metadata.key_usage.to_owned()),
        key_state: Some(metadata.key_state.to_owned()),
        deletion_date: metadata.deletion_date_ms.and_then(time_of),
        valid_to: None,
        origin: Some(metadata.origin.to_owned()),
        custom_key_store_id: None,
        key_manager: Some(metadata.key_manager.to_owned()),
        customer_master_key_spec: Some(metadata.key_spec.to_owned()),
        key_spec: Some(metadata.key_spec.to_owned()),
        encryption_algorithms: Some(
            metadata
                .encryption_algorithms
                .iter()
                .map(|algorithm| (*algorithm).to_owned())
                .collect(),
        ),
        multi_region: Some(metadata.multi_region),
    }
}

pub(super) fn describe_key(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: DescribeKeyRequest = input(body, facts)?;
    let metadata = kms.describe_key(caller, r.key_id, r.grant_tokens)?;
    facts.key(Some(&metadata.arn));
    encode(&KeyMetadataResponse {
        key_metadata: metadata.into(),
    })
}

pub(super) fn list_keys(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: Paged = input(body, facts)?;
    let (keys, next_marker, truncated) =
        paged(kms.list_keys(caller, r.request())?, |k| KeyListEntryShape {
            key_id: k.key_id,
            key_arn: k.key_arn,
        });
    encode(&ListKeysResponse {
        keys,
        next_marker,
        truncated,
    })
}

pub(super) fn update_key_description(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: UpdateKeyDescriptionRequest = input(body, facts)?;
    let key_id = r.key_id.clone();
    kms.update_key_description(caller, r.key_id, r.description)?;
    facts.key(
        kms.key_arn_named(caller, key_id.as_deref().unwrap_or_default())
            .as_deref(),
    );
    Ok(None)
}

pub(super) fn enable_key(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: KeyIdOnly = input(body, facts)?;
    let key_arn = kms.key_arn_named(caller, r.key_id.as_deref().unwrap_or_default());
    kms.enable_key(caller, r.key_id)?;
    facts.key(key_arn.as_deref());
    Ok(None)
}

pub(super) fn disable_key(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: KeyIdOnly = input(body, facts)?;
    let key_arn = kms.key_arn_named(caller, r.key_id.as_deref().unwrap_or_default());
    kms.disable_key(caller, r.key_id)?;
    facts.key(key_arn.as_deref());
    Ok(None)
}

pub(super) fn schedule_key_deletion(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: ScheduleKeyDeletionRequest = input(body, facts)?;
    let out = kms.schedule_key_deletion(caller, r.key_id, r.pending_window_in_days)?;
    facts.key(Some(&out.key_arn));
    facts.response_elements = Some(KmsResponseElements {
        key_id: Some(out.key_arn.clone()),
        key_state: Some(out.key_state.to_owned()),
        deletion_date: time_of(out.deletion_date_ms),
        pending_window_in_days: Some(u64::from(out.pending_window_in_days)),
        ..KmsResponseElements::default()
    });
    encode(&ScheduleKeyDeletionResponse {
        key_id: out.key_arn,
        deletion_date: seconds(out.deletion_date_ms),
        key_state: out.key_state,
        pending_window_in_days: out.pending_window_in_days,
    })
}

pub(super) fn cancel_key_deletion(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: KeyIdOnly = input(body, facts)?;
    let key_arn = kms.cancel_key_deletion(caller, r.key_id)?;
    facts.key(Some(&key_arn));
    facts.response_elements = Some(KmsResponseElements {
        key_id: Some(key_arn.clone()),
        ..KmsResponseElements::default()
    });
    encode(&KeyIdResponse { key_id: key_arn })
}

pub(super) fn encrypt(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: EncryptRequest = input(body, facts)?;
    let out = kms.encrypt(
        caller,
        kms::EncryptInput {
            key_id: r.key_id,
            plaintext: decode_secret("Plaintext", r.plaintext)?,
            encryption_context: r.encryption_context,
            grant_tokens: r.grant_tokens,
            encryption_algorithm: r.encryption_algorithm,
            dry_run: r.dry_run,
        },
    )?;
    facts.key(Some(&out.key_arn));
    facts.key_material_id = Some(out.key_material_id);
    encode(&EncryptResponse {
        ciphertext_blob: blob(&out.ciphertext_blob),
        key_id: out.key_arn,
        encryption_algorithm: out.encryption_algorithm,
    })
}

pub(super) fn decrypt(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: DecryptRequest = input(body, facts)?;
    let ciphertext_blob = decode_blob("CiphertextBlob", r.ciphertext_blob)?;
    // The key the ciphertext names, whatever the outcome: a Decrypt that
    // names no key still names it in `resources` (denied or a dry run too).
    let named = ciphertext_blob
        .as_deref()
        .and_then(|blob| kms.key_arn_of_ciphertext(blob));
    let result = kms.decrypt(
        caller,
        kms::DecryptInput {
            ciphertext_blob,
            encryption_context: r.encryption_context,
            grant_tokens: r.grant_tokens,
            key_id: r.key_id,
            encryption_algorithm: r.encryption_algorithm,
            recipient_present: r.recipient.is_some_and(|v| !v.is_null()),
            dry_run: r.dry_run,
            dry_run_modifiers: r.dry_run_modifiers,
        },
    );
    let out = match result {
        Ok(out) => out,
        Err(error) => {
            facts.key(named.as_deref());
            return Err(error.into());
        }
    };
    facts.key(Some(&out.key_arn));
    facts.key_material_id = Some(out.key_material_id.clone());
    encode(&DecryptResponse {
        key_id: out.key_arn,
        plaintext: secret(&out.plaintext),
        encryption_algorithm: out.encryption_algorithm,
        key_material_id: out.key_material_id,
    })
}

pub(super) fn re_encrypt(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: ReEncryptRequest = input(body, facts)?;
    let ciphertext_blob = decode_blob("CiphertextBlob", r.ciphertext_blob)?;
    let named = ciphertext_blob
        .as_deref()
        .and_then(|blob| kms.key_arn_of_ciphertext(blob));
    let result = kms.re_encrypt(
        caller,
        kms::ReEncryptInput {
            ciphertext_blob,
            source_encryption_context: r.source_encryption_context,
            source_key_id: r.source_key_id,
            destination_key_id: r.destination_key_id,
            destination_encryption_context: r.destination_encryption_context,
            source_encryption_algorithm: r.source_encryption_algorithm,
            destination_encryption_algorithm: r.destination_encryption_algorithm,
            grant_tokens: r.grant_tokens,
            dry_run: r.dry_run,
            dry_run_modifiers: r.dry_run_modifiers,
        },
    );
    let out = match result {
        Ok(out) => out,
        Err(error) => {
            facts.key(named.as_deref());
            return Err(error.into());
        }
    };
    facts.key(Some(&out.source_key_arn));
    facts.key(Some(&out.key_arn));
    facts.key_material_id = Some(out.destination_key_material_id.clone());
    encode(&ReEncryptResponse {
        ciphertext_blob: blob(&out.ciphertext_blob),
        source_key_id: out.source_key_arn,
        key_id: out.key_arn,
        source_encryption_algorithm: out.source_encryption_algorithm,
        destination_encryption_algorithm: out.destination_encryption_algorithm,
        source_key_material_id: out.source_key_material_id,
        destination_key_material_id: out.destination_key_material_id,
    })
}

fn generate_data_key_of(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
    with_plaintext: bool,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: GenerateDataKeyRequest = input(body, facts)?;
    let out = kms.generate_data_key(
        caller,
        kms::GenerateDataKeyInput {
            key_id: r.key_id,
            encryption_context: r.encryption_context,
            number_of_bytes: r.number_of_bytes,
            key_spec: r.key_spec,
            grant_tokens: r.grant_tokens,
            recipient_present: r.recipient.is_some_and(|v| !v.is_null()),
            dry_run: r.dry_run,
        },
        with_plaintext,
    )?;
    facts.key(Some(&out.key_arn));
    facts.key_material_id = Some(out.key_material_id.clone());
    encode(&GenerateDataKeyResponse {
        ciphertext_blob: blob(&out.ciphertext_blob),
        plaintext: out.plaintext.as_ref().map(secret),
        key_id: out.key_arn,
        key_material_id: out.key_material_id,
    })
}

pub(super) fn generate_data_key(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    generate_data_key_of(kms, caller, body, facts, true)
}

pub(super) fn generate_data_key_without_plaintext(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    generate_data_key_of(kms, caller, body, facts, false)
}

pub(super) fn generate_random(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: GenerateRandomRequest = input(body, facts)?;
    let random = kms.generate_random(
        caller,
        r.number_of_bytes,
        r.custom_key_store_id,
        r.recipient.is_some_and(|v| !v.is_null()),
    )?;
    encode(&GenerateRandomResponse {
        plaintext: secret(&random),
    })
}

pub(super) fn create_alias(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: AliasRequest = input(body, facts)?;
    let target = r.target_key_id.clone();
    kms.create_alias(caller, r.alias_name, r.target_key_id)?;
    facts.key(
        kms.key_arn_named(caller, target.as_deref().unwrap_or_default())
            .as_deref(),
    );
    Ok(None)
}

pub(super) fn update_alias(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: AliasRequest = input(body, facts)?;
    let target = r.target_key_id.clone();
    kms.update_alias(caller, r.alias_name, r.target_key_id)?;
    facts.key(
        kms.key_arn_named(caller, target.as_deref().unwrap_or_default())
            .as_deref(),
    );
    Ok(None)
}

pub(super) fn delete_alias(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: AliasRequest = input(body, facts)?;
    // The key the alias named, before it is gone.
    let target = kms.key_arn_named(caller, r.alias_name.as_deref().unwrap_or_default());
    kms.delete_alias(caller, r.alias_name)?;
    facts.key(target.as_deref());
    Ok(None)
}

pub(super) fn list_aliases(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: KeyIdPaged = input(body, facts)?;
    let page = kms.list_aliases(caller, r.key_id, page_request(r.limit, r.marker))?;
    let (aliases, next_marker, truncated) = paged(page, |a| AliasShape {
        alias_name: a.alias_name,
        alias_arn: a.alias_arn,
        target_key_id: a.target_key_id,
        creation_date: seconds(a.creation_date_ms),
        last_updated_date: seconds(a.last_updated_date_ms),
    });
    encode(&ListAliasesResponse {
        aliases,
        next_marker,
        truncated,
    })
}

/// Runs `change` on the key `key_id` names and notes the key: the
/// operations on one key that answer nothing.
fn on_key(
    kms: &Kms,
    caller: &Caller,
    key_id: Option<&str>,
    facts: &mut KmsFacts,
    change: impl FnOnce() -> Result<(), kms::KmsError>,
) -> Result<Option<Vec<u8>>, ApiError> {
    change()?;
    facts.key(
        kms.key_arn_named(caller, key_id.unwrap_or_default())
            .as_deref(),
    );
    Ok(None)
}

pub(super) fn enable_key_rotation(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: EnableKeyRotationRequest = input(body, facts)?;
    let key_id = r.key_id.clone();
    on_key(kms, caller, key_id.as_deref(), facts, || {
        kms.enable_key_rotation(caller, r.key_id, r.rotation_period_in_days)
    })
}

pub(super) fn disable_key_rotation(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: KeyIdOnly = input(body, facts)?;
    let key_id = r.key_id.clone();
    on_key(kms, caller, key_id.as_deref(), facts, || {
        kms.disable_key_rotation(caller, r.key_id)
    })
}

pub(super) fn get_key_rotation_status(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: KeyIdOnly = input(body, facts)?;
    let status = kms.get_key_rotation_status(caller, r.key_id)?;
    facts.key(Some(&status.key_id));
    encode(&GetKeyRotationStatusResponse {
        key_rotation_enabled: status.enabled,
        key_id: status.key_id,
        rotation_period_in_days: status.rotation_period_in_days,
        next_rotation_date: status.next_rotation_date_ms.map(seconds),
    })
}

pub(super) fn rotate_key_on_demand(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: KeyIdOnly = input(body, facts)?;
    let key_id = kms.rotate_key_on_demand(caller, r.key_id)?;
    facts.key(kms.key_arn_named(caller, &key_id).as_deref());
    encode(&KeyIdResponse { key_id })
}

pub(super) fn list_key_rotations(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: ListKeyRotationsRequest = input(body, facts)?;
    let key_arn = kms.key_arn_named(caller, r.key_id.as_deref().unwrap_or_default());
    let page = kms.list_key_rotations(
        caller,
        r.key_id,
        r.include_key_material,
        page_request(r.limit, r.marker),
    )?;
    facts.key(key_arn.as_deref());
    let (rotations, next_marker, truncated) = paged(page, |e| RotationShape {
        key_id: e.key_id,
        key_material_id: e.key_material_id,
        key_material_state: e.key_material_state,
        rotation_date: e.rotation_date_ms.map(seconds),
        rotation_type: e.rotation_type,
    });
    encode(&ListKeyRotationsResponse {
        rotations,
        next_marker,
        truncated,
    })
}

pub(super) fn tag_resource(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: TagResourceRequest = input(body, facts)?;
    let key_id = r.key_id.clone();
    on_key(kms, caller, key_id.as_deref(), facts, || {
        kms.tag_resource(caller, r.key_id, tags_in(r.tags))
    })
}

pub(super) fn untag_resource(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: UntagResourceRequest = input(body, facts)?;
    let key_id = r.key_id.clone();
    on_key(kms, caller, key_id.as_deref(), facts, || {
        kms.untag_resource(caller, r.key_id, r.tag_keys)
    })
}

pub(super) fn list_resource_tags(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: KeyIdPaged = input(body, facts)?;
    let key_arn = kms.key_arn_named(caller, r.key_id.as_deref().unwrap_or_default());
    let page = kms.list_resource_tags(caller, r.key_id, page_request(r.limit, r.marker))?;
    facts.key(key_arn.as_deref());
    let (tags, next_marker, truncated) =
        paged(page, |(tag_key, tag_value)| TagOut { tag_key, tag_value });
    encode(&ListResourceTagsResponse {
        tags,
        next_marker,
        truncated,
    })
}

pub(super) fn get_key_policy(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: GetKeyPolicyRequest = input(body, facts)?;
    let key_arn = kms.key_arn_named(caller, r.key_id.as_deref().unwrap_or_default());
    let (policy, policy_name) = kms.get_key_policy(caller, r.key_id, r.policy_name)?;
    facts.key(key_arn.as_deref());
    encode(&GetKeyPolicyResponse {
        policy,
        policy_name,
    })
}

pub(super) fn put_key_policy(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: PutKeyPolicyRequest = input(body, facts)?;
    let key_id = r.key_id.clone();
    on_key(kms, caller, key_id.as_deref(), facts, || {
        kms.put_key_policy(
            caller,
            r.key_id,
            r.policy_name,
            r.policy,
            r.bypass_policy_lockout_safety_check,
        )
    })
}

pub(super) fn list_key_policies(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: KeyIdPaged = input(body, facts)?;
    let key_arn = kms.key_arn_named(caller, r.key_id.as_deref().unwrap_or_default());
    let page = kms.list_key_policies(caller, r.key_id, page_request(r.limit, r.marker))?;
    facts.key(key_arn.as_deref());
    let (policy_names, next_marker, truncated) = paged(page, |p| p);
    encode(&ListKeyPoliciesResponse {
        policy_names,
        next_marker,
        truncated,
    })
}

pub(super) fn create_grant(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: CreateGrantRequest = input(body, facts)?;
    let out = kms.create_grant(
        caller,
        kms::CreateGrantInput {
            key_id: r.key_id,
            grantee_principal: r.grantee_principal,
            retiring_principal: r.retiring_principal,
            operations: r.operations,
            constraints: r.constraints.map(Into::into),
            grant_tokens: r.grant_tokens,
            name: r.name,
            dry_run: r.dry_run,
        },
    )?;
    facts.key(Some(&out.key_arn));
    facts.response_elements = Some(KmsResponseElements {
        grant_id: Some(out.grant_id.clone()),
        key_id: Some(out.key_arn),
        ..KmsResponseElements::default()
    });
    encode(&CreateGrantResponse {
        grant_token: out.grant_token,
        grant_id: out.grant_id,
    })
}

pub(super) fn list_grants(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: ListGrantsRequest = input(body, facts)?;
    let key_arn = kms.key_arn_named(caller, r.key_id.as_deref().unwrap_or_default());
    let page = kms.list_grants(
        caller,
        r.key_id,
        r.grant_id,
        r.grantee_principal,
        page_request(r.limit, r.marker),
    )?;
    facts.key(key_arn.as_deref());
    let (grants, next_marker, truncated) = paged(page, GrantListEntryShape::from);
    encode(&ListGrantsResponse {
        grants,
        next_marker,
        truncated,
    })
}

pub(super) fn list_retirable_grants(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: ListRetirableGrantsRequest = input(body, facts)?;
    let page = kms.list_retirable_grants(
        caller,
        r.retiring_principal,
        page_request(r.limit, r.marker),
    )?;
    let (grants, next_marker, truncated) = paged(page, GrantListEntryShape::from);
    encode(&ListGrantsResponse {
        grants,
        next_marker,
        truncated,
    })
}

pub(super) fn retire_grant(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: RetireGrantRequest = input(body, facts)?;
    // By token, AWS logs `"requestParameters": null` and the grant in
    // `additionalEventData`, whatever the outcome; the token itself never.
    let by_token = r
        .grant_token
        .as_deref()
        .filter(|_| r.key_id.is_none() && r.grant_id.is_none())
        .and_then(|token| kms.grant_named_by_token(token));
    if let Some((grant_id, key_arn)) = &by_token {
        facts.request = None;
        facts.grant_id = Some(grant_id.clone());
        facts.key(Some(key_arn));
    }
    let retired = kms.retire_grant(
        caller,
        kms::RetireGrantInput {
            grant_token: r.grant_token,
            key_id: r.key_id,
            grant_id: r.grant_id,
            dry_run: r.dry_run,
        },
    )?;
    facts.key(Some(&retired.key_arn));
    facts.response_elements = Some(KmsResponseElements {
        key_id: Some(retired.key_arn),
        ..KmsResponseElements::default()
    });
    Ok(None)
}

pub(super) fn revoke_grant(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: RevokeGrantRequest = input(body, facts)?;
    let key_id = r.key_id.clone();
    on_key(kms, caller, key_id.as_deref(), facts, || {
        kms.revoke_grant(caller, r.key_id, r.grant_id, r.dry_run)
    })
}

// GetParametersForImport, ImportKeyMaterial, DeleteImportedKeyMaterial:
// every keyward key has origin AWS_KMS, which these refuse once the request
// is valid, the key found and the caller allowed (the domain's `import.rs`).

pub(super) fn get_parameters_for_import(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: GetParametersForImportRequest = input(body, facts)?;
    match kms.get_parameters_for_import(
        caller,
        r.key_id,
        r.wrapping_algorithm,
        r.wrapping_key_spec,
    )? {}
}

pub(super) fn import_key_material(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: ImportKeyMaterialRequest = input(body, facts)?;
    let import_token = decode_blob("ImportToken", r.import_token)?;
    let encrypted_key_material = decode_blob("EncryptedKeyMaterial", r.encrypted_key_material)?;
    match kms.import_key_material(
        caller,
        kms::ImportKeyMaterialInput {
            key_id: r.key_id,
            import_token_len: import_token.map(|bytes| bytes.len()),
            encrypted_key_material_len: encrypted_key_material.map(|bytes| bytes.len()),
            expiration_model: r.expiration_model,
            import_type: r.import_type,
            key_material_id: r.key_material_id,
            key_material_description: r.key_material_description,
        },
    )? {}
}

pub(super) fn delete_imported_key_material(
    kms: &Kms,
    caller: &Caller,
    body: &[u8],
    facts: &mut KmsFacts,
) -> Result<Option<Vec<u8>>, ApiError> {
    let r: DeleteImportedKeyMaterialRequest = input(body, facts)?;
    match kms.delete_imported_key_material(caller, r.key_id, r.key_material_id)? {}
}
