//! CreateKey, DescribeKey, ListKeys, UpdateKeyDescription, EnableKey,
//! DisableKey, ScheduleKeyDeletion, CancelKeyDeletion.

use std::collections::BTreeMap;

use crate::authz::Ask;
use crate::ids::Accepts;
use crate::key::{
    default_key_policy, Key, RotationSchedule, DEFAULT_ROTATION_PERIOD_DAYS, ENCRYPTION_ALGORITHM,
    KEY_SPEC, KEY_USAGE, ORIGIN,
};
use crate::ops::tags_policies::{check_tags, merge_tags};
use crate::ops::{check_grant_token_syntax, check_grant_tokens, check_key_id};
use crate::paging::{decode_marker, limit, page};
use crate::service::Change;
use crate::state::{KeyOperation, KeyState};
use crate::validate::Violations;
use crate::KmsOperation;
use crate::{
    Caller, CreateKeyInput, KeyListEntry, KeyMetadata, Kms, KmsError, Page, PageRequest,
    ScheduleKeyDeletionOutput, DAY_MS,
};

const KEY_SPECS: &[&str] = &[
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "SYMMETRIC_DEFAULT",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
    "SM2",
    "ML_DSA_44",
    "ML_DSA_65",
    "ML_DSA_87",
];
const KEY_USAGES: &[&str] = &[
    "SIGN_VERIFY",
    "ENCRYPT_DECRYPT",
    "GENERATE_VERIFY_MAC",
    "KEY_AGREEMENT",
];
const ORIGINS: &[&str] = &["AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"];

/// AWS: 7–30 days, 30 by default.
const MIN_PENDING_WINDOW_DAYS: i64 = 7;
const MAX_PENDING_WINDOW_DAYS: i64 = 30;

pub(crate) fn metadata(key: &Key) -> Result<KeyMetadata, KmsError> {
    // `PendingDeletionWindowInDays` belongs to multi-Region primaries in
    // PendingReplicaDeletion only, so a single-Region key never reports it.
    let deletion_date_ms = match key.state {
        KeyState::PendingDeletion {
            deletion_date_ms, ..
        } => Some(deletion_date_ms),
        _ => None,
    };
    Ok(KeyMetadata {
        account_id: key.account_id.clone(),
        key_id: key.key_id.clone(),
        arn: key.arn.clone(),
        creation_date_ms: key.created_ms,
        enabled: key.state == KeyState::Enabled,
        description: key.description.clone(),
        key_usage: KEY_USAGE,
        key_state: key.state.name(),
        deletion_date_ms,
        origin: ORIGIN,
        key_manager: "CUSTOMER",
        key_spec: KEY_SPEC,
        encryption_algorithms: vec![ENCRYPTION_ALGORITHM],
        multi_region: false,
        current_key_material_id: key.current_material()?.id.to_hex(),
    })
}

impl Kms {
    pub fn create_key(
        &self,
        caller: &Caller,
        input: CreateKeyInput,
    ) -> Result<KeyMetadata, KmsError> {
        let mut v = Violations::new();
        v.length("policy", input.policy.as_deref(), 1, 131_072);
        v.length("description", input.description.as_deref(), 0, 8192);
        v.one_of("keyUsage", input.key_usage.as_deref(), KEY_USAGES);
        v.one_of(
            "customerMasterKeySpec",
            input.customer_master_key_spec.as_deref(),
            KEY_SPECS,
        );
        v.one_of("keySpec", input.key_spec.as_deref(), KEY_SPECS);
        v.one_of("origin", input.origin.as_deref(), ORIGINS);
        v.length(
            "customKeyStoreId",
            input.custom_key_store_id.as_deref(),
            1,
            64,
        );
        v.length("xksKeyId", input.xks_key_id.as_deref(), 1, 128);
        let tags = input.tags.unwrap_or_default();
        let tags = check_tags(&mut v, &tags)?;
        v.finish()?;

        if input.key_spec.is_some() && input.customer_master_key_spec.is_some() {
            return Err(KmsError::ValidationMessage(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. CustomerMasterKeySpec is deprecated.".into(),
            ));
        }
        let spec = input
            .key_spec
            .or(input.customer_master_key_spec)
            .unwrap_or_else(|| KEY_SPEC.into());
        // AWS checks this before anything about the spec itself (LocalStack's
        // AWS-validated `test_hmac_create_key_invalid_operations`).
        if spec != KEY_SPEC && input.key_usage.is_none() {
            return Err(KmsError::ValidationMessage(
                "You must specify a KeyUsage value for all KMS keys except for symmetric encryption keys.".into(),
            ));
        }
        if spec != KEY_SPEC {
            return Err(KmsError::UnsupportedOperation(format!(
                "KeySpec {spec} is not supported: keyward supports symmetric encryption keys (SYMMETRIC_DEFAULT) only."
            )));
        }
        if let Some(usage) = input.key_usage.filter(|u| u != KEY_USAGE) {
            return Err(KmsError::ValidationMessage(format!(
                "KeyUsage {usage} is not compatible with KeySpec SYMMETRIC_DEFAULT. Symmetric encryption keys must use ENCRYPT_DECRYPT."
            )));
        }
        if let Some(origin) = input.origin.filter(|o| o != ORIGIN) {
            return Err(KmsError::UnsupportedOperation(format!(
                "Origin {origin} is not supported: keyward creates key material itself (AWS_KMS) only."
            )));
        }
        if input.multi_region == Some(true) {
            return Err(KmsError::UnsupportedOperation(
                "Multi-Region keys are not supported by keyward.".into(),
            ));
        }
        if input.custom_key_store_id.is_some() || input.xks_key_id.is_some() {
            return Err(KmsError::UnsupportedOperation(
                "Custom key stores are not supported by keyward.".into(),
            ));
        }
        let bypass = input.bypass_policy_lockout_safety_check == Some(true);
        let ask = Ask::new(KmsOperation::CreateKey)
            .with("kms:KeySpec", spec.clone())
            .with("kms:CustomerMasterKeySpec", spec.clone())
            .with("kms:KeyUsage", KEY_USAGE)
            .with("kms:CustomerMasterKeyUsage", KEY_USAGE)
            .with("kms:KeyOrigin", ORIGIN)
            .with("kms:MultiRegion", false)
            .with("kms:BypassPolicyLockoutSafetyCheck", bypass)
            .with_request_tags(&tags);
        self.authorize_by_iam(caller, &ask, None)?;
        let key_uuid = uuid::Uuid::new_v4();
        let key_id = key_uuid.to_string();
        let arn = self.key_arn(caller.account_id(), &key_id);
        let (policy, key_policy) = match input.policy {
            Some(policy) => {
                let parsed =
                    self.check_key_policy(caller, &policy, &arn, caller.account_id(), bypass)?;
                (policy, parsed)
            }
            None => {
                let policy = default_key_policy(caller.account_id());
                let parsed = crate::key::parse_key_policy(&policy).map_err(|e| {
                    crate::InternalError::Inconsistent(format!("default key policy: {e}"))
                })?;
                (policy, parsed)
            }
        };

        let now = self.clock.now_ms();
        let material = self.new_material(&key_id, None, now)?;
        let key = Key {
            key_id: key_id.clone(),
            key_id_bytes: key_uuid.into_bytes(),
            account_id: caller.account_id().to_string(),
            region: self.region.clone(),
            arn,
            created_ms: now,
            description: input.description.unwrap_or_default(),
            state: KeyState::Enabled,
            policy,
            key_policy: std::sync::Arc::new(key_policy),
            policy_unreadable: false,
            tags: merge_tags(&BTreeMap::new(), tags)?,
            materials: vec![material],
            rotation: RotationSchedule {
                enabled: false,
                period_days: DEFAULT_ROTATION_PERIOD_DAYS,
                next_rotation_ms: None,
            },
            on_demand_rotations: 0,
        };
        let result = metadata(&key)?;
        let writer = self.lock_writer();
        self.commit(&writer, vec![Change::PutKey(key)])?;
        Ok(result)
    }

    pub fn describe_key(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        grant_tokens: Option<Vec<String>>,
    ) -> Result<KeyMetadata, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        check_grant_tokens(&mut v, &grant_tokens);
        v.finish()?;
        check_grant_token_syntax(&grant_tokens)?;
        let key = self.resolve_for(
            caller,
            key_id.as_deref().unwrap_or_default(),
            Accepts::Any,
            KeyOperation::ReadOrDetach,
            Ask::new(KmsOperation::DescribeKey),
        )?;
        metadata(&key)
    }

    pub fn list_keys(
        &self,
        caller: &Caller,
        request: PageRequest,
    ) -> Result<Page<KeyListEntry>, KmsError> {
        let mut v = Violations::new();
        let limit = limit(&request, 100, 1000, &mut v);
        v.finish()?;
        let start = decode_marker(&request)?;
        self.authorize_by_iam(caller, &Ask::new(KmsOperation::ListKeys), None)?;
        let mut keys: Vec<KeyListEntry> = self
            .read()
            .keys
            .values()
            .filter(|k| k.account_id == caller.account_id())
            .map(|k| KeyListEntry {
                key_id: k.key_id.clone(),
                key_arn: k.arn.clone(),
            })
            .collect();
        keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        Ok(page(keys, start.as_deref(), limit, |k| k.key_id.clone()))
    }

    pub fn update_key_description(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        description: Option<String>,
    ) -> Result<(), KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.required("description", &description);
        v.length("description", description.as_deref(), 0, 8192);
        v.finish()?;
        self.update_key(
            caller,
            key_id.as_deref().unwrap_or_default(),
            KeyOperation::Manage,
            Ask::new(KmsOperation::UpdateKeyDescription),
            |key, _| {
                key.description = description.unwrap_or_default();
                Ok(())
            },
        )
    }

    pub fn enable_key(&self, caller: &Caller, key_id: Option<String>) -> Result<(), KmsError> {
        self.simple_transition(caller, key_id, KmsOperation::EnableKey, |state| {
            state.enable()
        })
    }

    pub fn disable_key(&self, caller: &Caller, key_id: Option<String>) -> Result<(), KmsError> {
        self.simple_transition(caller, key_id, KmsOperation::DisableKey, |state| {
            state.disable()
        })
    }

    fn simple_transition(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        operation: KmsOperation,
        next: fn(KeyState) -> KeyState,
    ) -> Result<(), KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.finish()?;
        self.update_key(
            caller,
            key_id.as_deref().unwrap_or_default(),
            KeyOperation::Manage,
            Ask::new(operation),
            |key, _| {
                key.state = next(key.state);
                Ok(())
            },
        )
    }

    pub fn schedule_key_deletion(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        pending_window_in_days: Option<i64>,
    ) -> Result<ScheduleKeyDeletionOutput, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.range(
            "pendingWindowInDays",
            pending_window_in_days,
            MIN_PENDING_WINDOW_DAYS,
            MAX_PENDING_WINDOW_DAYS,
        );
        v.finish()?;
        let days = pending_window_in_days.unwrap_or(MAX_PENDING_WINDOW_DAYS);
        let window_days = u32::try_from(days).unwrap_or(30);
        let mut output = None;
        self.update_key(
            caller,
            key_id.as_deref().unwrap_or_default(),
            KeyOperation::Manage,
            Ask::new(KmsOperation::ScheduleKeyDeletion)
                .with("kms:ScheduleKeyDeletionPendingWindowInDays", days),
            |key, now| {
                let deletion_date_ms = now.saturating_add(days.saturating_mul(DAY_MS));
                key.state = key.state.schedule_deletion(deletion_date_ms, window_days);
                output = Some(ScheduleKeyDeletionOutput {
                    key_arn: key.arn.clone(),
                    deletion_date_ms,
                    key_state: key.state.name(),
                    pending_window_in_days: window_days,
                });
                Ok(())
            },
        )?;
        output.ok_or_else(|| {
            crate::InternalError::Inconsistent("deletion was not scheduled".into()).into()
        })
    }

    pub fn cancel_key_deletion(
        &self,
        caller: &Caller,
        key_id: Option<String>,
    ) -> Result<String, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.finish()?;
        let mut arn = String::new();
        self.update_key(
            caller,
            key_id.as_deref().unwrap_or_default(),
            KeyOperation::CancelKeyDeletion,
            Ask::new(KmsOperation::CancelKeyDeletion),
            |key, _| {
                key.state = key.state.cancel_deletion();
                arn = key.arn.clone();
                Ok(())
            },
        )?;
        Ok(arn)
    }

    /// Read-modify-write of one key under the writer lock: resolve (key ID or
    /// ARN), authorize `ask`, check the state for `operation`, apply
    /// `change`, commit.
    pub(crate) fn update_key(
        &self,
        caller: &Caller,
        key_id: &str,
        operation: KeyOperation,
        ask: Ask,
        change: impl FnOnce(&mut Key, i64) -> Result<(), KmsError>,
    ) -> Result<(), KmsError> {
        let writer = self.lock_writer();
        let key = self.resolve_for(caller, key_id, Accepts::KeyOnly, operation, ask)?;
        let mut key = (*key).clone();
        change(&mut key, self.clock.now_ms())?;
        self.commit(&writer, vec![Change::PutKey(key)])
    }
}
