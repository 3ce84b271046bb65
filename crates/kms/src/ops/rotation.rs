//! EnableKeyRotation, DisableKeyRotation, GetKeyRotationStatus,
//! RotateKeyOnDemand, ListKeyRotations, and the rotation step itself.
//! See <https://docs.aws.amazon.com/kms/latest/developerguide/rotate-keys.html>.
//!
//! Rotation adds a new material and never removes one, so every ciphertext
//! made before still decrypts. On-demand rotation completes synchronously
//! here (AWS completes it in the background; clients cannot tell, except
//! that `OnDemandRotationStartDate` is never reported).

use crate::authz::Ask;
use crate::ids::Accepts;
use crate::key::{Key, RotationType, DEFAULT_ROTATION_PERIOD_DAYS};
use crate::ops::check_key_id;
use crate::paging::{decode_marker, limit, page};
use crate::state::{KeyOperation, KeyState};
use crate::validate::Violations;
use crate::KmsOperation;
use crate::{
    Caller, KeyRotationStatus, Kms, KmsError, Page, PageRequest, RotationListEntry, DAY_MS,
};

const MIN_ROTATION_PERIOD_DAYS: i64 = 90;
const MAX_ROTATION_PERIOD_DAYS: i64 = 2560;
/// AWS: at most 25 on-demand rotations per key, not adjustable.
pub const MAX_ON_DEMAND_ROTATIONS: u32 = 25;

impl Kms {
    pub fn enable_key_rotation(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        rotation_period_in_days: Option<i64>,
    ) -> Result<(), KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.range(
            "rotationPeriodInDays",
            rotation_period_in_days,
            MIN_ROTATION_PERIOD_DAYS,
            MAX_ROTATION_PERIOD_DAYS,
        );
        v.finish()?;
        let period = rotation_period_in_days
            .and_then(|d| u32::try_from(d).ok())
            .unwrap_or(DEFAULT_ROTATION_PERIOD_DAYS);
        self.update_key(
            caller,
            key_id.as_deref().unwrap_or_default(),
            KeyOperation::Rotation,
            Ask::new(KmsOperation::EnableKeyRotation)
                .with("kms:RotationPeriodInDays", i64::from(period)),
            |key, now| {
                // First enable: the period starts now. Changing the period of an
                // enabled key counts it from the current material's creation, and
                // a date already passed rotates at the next background run.
                let next = if key.rotation.enabled {
                    key.current_material()?
                        .created_ms
                        .saturating_add(i64::from(period) * DAY_MS)
                } else {
                    now.saturating_add(i64::from(period) * DAY_MS)
                };
                key.rotation.enabled = true;
                key.rotation.period_days = period;
                key.rotation.next_rotation_ms = Some(next);
                Ok(())
            },
        )
    }

    pub fn disable_key_rotation(
        &self,
        caller: &Caller,
        key_id: Option<String>,
    ) -> Result<(), KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.finish()?;
        self.update_key(
            caller,
            key_id.as_deref().unwrap_or_default(),
            KeyOperation::Rotation,
            Ask::new(KmsOperation::DisableKeyRotation),
            |key, _| {
                key.rotation.enabled = false;
                key.rotation.next_rotation_ms = None;
                Ok(())
            },
        )
    }

    pub fn get_key_rotation_status(
        &self,
        caller: &Caller,
        key_id: Option<String>,
    ) -> Result<KeyRotationStatus, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.finish()?;
        let key = self.resolve_for(
            caller,
            key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            KeyOperation::ReadOrDetach,
            Ask::new(KmsOperation::GetKeyRotationStatus),
        )?;
        // AWS reads `false` while a key is pending deletion; CancelKeyDeletion restores it.
        let enabled =
            key.rotation.enabled && !matches!(key.state, KeyState::PendingDeletion { .. });
        Ok(KeyRotationStatus {
            key_id: key.key_id.clone(),
            enabled,
            rotation_period_in_days: enabled.then_some(key.rotation.period_days),
            next_rotation_date_ms: if enabled {
                key.rotation.next_rotation_ms
            } else {
                None
            },
        })
    }

    /// Returns the key's ARN, which AWS answers as `KeyId` (LocalStack's
    /// AWS-validated `test_rotate_on_demand_returns_arn_for_key_id`).
    pub fn rotate_key_on_demand(
        &self,
        caller: &Caller,
        key_id: Option<String>,
    ) -> Result<String, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.finish()?;
        let mut rotated_id = String::new();
        self.update_key(caller, key_id.as_deref().unwrap_or_default(), KeyOperation::Rotation, Ask::new(KmsOperation::RotateKeyOnDemand), |key, now| {
            if key.on_demand_rotations >= MAX_ON_DEMAND_ROTATIONS {
                return Err(KmsError::LimitExceeded(format!(
                    "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}",
                    key.arn
                )));
            }
            self.add_material(key, RotationType::OnDemand, now)?;
            key.on_demand_rotations += 1;
            rotated_id = key.arn.clone();
            Ok(())
        })?;
        Ok(rotated_id)
    }

    /// Appends new current material. Automatic rotation also moves the schedule;
    /// on-demand rotation does not (AWS keeps the automatic date).
    pub(crate) fn add_material(
        &self,
        key: &mut Key,
        rotation: RotationType,
        now: i64,
    ) -> Result<(), KmsError> {
        let material = self.new_material(&key.key_id, Some(rotation), now)?;
        key.materials.push(material);
        if rotation == RotationType::Automatic {
            key.rotation.next_rotation_ms =
                Some(now.saturating_add(i64::from(key.rotation.period_days) * DAY_MS));
        }
        Ok(())
    }

    pub fn list_key_rotations(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        include_key_material: Option<String>,
        request: PageRequest,
    ) -> Result<Page<RotationListEntry>, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.one_of(
            "includeKeyMaterial",
            include_key_material.as_deref(),
            &["ALL_KEY_MATERIAL", "ROTATIONS_ONLY"],
        );
        let limit = limit(&request, 100, 1000, &mut v);
        v.finish()?;
        let start = decode_marker(&request)?;
        let key = self.resolve_for(
            caller,
            key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            KeyOperation::ReadOrDetach,
            Ask::new(KmsOperation::ListKeyRotations),
        )?;
        let all = include_key_material.as_deref() == Some("ALL_KEY_MATERIAL");
        let last = key.materials.len().saturating_sub(1);
        let entries: Vec<(usize, RotationListEntry)> = key
            .materials
            .iter()
            .enumerate()
            .filter(|(_, m)| all || m.rotation.is_some())
            .map(|(i, m)| {
                (
                    i,
                    RotationListEntry {
                        key_id: key.key_id.clone(),
                        key_material_id: m.id.to_hex(),
                        key_material_state: if i == last { "CURRENT" } else { "NON_CURRENT" },
                        rotation_date_ms: m.rotation.map(|_| m.created_ms),
                        rotation_type: m.rotation.map(|r| r.name()),
                    },
                )
            })
            .collect();
        // Sort key: the material's position, zero-padded so text order is numeric order.
        let paged = page(entries, start.as_deref(), limit, |(i, _)| format!("{i:08}"));
        Ok(Page {
            items: paged.items.into_iter().map(|(_, e)| e).collect(),
            next_marker: paged.next_marker,
        })
    }
}
