//! Work that falls due with time: deleting keys whose waiting period has
//! passed (with their material, aliases and grants) and rotating keys whose
//! rotation date has come. The server runs it periodically; dev servers and
//! tests run it right after moving the clock.

use crate::key::RotationType;
use crate::service::Change;
use crate::state::KeyState;
use crate::{Kms, KmsError};

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DueWork {
    pub deleted_keys: Vec<String>,
    pub rotated_keys: Vec<String>,
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
                        done.deleted_keys.push(key.key_id.clone());
                        forgotten.push(key.clone());
                    }
                    KeyState::Enabled
                        if key.rotation.enabled
                            && key.rotation.next_rotation_ms.is_some_and(|t| t <= now) =>
                    {
                        let mut rotated = (**key).clone();
                        self.add_material(&mut rotated, RotationType::Automatic, now)?;
                        changes.push(Change::PutKey(rotated));
                        done.rotated_keys.push(key.key_id.clone());
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
        done.deleted_keys.sort();
        done.rotated_keys.sort();
        Ok(done)
    }
}
