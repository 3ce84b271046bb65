//! The AWS KMS JSON shapes (member names as in the botocore model), and
//! their conversion to and from the domain's values. Blobs are base64 and
//! timestamps epoch seconds on the wire.

use std::collections::BTreeMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use keyward_crypto::Secret;
use keyward_kms as kms;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::error::ApiError;

/// Decodes a base64 blob member; malformed base64 is a SerializationException
/// (the member cannot be deserialized), as for any other wrong type.
pub fn decode_blob(member: &str, value: Option<String>) -> Result<Option<Vec<u8>>, ApiError> {
    match value {
        None => Ok(None),
        Some(text) => STANDARD.decode(text.as_bytes()).map(Some).map_err(|_| {
            ApiError::Serialization(format!("Could not decode the base64 value of '{member}'."))
        }),
    }
}

/// Like [`decode_blob`] for secret members; the decoded bytes and the base64
/// text are zeroized when dropped.
pub fn decode_secret(
    member: &str,
    value: Option<Zeroizing<String>>,
) -> Result<Option<Secret>, ApiError> {
    match value {
        None => Ok(None),
        Some(text) => STANDARD
            .decode(text.as_bytes())
            .map(|bytes| Some(Secret::new(bytes)))
            .map_err(|_| {
                ApiError::Serialization(format!("Could not decode the base64 value of '{member}'."))
            }),
    }
}

pub fn blob(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn secret(secret: &Secret) -> Zeroizing<String> {
    Zeroizing::new(STANDARD.encode(secret.expose()))
}

pub fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

pub type ContextShape = Option<BTreeMap<String, String>>;

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TagShape {
    pub tag_key: Option<String>,
    pub tag_value: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagOut {
    pub tag_key: String,
    pub tag_value: String,
}

pub fn tags_in(tags: Option<Vec<TagShape>>) -> Option<Vec<kms::Tag>> {
    tags.map(|tags| {
        tags.into_iter()
            .map(|t| kms::Tag {
                key: t.tag_key,
                value: t.tag_value,
            })
            .collect()
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdOnly {
    pub key_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetParametersForImportRequest {
    pub key_id: Option<String>,
    pub wrapping_algorithm: Option<String>,
    pub wrapping_key_spec: Option<String>,
}

/// `ValidTo` is not read: no request gets far enough to use it.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ImportKeyMaterialRequest {
    pub key_id: Option<String>,
    pub import_token: Option<String>,
    pub encrypted_key_material: Option<String>,
    pub expiration_model: Option<String>,
    pub import_type: Option<String>,
    pub key_material_id: Option<String>,
    pub key_material_description: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteImportedKeyMaterialRequest {
    pub key_id: Option<String>,
    pub key_material_id: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct Paged {
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

impl Paged {
    pub fn request(self) -> kms::PageRequest {
        kms::PageRequest {
            limit: self.limit,
            marker: self.marker,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdPaged {
    pub key_id: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CreateKeyRequest {
    pub policy: Option<String>,
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub customer_master_key_spec: Option<String>,
    pub key_spec: Option<String>,
    pub origin: Option<String>,
    pub custom_key_store_id: Option<String>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
    pub tags: Option<Vec<TagShape>>,
    pub multi_region: Option<bool>,
    pub xks_key_id: Option<String>,
}

#[derive(Serialize)]
pub struct KeyMetadataShape {
    #[serde(rename = "AWSAccountId")]
    pub aws_account_id: String,
    #[serde(rename = "KeyId")]
    pub key_id: String,
    #[serde(rename = "Arn")]
    pub arn: String,
    #[serde(rename = "CreationDate")]
    pub creation_date: f64,
    #[serde(rename = "Enabled")]
    pub enabled: bool,
    #[serde(rename = "Description")]
    pub description: String,
    #[serde(rename = "KeyUsage")]
    pub key_usage: &'static str,
    #[serde(rename = "KeyState")]
    pub key_state: &'static str,
    #[serde(rename = "DeletionDate", skip_serializing_if = "Option::is_none")]
    pub deletion_date: Option<f64>,
    #[serde(rename = "Origin")]
    pub origin: &'static str,
    #[serde(rename = "KeyManager")]
    pub key_manager: &'static str,
    #[serde(rename = "CustomerMasterKeySpec")]
    pub customer_master_key_spec: &'static str,
    #[serde(rename = "KeySpec")]
    pub key_spec: &'static str,
    #[serde(rename = "EncryptionAlgorithms")]
    pub encryption_algorithms: Vec<&'static str>,
    #[serde(rename = "MultiRegion")]
    pub multi_region: bool,
    #[serde(rename = "CurrentKeyMaterialId")]
    pub current_key_material_id: String,
}

impl From<kms::KeyMetadata> for KeyMetadataShape {
    fn from(m: kms::KeyMetadata) -> Self {
        KeyMetadataShape {
            aws_account_id: m.account_id,
            key_id: m.key_id,
            arn: m.arn,
            creation_date: seconds(m.creation_date_ms),
            enabled: m.enabled,
            description: m.description,
            key_usage: m.key_usage,
            key_state: m.key_state,
            deletion_date: m.deletion_date_ms.map(seconds),
            origin: m.origin,
            key_manager: m.key_manager,
            customer_master_key_spec: m.key_spec,
            key_spec: m.key_spec,
            encryption_algorithms: m.encryption_algorithms,
            multi_region: m.multi_region,
            current_key_material_id: m.current_key_material_id,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyMetadataResponse {
    pub key_metadata: KeyMetadataShape,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeKeyRequest {
    pub key_id: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeysResponse {
    pub keys: Vec<KeyListEntryShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyListEntryShape {
    pub key_id: String,
    pub key_arn: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UpdateKeyDescriptionRequest {
    pub key_id: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionRequest {
    pub key_id: Option<String>,
    pub pending_window_in_days: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScheduleKeyDeletionResponse {
    pub key_id: String,
    pub deletion_date: f64,
    pub key_state: &'static str,
    pub pending_window_in_days: u32,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct KeyIdResponse {
    pub key_id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptRequest {
    pub key_id: Option<String>,
    pub plaintext: Option<Zeroizing<String>>,
    pub encryption_context: ContextShape,
    pub grant_tokens: Option<Vec<String>>,
    pub encryption_algorithm: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct EncryptResponse {
    pub ciphertext_blob: String,
    pub key_id: String,
    pub encryption_algorithm: &'static str,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptRequest {
    pub ciphertext_blob: Option<String>,
    pub encryption_context: ContextShape,
    pub grant_tokens: Option<Vec<String>>,
    pub key_id: Option<String>,
    pub encryption_algorithm: Option<String>,
    pub recipient: Option<serde_json::Value>,
    pub dry_run: Option<bool>,
    pub dry_run_modifiers: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DecryptResponse {
    pub key_id: String,
    pub plaintext: Zeroizing<String>,
    pub encryption_algorithm: &'static str,
    pub key_material_id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptRequest {
    pub ciphertext_blob: Option<String>,
    pub source_encryption_context: ContextShape,
    pub source_key_id: Option<String>,
    pub destination_key_id: Option<String>,
    pub destination_encryption_context: ContextShape,
    pub source_encryption_algorithm: Option<String>,
    pub destination_encryption_algorithm: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
    pub dry_run_modifiers: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReEncryptResponse {
    pub ciphertext_blob: String,
    pub source_key_id: String,
    pub key_id: String,
    pub source_encryption_algorithm: &'static str,
    pub destination_encryption_algorithm: &'static str,
    pub source_key_material_id: String,
    pub destination_key_material_id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyRequest {
    pub key_id: Option<String>,
    pub encryption_context: ContextShape,
    pub number_of_bytes: Option<i64>,
    pub key_spec: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub recipient: Option<serde_json::Value>,
    pub dry_run: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateDataKeyResponse {
    pub ciphertext_blob: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plaintext: Option<Zeroizing<String>>,
    pub key_id: String,
    pub key_material_id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateRandomRequest {
    pub number_of_bytes: Option<i64>,
    pub custom_key_store_id: Option<String>,
    pub recipient: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GenerateRandomResponse {
    pub plaintext: Zeroizing<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct AliasRequest {
    pub alias_name: Option<String>,
    pub target_key_id: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListAliasesResponse {
    pub aliases: Vec<AliasShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AliasShape {
    pub alias_name: String,
    pub alias_arn: String,
    pub target_key_id: String,
    pub creation_date: f64,
    pub last_updated_date: f64,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct EnableKeyRotationRequest {
    pub key_id: Option<String>,
    pub rotation_period_in_days: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyRotationStatusResponse {
    pub key_rotation_enabled: bool,
    pub key_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_period_in_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_rotation_date: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyRotationsRequest {
    pub key_id: Option<String>,
    pub include_key_material: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyRotationsResponse {
    pub rotations: Vec<RotationShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RotationShape {
    pub key_id: String,
    pub key_material_id: String,
    pub key_material_state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation_type: Option<&'static str>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct TagResourceRequest {
    pub key_id: Option<String>,
    pub tags: Option<Vec<TagShape>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct UntagResourceRequest {
    pub key_id: Option<String>,
    pub tag_keys: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListResourceTagsResponse {
    pub tags: Vec<TagOut>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyPolicyRequest {
    pub key_id: Option<String>,
    pub policy_name: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetKeyPolicyResponse {
    pub policy: String,
    pub policy_name: &'static str,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct PutKeyPolicyRequest {
    pub key_id: Option<String>,
    pub policy_name: Option<String>,
    pub policy: Option<String>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListKeyPoliciesResponse {
    pub policy_names: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

#[derive(Deserialize, Serialize, Default, Clone)]
#[serde(rename_all = "PascalCase")]
pub struct GrantConstraintsShape {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: ContextShape,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: ContextShape,
}

impl From<GrantConstraintsShape> for kms::GrantConstraints {
    fn from(c: GrantConstraintsShape) -> Self {
        kms::GrantConstraints {
            encryption_context_subset: c.encryption_context_subset,
            encryption_context_equals: c.encryption_context_equals,
        }
    }
}

impl From<kms::GrantConstraints> for GrantConstraintsShape {
    fn from(c: kms::GrantConstraints) -> Self {
        GrantConstraintsShape {
            encryption_context_subset: c.encryption_context_subset,
            encryption_context_equals: c.encryption_context_equals,
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGrantRequest {
    pub key_id: Option<String>,
    pub grantee_principal: Option<String>,
    pub retiring_principal: Option<String>,
    pub operations: Option<Vec<String>>,
    pub constraints: Option<GrantConstraintsShape>,
    pub grant_tokens: Option<Vec<String>>,
    pub name: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateGrantResponse {
    pub grant_token: String,
    pub grant_id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ListGrantsRequest {
    pub key_id: Option<String>,
    pub grant_id: Option<String>,
    pub grantee_principal: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct ListRetirableGrantsRequest {
    pub retiring_principal: Option<String>,
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GrantListEntryShape {
    pub key_id: String,
    pub grant_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub creation_date: f64,
    pub grantee_principal: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retiring_principal: Option<String>,
    pub issuing_account: String,
    pub operations: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub constraints: Option<GrantConstraintsShape>,
}

impl From<kms::GrantListEntry> for GrantListEntryShape {
    fn from(g: kms::GrantListEntry) -> Self {
        GrantListEntryShape {
            key_id: g.key_id,
            grant_id: g.grant_id,
            name: g.name,
            creation_date: seconds(g.creation_date_ms),
            grantee_principal: g.grantee_principal,
            retiring_principal: g.retiring_principal,
            issuing_account: g.issuing_account,
            operations: g.operations,
            constraints: g.constraints.map(Into::into),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListGrantsResponse {
    pub grants: Vec<GrantListEntryShape>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_marker: Option<String>,
    pub truncated: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RetireGrantRequest {
    pub grant_token: Option<String>,
    pub key_id: Option<String>,
    pub grant_id: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub struct RevokeGrantRequest {
    pub key_id: Option<String>,
    pub grant_id: Option<String>,
    pub dry_run: Option<bool>,
}
