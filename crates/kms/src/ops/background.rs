//! Work that falls due with time: deleting keys whose waiting period has
//! passed (with their material, aliases and grants) and rotating keys whose
//! rotation date has come. The server runs it periodically; dev servers and
//! tests run it right after moving the clock.

use crate::key::{Key, RotationType};
use crate::service::Change;
use crate::state::KeyState;
use crate::{Kms, KmsError};

/// What one run did, sorted by key id: what the server logs and records in
/// the audit trail as `DeleteKey` and `RotateKey` service events.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DueWork {
    pub deleted_keys: Vec<DueKey>,
    pub rotated_keys: Vec<DueKey>,
}

/// A key that due work deleted or rotated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueKey {
    pub key_id: String,
    pub arn: String,
    pub account_id: String,
    /// The new current material of a rotated key (hex, as `KeyMaterialId`).
    pub key_material_id: Option<String>,
}

impl DueKey {
    fn of(key: &Key, key_material_id: Option<String>) -> Self {
        DueKey {
            key_id: key.key_id.clone(),
            arn: key.arn.clone(),
            account_id: key.account_id.clone(),
            key_material_id,
        }
    }
}

impl Kms {
    pub fn run_due_work(&self) -> Result<DueWork, KmsError> {
        let writer = self.lock_writer();
        let now = self.clock.now_ms();
        let mut done = DueWork::default();
        let mut changes = Vec::new();
        let mut forgotten = Vec::new();
        {
            let state = self.read();
            for key in state.keys.values() {
                match key.state {
                    KeyState::PendingDeletion {
                        deletion_date_ms, ..
                    } if deletion_date_ms <= now => {
                        for alias_name in state
                            .alias_names_by_key
                            .get(&key.key_id)
                            .into_iter()
                            .flatten()
                        {
                            changes.push(Change::DeleteAlias {
                                account_id: key.account_id.clone(),
                                alias_name: alias_name.clone(),
                            });
                        }
                        // A key's grants go with it.
                        for grant in state.grants_by_key.get(&key.key_id).into_iter().flatten() {
                            changes.push(Change::DeleteGrant(grant.grant_id.clone()));
                        }
                        changes.push(Change::DeleteKey(key.key_id.clone()));
                        done.deleted_keys.push(DueKey::of(key, None));
                        forgotten.push(key.clone());
                    }
                    KeyState::Enabled
                        if key.rotation.enabled
                            && key.rotation.next_rotation_ms.is_some_and(|t| t <= now) =>
                    {
                        let mut rotated = (**key).clone();
                        self.add_material(&mut rotated, RotationType::Automatic, now)?;
                        let material = rotated.current_material()?.id.to_hex();
                        done.rotated_keys.push(DueKey::of(&rotated, Some(material)));
                        changes.push(Change::PutKey(rotated));
                    }
                    _ => {}
                }
            }
        }
        if !changes.is_empty() {
            self.commit(&writer, changes)?;
        }
        for key in forgotten {
            self.forget_materials(&key);
        }
        done.deleted_keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        done.rotated_keys.sort_by(|a, b| a.key_id.cmp(&b.key_id));
        Ok(done)
    }
}
