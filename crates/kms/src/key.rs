//! The in-memory KMS key and its conversion to and from the stored row.

use std::collections::BTreeMap;
use std::sync::Arc;

use keyward_crypto::MaterialId;
use keyward_policy::{Policy, PolicyKind};
use keyward_store::{KeyRow, MaterialRow};

use crate::state::KeyState;
use crate::InternalError;

pub const KEY_SPEC: &str = "SYMMETRIC_DEFAULT";
pub const KEY_USAGE: &str = "ENCRYPT_DECRYPT";
pub const ORIGIN: &str = "AWS_KMS";
pub const ENCRYPTION_ALGORITHM: &str = "SYMMETRIC_DEFAULT";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationType {
    Automatic,
    OnDemand,
}

impl RotationType {
    pub fn name(&self) -> &'static str {
        match self {
            RotationType::Automatic => "AUTOMATIC",
            RotationType::OnDemand => "ON_DEMAND",
        }
    }
}

/// One version of a key's material, as stored (wrapped).
#[derive(Debug, Clone)]
pub struct Material {
    pub id: MaterialId,
    pub wrapped: Vec<u8>,
    pub created_ms: i64,
    /// `None` for the material the key was created with.
    pub rotation: Option<RotationType>,
}

/// The rotation period of a key whose owner never chose one: "the default
/// value is 365 days" (EnableKeyRotation, `RotationPeriodInDays`,
/// <https://docs.aws.amazon.com/kms/latest/APIReference/API_EnableKeyRotation.html>).
pub const DEFAULT_ROTATION_PERIOD_DAYS: u32 = 365;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationSchedule {
    pub enabled: bool,
    pub period_days: u32,
    pub next_rotation_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Key {
    pub key_id: String,
    pub key_id_bytes: [u8; 16],
    pub account_id: String,
    pub region: String,
    pub arn: String,
    pub created_ms: i64,
    pub description: String,
    pub state: KeyState,
    /// The key policy as the client wrote it (GetKeyPolicy returns it).
    pub policy: String,
    /// The same policy, parsed once: every request evaluates it. For a key
    /// whose stored policy does not parse, [`locked_key_policy`].
    pub key_policy: Arc<Policy>,
    /// The stored policy does not parse (`policy` is its text): the key is
    /// locked, fail closed, until the account's root user puts a valid one
    /// (`authz::authorize_locked`).
    pub policy_unreadable: bool,
    pub tags: BTreeMap<String, String>,
    /// Oldest first; never empty; the last one encrypts.
    pub materials: Vec<Material>,
    pub rotation: RotationSchedule,
    pub on_demand_rotations: u32,
}

impl Key {
    pub fn current_material(&self) -> Result<&Material, InternalError> {
        self.materials.last().ok_or_else(|| {
            InternalError::Inconsistent(format!("key {} has no key material", self.key_id))
        })
    }

    pub fn material(&self, id: &MaterialId) -> Option<&Material> {
        self.materials.iter().find(|m| &m.id == id)
    }

    /// The additional data that binds a wrapped material to its key.
    pub fn wrap_label(key_id: &str, material_id: &MaterialId) -> Vec<u8> {
        let mut label = b"keyward/key-material/v1:".to_vec();
        label.extend_from_slice(key_id.as_bytes());
        label.push(b':');
        label.extend_from_slice(&material_id.0);
        label
    }

    pub fn to_row(&self) -> KeyRow {
        let (state, deletion_date_ms, pending_window_days) = match self.state {
            KeyState::PendingDeletion {
                deletion_date_ms,
                window_days,
            } => ("PendingDeletion", Some(deletion_date_ms), Some(window_days)),
            other => (other.name(), None, None),
        };
        KeyRow {
            key_id: self.key_id.clone(),
            account_id: self.account_id.clone(),
            region: self.region.clone(),
            created_ms: self.created_ms,
            description: self.description.clone(),
            key_spec: KEY_SPEC.into(),
            key_usage: KEY_USAGE.into(),
            origin: ORIGIN.into(),
            state: state.into(),
            deletion_date_ms,
            pending_window_days,
            policy: self.policy.clone(),
            tags: self
                .tags
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            materials: self
                .materials
                .iter()
                .map(|m| MaterialRow {
                    material_id: m.id.to_hex(),
                    wrapped: hex::encode(&m.wrapped),
                    created_ms: m.created_ms,
                    rotation_type: m.rotation.map(|r| r.name().to_string()),
                })
                .collect(),
            rotation_enabled: self.rotation.enabled,
            rotation_period_days: Some(self.rotation.period_days),
            next_rotation_ms: self.rotation.next_rotation_ms,
            on_demand_rotations: self.on_demand_rotations,
        }
    }

    pub fn from_row(row: &KeyRow) -> Result<Key, InternalError> {
        let (key_policy, policy_unreadable) = stored_policy(row)?;
        let bad = |what: &str| InternalError::Inconsistent(format!("key {}: {what}", row.key_id));
        let state = match (
            row.state.as_str(),
            row.deletion_date_ms,
            row.pending_window_days,
        ) {
            ("Enabled", _, _) => KeyState::Enabled,
            ("Disabled", _, _) => KeyState::Disabled,
            ("PendingDeletion", Some(date), Some(days)) => KeyState::PendingDeletion {
                deletion_date_ms: date,
                window_days: days,
            },
            _ => return Err(bad("unknown key state")),
        };
        let key_id_bytes = uuid::Uuid::parse_str(&row.key_id)
            .map_err(|_| bad("malformed key id"))?
            .into_bytes();
        let mut materials = Vec::with_capacity(row.materials.len());
        for m in &row.materials {
            materials.push(Material {
                id: MaterialId::from_hex(&m.material_id)
                    .ok_or_else(|| bad("malformed material id"))?,
                wrapped: hex::decode(&m.wrapped).map_err(|_| bad("malformed wrapped material"))?,
                created_ms: m.created_ms,
                rotation: match m.rotation_type.as_deref() {
                    None => None,
                    Some("AUTOMATIC") => Some(RotationType::Automatic),
                    Some("ON_DEMAND") => Some(RotationType::OnDemand),
                    Some(_) => return Err(bad("unknown rotation type")),
                },
            });
        }
        if materials.is_empty() {
            return Err(bad("no key material"));
        }
        Ok(Key {
            key_id: row.key_id.clone(),
            key_id_bytes,
            account_id: row.account_id.clone(),
            region: row.region.clone(),
            arn: crate::ids::key_arn(&row.region, &row.account_id, &row.key_id),
            created_ms: row.created_ms,
            description: row.description.clone(),
            state,
            policy: row.policy.clone(),
            key_policy: Arc::new(key_policy),
            policy_unreadable,
            tags: row.tags.iter().cloned().collect(),
            materials,
            rotation: RotationSchedule {
                enabled: row.rotation_enabled,
                period_days: row
                    .rotation_period_days
                    .unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS),
                next_rotation_ms: row.next_rotation_ms,
            },
            on_demand_rotations: row.on_demand_rotations,
        })
    }
}

/// Largest key policy AWS accepts (32 KB quota, reference/kms-api.md §8.4).
pub const MAX_KEY_POLICY_BYTES: usize = 32 * 1024;

/// Parses a key policy document as a resource policy.
pub fn parse_key_policy(text: &str) -> Result<Policy, keyward_policy::PolicyError> {
    Policy::parse(text, PolicyKind::Resource, MAX_KEY_POLICY_BYTES)
}

/// The parsed policy of a stored key, and whether the stored text failed to
/// parse. Policies were checked when they were stored, but one written by
/// another version (or edited on disk) may not parse here. Reading it as any
/// other policy could widen access — a `Deny` would be lost — so the key
/// fails closed: it gets [`locked_key_policy`], which allows nothing, and
/// only the account's root user may describe it, read its policy text and
/// put a valid policy (`authz::authorize_locked`). The condition is logged
/// here and named in every AccessDeniedException about the key.
fn stored_policy(row: &KeyRow) -> Result<(Policy, bool), InternalError> {
    match parse_key_policy(&row.policy) {
        Ok(policy) => Ok((policy, false)),
        Err(error) => {
            tracing::error!(
                key_id = row.key_id,
                account_id = row.account_id,
                %error,
                "the stored key policy does not parse; the key is locked until the account's root user puts a valid key policy"
            );
            Ok((locked_key_policy()?, true))
        }
    }
}

/// The policy evaluated for a key whose stored policy does not parse: it
/// denies everything to everyone, so no code path that evaluates a key
/// policy can find an allow in it.
const LOCKED_KEY_POLICY: &str = r#"{"Version":"2012-10-17","Id":"keyward-locked","Statement":[{"Sid":"StoredKeyPolicyDoesNotParse","Effect":"Deny","Principal":"*","Action":"*","Resource":"*"}]}"#;

/// [`LOCKED_KEY_POLICY`], parsed.
fn locked_key_policy() -> Result<Policy, InternalError> {
    parse_key_policy(LOCKED_KEY_POLICY).map_err(|e| {
        InternalError::Inconsistent(format!("the locked key policy does not parse: {e}"))
    })
}

/// The key policy a key gets when CreateKey has no `Policy`: exactly the text
/// AWS returns from GetKeyPolicy (its `" : "` spacing and 2-space indent).
pub fn default_key_policy(account_id: &str) -> String {
    format!(
        "{{\n  \"Version\" : \"2012-10-17\",\n  \"Id\" : \"key-default-1\",\n  \"Statement\" : [ {{\n    \"Sid\" : \"Enable IAM User Permissions\",\n    \"Effect\" : \"Allow\",\n    \"Principal\" : {{\n      \"AWS\" : \"arn:aws:iam::{account_id}:root\"\n    }},\n    \"Action\" : \"kms:*\",\n    \"Resource\" : \"*\"\n  }} ]\n}}"
    )
}
