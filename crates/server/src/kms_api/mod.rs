//! `TrentService.*`: decode the JSON body, call the domain, encode the reply.

mod shapes;

use keyward_kms::{self as kms, Kms, Page};
use keyward_principal::Caller;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::ApiError;
use shapes::*;

/// Every operation of the AWS KMS API model (botocore `kms/2014-11-01`) that
/// keyward does not implement: they answer UnsupportedOperationException
/// naming the operation, never a 404 or a 500.
const NOT_IMPLEMENTED: &[&str] = &[
    "ConnectCustomKeyStore",
    "CreateCustomKeyStore",
    "DeleteCustomKeyStore",
    "DeleteImportedKeyMaterial",
    "DeriveSharedSecret",
    "DescribeCustomKeyStores",
    "DisconnectCustomKeyStore",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "GetKeyLastUsage",
    "GetParametersForImport",
    "GetPublicKey",
    "ImportKeyMaterial",
    "ReplicateKey",
    "Sign",
    "UpdateCustomKeyStore",
    "UpdatePrimaryRegion",
    "Verify",
    "VerifyMac",
];

/// Operations that only read state: they run on the async worker, since the
/// domain serves them from memory. The others write to disk and run on the
/// blocking pool.
pub fn runs_inline(operation: &str) -> bool {
    matches!(
        operation,
        "Encrypt"
            | "Decrypt"
            | "ReEncrypt"
            | "GenerateDataKey"
            | "GenerateDataKeyWithoutPlaintext"
            | "GenerateRandom"
            | "DescribeKey"
            | "ListKeys"
            | "ListAliases"
            | "GetKeyRotationStatus"
            | "ListKeyRotations"
            | "ListResourceTags"
            | "GetKeyPolicy"
            | "ListKeyPolicies"
    )
}

fn parse<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    let text = body.iter().position(|b| !b.is_ascii_whitespace());
    match text {
        None => Ok(T::default()),
        Some(i) if body.get(i) == Some(&b'{') => serde_json::from_slice(body).map_err(|e| {
            ApiError::Serialization(match e.classify() {
                serde_json::error::Category::Data => {
                    format!("The request body does not match the operation's input shape: {e}")
                }
                _ => format!("The request body is not valid JSON: {e}"),
            })
        }),
        Some(_) => Err(ApiError::Serialization(
            "The request body must be a JSON object.".into(),
        )),
    }
}

fn json(value: &impl Serialize) -> Result<Option<Vec<u8>>, ApiError> {
    serde_json::to_vec(value)
        .map(Some)
        .map_err(|e| ApiError::Internal(format!("response encoding failed: {e}")))
}

fn paged<T, U>(page: Page<T>, map: impl FnMut(T) -> U) -> (Vec<U>, Option<String>, bool) {
    let truncated = page.next_marker.is_some();
    (
        page.items.into_iter().map(map).collect(),
        page.next_marker,
        truncated,
    )
}

/// Runs `operation` for `caller`. `Ok(None)` is a success with no output members.
pub fn dispatch(
    kms: &Kms,
    caller: &Caller,
    operation: &str,
    body: &[u8],
) -> Result<Option<Vec<u8>>, ApiError> {
    match operation {
        "CreateKey" => {
            let r: CreateKeyRequest = parse(body)?;
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
            json(&KeyMetadataResponse {
                key_metadata: metadata.into(),
            })
        }
        "DescribeKey" => {
            let r: DescribeKeyRequest = parse(body)?;
            let metadata = kms.describe_key(caller, r.key_id, r.grant_tokens)?;
            json(&KeyMetadataResponse {
                key_metadata: metadata.into(),
            })
        }
        "ListKeys" => {
            let r: Paged = parse(body)?;
            let (keys, next_marker, truncated) =
                paged(kms.list_keys(caller, r.request())?, |k| KeyListEntryShape {
                    key_id: k.key_id,
                    key_arn: k.key_arn,
                });
            json(&ListKeysResponse {
                keys,
                next_marker,
                truncated,
            })
        }
        "UpdateKeyDescription" => {
            let r: UpdateKeyDescriptionRequest = parse(body)?;
            kms.update_key_description(caller, r.key_id, r.description)?;
            Ok(None)
        }
        "EnableKey" => {
            let r: KeyIdOnly = parse(body)?;
            kms.enable_key(caller, r.key_id)?;
            Ok(None)
        }
        "DisableKey" => {
            let r: KeyIdOnly = parse(body)?;
            kms.disable_key(caller, r.key_id)?;
            Ok(None)
        }
        "ScheduleKeyDeletion" => {
            let r: ScheduleKeyDeletionRequest = parse(body)?;
            let out = kms.schedule_key_deletion(caller, r.key_id, r.pending_window_in_days)?;
            json(&ScheduleKeyDeletionResponse {
                key_id: out.key_arn,
                deletion_date: seconds(out.deletion_date_ms),
                key_state: out.key_state,
                pending_window_in_days: out.pending_window_in_days,
            })
        }
        "CancelKeyDeletion" => {
            let r: KeyIdOnly = parse(body)?;
            json(&KeyIdResponse {
                key_id: kms.cancel_key_deletion(caller, r.key_id)?,
            })
        }
        "Encrypt" => {
            let r: EncryptRequest = parse(body)?;
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
            json(&EncryptResponse {
                ciphertext_blob: blob(&out.ciphertext_blob),
                key_id: out.key_arn,
                encryption_algorithm: out.encryption_algorithm,
            })
        }
        "Decrypt" => {
            let r: DecryptRequest = parse(body)?;
            let out = kms.decrypt(
                caller,
                kms::DecryptInput {
                    ciphertext_blob: decode_blob("CiphertextBlob", r.ciphertext_blob)?,
                    encryption_context: r.encryption_context,
                    grant_tokens: r.grant_tokens,
                    key_id: r.key_id,
                    encryption_algorithm: r.encryption_algorithm,
                    recipient_present: r.recipient.is_some_and(|v| !v.is_null()),
                    dry_run: r.dry_run,
                    dry_run_modifiers: r.dry_run_modifiers,
                },
            )?;
            json(&DecryptResponse {
                key_id: out.key_arn,
                plaintext: secret(&out.plaintext),
                encryption_algorithm: out.encryption_algorithm,
                key_material_id: out.key_material_id,
            })
        }
        "ReEncrypt" => {
            let r: ReEncryptRequest = parse(body)?;
            let out = kms.re_encrypt(
                caller,
                kms::ReEncryptInput {
                    ciphertext_blob: decode_blob("CiphertextBlob", r.ciphertext_blob)?,
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
            )?;
            json(&ReEncryptResponse {
                ciphertext_blob: blob(&out.ciphertext_blob),
                source_key_id: out.source_key_arn,
                key_id: out.key_arn,
                source_encryption_algorithm: out.source_encryption_algorithm,
                destination_encryption_algorithm: out.destination_encryption_algorithm,
                source_key_material_id: out.source_key_material_id,
                destination_key_material_id: out.destination_key_material_id,
            })
        }
        "GenerateDataKey" | "GenerateDataKeyWithoutPlaintext" => {
            let r: GenerateDataKeyRequest = parse(body)?;
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
                operation == "GenerateDataKey",
            )?;
            json(&GenerateDataKeyResponse {
                ciphertext_blob: blob(&out.ciphertext_blob),
                plaintext: out.plaintext.as_ref().map(secret),
                key_id: out.key_arn,
                key_material_id: out.key_material_id,
            })
        }
        "GenerateRandom" => {
            let r: GenerateRandomRequest = parse(body)?;
            let random = kms.generate_random(
                caller,
                r.number_of_bytes,
                r.custom_key_store_id,
                r.recipient.is_some_and(|v| !v.is_null()),
            )?;
            json(&GenerateRandomResponse {
                plaintext: secret(&random),
            })
        }
        "CreateAlias" => {
            let r: AliasRequest = parse(body)?;
            kms.create_alias(caller, r.alias_name, r.target_key_id)?;
            Ok(None)
        }
        "UpdateAlias" => {
            let r: AliasRequest = parse(body)?;
            kms.update_alias(caller, r.alias_name, r.target_key_id)?;
            Ok(None)
        }
        "DeleteAlias" => {
            let r: AliasRequest = parse(body)?;
            kms.delete_alias(caller, r.alias_name)?;
            Ok(None)
        }
        "ListAliases" => {
            let r: KeyIdPaged = parse(body)?;
            let page = kms.list_aliases(
                caller,
                r.key_id,
                kms::PageRequest {
                    limit: r.limit,
                    marker: r.marker,
                },
            )?;
            let (aliases, next_marker, truncated) = paged(page, |a| AliasShape {
                alias_name: a.alias_name,
                alias_arn: a.alias_arn,
                target_key_id: a.target_key_id,
                creation_date: seconds(a.creation_date_ms),
                last_updated_date: seconds(a.last_updated_date_ms),
            });
            json(&ListAliasesResponse {
                aliases,
                next_marker,
                truncated,
            })
        }
        "EnableKeyRotation" => {
            let r: EnableKeyRotationRequest = parse(body)?;
            kms.enable_key_rotation(caller, r.key_id, r.rotation_period_in_days)?;
            Ok(None)
        }
        "DisableKeyRotation" => {
            let r: KeyIdOnly = parse(body)?;
            kms.disable_key_rotation(caller, r.key_id)?;
            Ok(None)
        }
        "GetKeyRotationStatus" => {
            let r: KeyIdOnly = parse(body)?;
            let status = kms.get_key_rotation_status(caller, r.key_id)?;
            json(&GetKeyRotationStatusResponse {
                key_rotation_enabled: status.enabled,
                key_id: status.key_id,
                rotation_period_in_days: status.rotation_period_in_days,
                next_rotation_date: status.next_rotation_date_ms.map(seconds),
            })
        }
        "RotateKeyOnDemand" => {
            let r: KeyIdOnly = parse(body)?;
            json(&KeyIdResponse {
                key_id: kms.rotate_key_on_demand(caller, r.key_id)?,
            })
        }
        "ListKeyRotations" => {
            let r: ListKeyRotationsRequest = parse(body)?;
            let page = kms.list_key_rotations(
                caller,
                r.key_id,
                r.include_key_material,
                kms::PageRequest {
                    limit: r.limit,
                    marker: r.marker,
                },
            )?;
            let (rotations, next_marker, truncated) = paged(page, |e| RotationShape {
                key_id: e.key_id,
                key_material_id: e.key_material_id,
                key_material_state: e.key_material_state,
                rotation_date: e.rotation_date_ms.map(seconds),
                rotation_type: e.rotation_type,
            });
            json(&ListKeyRotationsResponse {
                rotations,
                next_marker,
                truncated,
            })
        }
        "TagResource" => {
            let r: TagResourceRequest = parse(body)?;
            kms.tag_resource(caller, r.key_id, tags_in(r.tags))?;
            Ok(None)
        }
        "UntagResource" => {
            let r: UntagResourceRequest = parse(body)?;
            kms.untag_resource(caller, r.key_id, r.tag_keys)?;
            Ok(None)
        }
        "ListResourceTags" => {
            let r: KeyIdPaged = parse(body)?;
            let page = kms.list_resource_tags(
                caller,
                r.key_id,
                kms::PageRequest {
                    limit: r.limit,
                    marker: r.marker,
                },
            )?;
            let (tags, next_marker, truncated) =
                paged(page, |(tag_key, tag_value)| TagOut { tag_key, tag_value });
            json(&ListResourceTagsResponse {
                tags,
                next_marker,
                truncated,
            })
        }
        "GetKeyPolicy" => {
            let r: GetKeyPolicyRequest = parse(body)?;
            let (policy, policy_name) = kms.get_key_policy(caller, r.key_id, r.policy_name)?;
            json(&GetKeyPolicyResponse {
                policy,
                policy_name,
            })
        }
        "PutKeyPolicy" => {
            let r: PutKeyPolicyRequest = parse(body)?;
            kms.put_key_policy(
                caller,
                r.key_id,
                r.policy_name,
                r.policy,
                r.bypass_policy_lockout_safety_check,
            )?;
            Ok(None)
        }
        "ListKeyPolicies" => {
            let r: KeyIdPaged = parse(body)?;
            let page = kms.list_key_policies(
                caller,
                r.key_id,
                kms::PageRequest {
                    limit: r.limit,
                    marker: r.marker,
                },
            )?;
            let (policy_names, next_marker, truncated) = paged(page, |p| p);
            json(&ListKeyPoliciesResponse {
                policy_names,
                next_marker,
                truncated,
            })
        }
        "CreateGrant" => {
            let r: CreateGrantRequest = parse(body)?;
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
            json(&CreateGrantResponse {
                grant_token: out.grant_token,
                grant_id: out.grant_id,
            })
        }
        "ListGrants" => {
            let r: ListGrantsRequest = parse(body)?;
            let page = kms.list_grants(
                caller,
                r.key_id,
                r.grant_id,
                r.grantee_principal,
                kms::PageRequest {
                    limit: r.limit,
                    marker: r.marker,
                },
            )?;
            let (grants, next_marker, truncated) = paged(page, GrantListEntryShape::from);
            json(&ListGrantsResponse {
                grants,
                next_marker,
                truncated,
            })
        }
        "ListRetirableGrants" => {
            let r: ListRetirableGrantsRequest = parse(body)?;
            let page = kms.list_retirable_grants(
                caller,
                r.retiring_principal,
                kms::PageRequest {
                    limit: r.limit,
                    marker: r.marker,
                },
            )?;
            let (grants, next_marker, truncated) = paged(page, GrantListEntryShape::from);
            json(&ListGrantsResponse {
                grants,
                next_marker,
                truncated,
            })
        }
        "RetireGrant" => {
            let r: RetireGrantRequest = parse(body)?;
            kms.retire_grant(
                caller,
                kms::RetireGrantInput {
                    grant_token: r.grant_token,
                    key_id: r.key_id,
                    grant_id: r.grant_id,
                    dry_run: r.dry_run,
                },
            )?;
            Ok(None)
        }
        "RevokeGrant" => {
            let r: RevokeGrantRequest = parse(body)?;
            kms.revoke_grant(caller, r.key_id, r.grant_id, r.dry_run)?;
            Ok(None)
        }
        other if NOT_IMPLEMENTED.contains(&other) => {
            Err(ApiError::NotImplemented(other.to_string()))
        }
        other => Err(ApiError::UnknownOperation(format!(
            "Unknown operation: TrentService.{other}"
        ))),
    }
}

#[cfg(test)]
mod tests;
