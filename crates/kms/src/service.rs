//! The `Kms` service: in-memory state written through to the store.
//!
//! Concurrency: readers take a short read lock to clone an `Arc<Key>`.
//! Every change runs under one writer mutex: compute the new values from the
//! current state, apply them to the store in one durable transaction, then
//! publish them in memory. A change is therefore visible only once it is on
//! disk, and a failed store write changes nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use keyward_crypto::{unwrap_key_material, KeyMaterial, MaterialId, RootKey};
use keyward_store::{AliasRow, Mutation, Snapshot, Store};

use crate::ids::{parse_key_ref, Accepts, KeyRef};
use crate::key::Key;
use crate::state::KeyOperation;
use crate::{Caller, Clock, InternalError, KmsError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Alias {
    pub account_id: String,
    pub alias_name: String,
    pub target_key_id: String,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl Alias {
    fn to_row(&self) -> AliasRow {
        AliasRow {
            account_id: self.account_id.clone(),
            alias_name: self.alias_name.clone(),
            target_key_id: self.target_key_id.clone(),
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
        }
    }
}

#[derive(Default)]
pub(crate) struct State {
    pub keys: HashMap<String, Arc<Key>>,
    /// By (account id, alias name).
    pub aliases: HashMap<(String, String), Alias>,
}

/// A change to publish after the store accepted it.
pub(crate) enum Change {
    PutKey(Key),
    DeleteKey(String),
    PutAlias(Alias),
    DeleteAlias {
        account_id: String,
        alias_name: String,
    },
}

pub struct Kms {
    store: Arc<dyn Store>,
    root_key: RootKey,
    pub(crate) region: String,
    pub(crate) clock: Arc<Clock>,
    state: RwLock<State>,
    writer: Mutex<()>,
    /// Unwrapped materials by id. Materials never change once created.
    materials: RwLock<HashMap<MaterialId, Arc<KeyMaterial>>>,
}

impl Kms {
    /// Builds the service from `snapshot`, everything `store` holds.
    pub fn open(
        store: Arc<dyn Store>,
        snapshot: &Snapshot,
        root_key: RootKey,
        region: &str,
        clock: Arc<Clock>,
    ) -> Result<Kms, KmsError> {
        let mut state = State::default();
        for row in &snapshot.keys {
            let key = Key::from_row(row)?;
            state.keys.insert(key.key_id.clone(), Arc::new(key));
        }
        for row in &snapshot.aliases {
            state.aliases.insert(
                (row.account_id.clone(), row.alias_name.clone()),
                Alias {
                    account_id: row.account_id.clone(),
                    alias_name: row.alias_name.clone(),
                    target_key_id: row.target_key_id.clone(),
                    created_ms: row.created_ms,
                    updated_ms: row.updated_ms,
                },
            );
        }
        Ok(Kms {
            store,
            root_key,
            region: region.to_string(),
            clock,
            state: RwLock::new(state),
            writer: Mutex::new(()),
            materials: RwLock::new(HashMap::new()),
        })
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn root_key(&self) -> &RootKey {
        &self.root_key
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        // Publishing is a handful of map inserts that cannot panic halfway
        // through in a way that breaks an invariant, so a poisoned lock is usable.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes `changes` durable, then visible. Call with the writer lock held.
    pub(crate) fn commit(
        &self,
        _writer: &MutexGuard<'_, ()>,
        changes: Vec<Change>,
    ) -> Result<(), KmsError> {
        let mutations: Vec<Mutation> = changes
            .iter()
            .map(|change| match change {
                Change::PutKey(key) => Mutation::PutKey(Box::new(key.to_row())),
                Change::DeleteKey(key_id) => Mutation::DeleteKey {
                    key_id: key_id.clone(),
                },
                Change::PutAlias(alias) => Mutation::PutAlias(alias.to_row()),
                Change::DeleteAlias {
                    account_id,
                    alias_name,
                } => Mutation::DeleteAlias {
                    account_id: account_id.clone(),
                    alias_name: alias_name.clone(),
                },
            })
            .collect();
        self.store.apply(&mutations).map_err(KmsError::store)?;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        for change in changes {
            match change {
                Change::PutKey(key) => {
                    state.keys.insert(key.key_id.clone(), Arc::new(key));
                }
                Change::DeleteKey(key_id) => {
                    state.keys.remove(&key_id);
                }
                Change::PutAlias(alias) => {
                    state
                        .aliases
                        .insert((alias.account_id.clone(), alias.alias_name.clone()), alias);
                }
                Change::DeleteAlias {
                    account_id,
                    alias_name,
                } => {
                    state.aliases.remove(&(account_id, alias_name));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn key_arn(&self, account_id: &str, key_id: &str) -> String {
        crate::ids::key_arn(&self.region, account_id, key_id)
    }

    fn not_found(&self, account_id: &str, key_id: &str) -> KmsError {
        KmsError::NotFound(format!(
            "Key '{}' does not exist",
            self.key_arn(account_id, key_id)
        ))
    }

    /// Resolves a `KeyId` member to a key of the caller's account.
    /// Cross-account use arrives with key policies (issue 3); until then a
    /// key of another account is reported as not existing.
    pub(crate) fn resolve(
        &self,
        caller: &Caller,
        key_id: &str,
        accepts: Accepts,
    ) -> Result<Arc<Key>, KmsError> {
        let reference = parse_key_ref(key_id, &self.region, accepts)?;
        let state = self.read();
        let (account_id, key_id) = match reference {
            KeyRef::KeyId(id) => (caller.account_id.clone(), id),
            KeyRef::KeyArn { account_id, key_id } => (account_id, key_id),
            KeyRef::AliasName(name) => self.alias_target(&state, &caller.account_id, &name)?,
            KeyRef::AliasArn {
                account_id,
                alias_name,
            } => self.alias_target(&state, &account_id, &alias_name)?,
        };
        match state.keys.get(&key_id) {
            Some(key) if key.account_id == account_id && account_id == caller.account_id => {
                Ok(Arc::clone(key))
            }
            _ => Err(self.not_found(&account_id, &key_id)),
        }
    }

    fn alias_target(
        &self,
        state: &State,
        account_id: &str,
        alias_name: &str,
    ) -> Result<(String, String), KmsError> {
        state
            .aliases
            .get(&(account_id.to_string(), alias_name.to_string()))
            .map(|a| (account_id.to_string(), a.target_key_id.clone()))
            .ok_or_else(|| {
                KmsError::NotFound(format!(
                    "Alias {} is not found.",
                    crate::ids::alias_arn(&self.region, account_id, alias_name)
                ))
            })
    }

    /// Resolves and checks the key state for `operation` in one step.
    pub(crate) fn resolve_for(
        &self,
        caller: &Caller,
        key_id: &str,
        accepts: Accepts,
        operation: KeyOperation,
    ) -> Result<Arc<Key>, KmsError> {
        let key = self.resolve(caller, key_id, accepts)?;
        key.state.allows(operation, &key.arn)?;
        Ok(key)
    }

    /// The unwrapped material `material_id` of `key`, cached after first use.
    pub(crate) fn material(
        &self,
        key: &Key,
        material_id: &MaterialId,
    ) -> Result<Arc<KeyMaterial>, KmsError> {
        if let Some(m) = self
            .materials
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(material_id)
        {
            return Ok(Arc::clone(m));
        }
        let stored = key.material(material_id).ok_or_else(|| {
            InternalError::Inconsistent(format!("key {} lacks material {material_id}", key.key_id))
        })?;
        let material = unwrap_key_material(
            &self.root_key,
            &stored.wrapped,
            &Key::wrap_label(&key.key_id, material_id),
        )
        .map_err(KmsError::crypto)?;
        let material = Arc::new(material);
        self.materials
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(*material_id, Arc::clone(&material));
        Ok(material)
    }

    /// Forgets the unwrapped materials of a deleted key.
    pub(crate) fn forget_materials(&self, key: &Key) {
        let mut cache = self.materials.write().unwrap_or_else(|p| p.into_inner());
        for m in &key.materials {
            cache.remove(&m.id);
        }
    }

    /// Aliases that point at `key_id`, sorted by name.
    pub(crate) fn aliases_of(&self, state: &State, key_id: &str) -> Vec<Alias> {
        let mut aliases: Vec<Alias> = state
            .aliases
            .values()
            .filter(|a| a.target_key_id == key_id)
            .cloned()
            .collect();
        aliases.sort_by(|a, b| a.alias_name.cmp(&b.alias_name));
        aliases
    }
}
