//! Inputs and outputs of the KMS operations, as plain Rust values.
//!
//! Inputs keep what the client sent (optional fields stay `Option`, numbers
//! stay wide) so that the domain, not the decoder, applies AWS's validation
//! and produces its messages. Timestamps are epoch milliseconds.

use std::collections::BTreeMap;

use keyward_crypto::Secret;

pub type Context = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    pub key: Option<String>,
    pub value: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct KeyMetadata {
    pub account_id: String,
    pub key_id: String,
    pub arn: String,
    pub creation_date_ms: i64,
    pub enabled: bool,
    pub description: String,
    pub key_usage: &'static str,
    pub key_state: &'static str,
    pub deletion_date_ms: Option<i64>,
    pub origin: &'static str,
    pub key_manager: &'static str,
    pub key_spec: &'static str,
    pub encryption_algorithms: Vec<&'static str>,
    pub multi_region: bool,
    pub current_key_material_id: String,
}

#[derive(Debug, Default, Clone)]
pub struct CreateKeyInput {
    pub policy: Option<String>,
    pub description: Option<String>,
    pub key_usage: Option<String>,
    pub key_spec: Option<String>,
    pub customer_master_key_spec: Option<String>,
    pub origin: Option<String>,
    pub custom_key_store_id: Option<String>,
    pub bypass_policy_lockout_safety_check: Option<bool>,
    pub tags: Option<Vec<Tag>>,
    pub multi_region: Option<bool>,
    pub xks_key_id: Option<String>,
}

/// ImportKeyMaterial's members that are validated (the two blobs by their
/// decoded length only: they are never kept).
#[derive(Debug, Default, Clone)]
pub struct ImportKeyMaterialInput {
    pub key_id: Option<String>,
    pub import_token_len: Option<usize>,
    pub encrypted_key_material_len: Option<usize>,
    pub expiration_model: Option<String>,
    pub import_type: Option<String>,
    pub key_material_id: Option<String>,
    pub key_material_description: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct EncryptInput {
    pub key_id: Option<String>,
    pub plaintext: Option<Secret>,
    pub encryption_context: Option<Context>,
    pub grant_tokens: Option<Vec<String>>,
    pub encryption_algorithm: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct EncryptOutput {
    pub ciphertext_blob: Vec<u8>,
    pub key_arn: String,
    pub encryption_algorithm: &'static str,
    /// The material that sealed the blob (not in Encrypt's answer; its
    /// audit event names it).
    pub key_material_id: String,
}

#[derive(Debug, Default, Clone)]
pub struct DecryptInput {
    pub ciphertext_blob: Option<Vec<u8>>,
    pub encryption_context: Option<Context>,
    pub grant_tokens: Option<Vec<String>>,
    pub key_id: Option<String>,
    pub encryption_algorithm: Option<String>,
    pub recipient_present: bool,
    pub dry_run: Option<bool>,
    pub dry_run_modifiers: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct DecryptOutput {
    pub key_arn: String,
    pub plaintext: Secret,
    pub encryption_algorithm: &'static str,
    pub key_material_id: String,
}

#[derive(Debug, Default, Clone)]
pub struct ReEncryptInput {
    pub ciphertext_blob: Option<Vec<u8>>,
    pub source_encryption_context: Option<Context>,
    pub source_key_id: Option<String>,
    pub destination_key_id: Option<String>,
    pub destination_encryption_context: Option<Context>,
    pub source_encryption_algorithm: Option<String>,
    pub destination_encryption_algorithm: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub dry_run: Option<bool>,
    pub dry_run_modifiers: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub struct ReEncryptOutput {
    pub ciphertext_blob: Vec<u8>,
    pub source_key_arn: String,
    pub key_arn: String,
    pub source_encryption_algorithm: &'static str,
    pub destination_encryption_algorithm: &'static str,
    pub source_key_material_id: String,
    pub destination_key_material_id: String,
}

#[derive(Debug, Default, Clone)]
pub struct GenerateDataKeyInput {
    pub key_id: Option<String>,
    pub encryption_context: Option<Context>,
    pub number_of_bytes: Option<i64>,
    pub key_spec: Option<String>,
    pub grant_tokens: Option<Vec<String>>,
    pub recipient_present: bool,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct GenerateDataKeyOutput {
    pub ciphertext_blob: Vec<u8>,
    /// `None` for GenerateDataKeyWithoutPlaintext.
    pub plaintext: Option<Secret>,
    pub key_arn: String,
    pub key_material_id: String,
}

#[derive(Debug, Clone)]
pub struct ScheduleKeyDeletionOutput {
    pub key_arn: String,
    pub deletion_date_ms: i64,
    pub key_state: &'static str,
    pub pending_window_in_days: u32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_marker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyListEntry {
    pub key_id: String,
    pub key_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AliasListEntry {
    pub alias_name: String,
    pub alias_arn: String,
    pub target_key_id: String,
    pub creation_date_ms: i64,
    pub last_updated_date_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotationStatus {
    pub key_id: String,
    pub enabled: bool,
    pub rotation_period_in_days: Option<u32>,
    pub next_rotation_date_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationListEntry {
    pub key_id: String,
    pub key_material_id: String,
    pub key_material_state: &'static str,
    pub rotation_date_ms: Option<i64>,
    pub rotation_type: Option<&'static str>,
}

#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub limit: Option<i64>,
    pub marker: Option<String>,
}

#[derive(Debug, Default, Clone)]
pub struct CreateGrantInput {
    pub key_id: Option<String>,
    pub grantee_principal: Option<String>,
    pub retiring_principal: Option<String>,
    pub operations: Option<Vec<String>>,
    pub constraints: Option<crate::GrantConstraints>,
    pub grant_tokens: Option<Vec<String>>,
    pub name: Option<String>,
    pub dry_run: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateGrantOutput {
    pub grant_token: String,
    pub grant_id: String,
    /// The ARN of the grant's key.
    pub key_arn: String,
}

/// The grant RetireGrant retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiredGrant {
    pub grant_id: String,
    /// The ARN of the grant's key.
    pub key_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantListEntry {
    /// The key's ARN.
    pub key_id: String,
    pub grant_id: String,
    pub name: Option<String>,
    pub creation_date_ms: i64,
    pub grantee_principal: String,
    pub retiring_principal: Option<String>,
    /// `arn:aws:iam::ACCOUNT:root`.
    pub issuing_account: String,
    pub operations: Vec<String>,
    pub constraints: Option<crate::GrantConstraints>,
}

#[derive(Debug, Default, Clone)]
pub struct RetireGrantInput {
    pub grant_token: Option<String>,
    pub key_id: Option<String>,
    pub grant_id: Option<String>,
    pub dry_run: Option<bool>,
}
