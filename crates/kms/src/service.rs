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
use keyward_store::{AliasRow, DocumentRow, Mutation, Snapshot, Store};

use crate::authz::Ask;
use crate::grants::{Grant, GRANT_DOCUMENT};
use crate::ids::{parse_key_ref, Accepts, KeyRef};
use crate::key::Key;
use crate::state::KeyOperation;
use keyward_principal::AnyPrincipal;

use crate::{Caller, Clock, InternalError, KmsError, PrincipalDirectory};

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
    /// Alias names by target key id, sorted: `kms:ResourceAliases` is on
    /// the hot path, so it must not scan every alias.
    pub alias_names_by_key: HashMap<String, Vec<String>>,
    /// Grants by grant id, and the same grants by key id.
    pub grants: HashMap<String, Arc<Grant>>,
    pub grants_by_key: HashMap<String, Vec<Arc<Grant>>>,
}

impl State {
    fn index_alias(&mut self, alias: &Alias) {
        let names = self
            .alias_names_by_key
            .entry(alias.target_key_id.clone())
            .or_default();
        if let Err(at) = names.binary_search(&alias.alias_name) {
            names.insert(at, alias.alias_name.clone());
        }
    }

    fn unindex_alias(&mut self, alias: &Alias) {
        if let Some(names) = self.alias_names_by_key.get_mut(&alias.target_key_id) {
            names.retain(|name| *name != alias.alias_name);
            if names.is_empty() {
                self.alias_names_by_key.remove(&alias.target_key_id);
            }
        }
    }

    fn put_alias(&mut self, alias: Alias) {
        let slot = (alias.account_id.clone(), alias.alias_name.clone());
        if let Some(old) = self.aliases.remove(&slot) {
            self.unindex_alias(&old);
        }
        self.index_alias(&alias);
        self.aliases.insert(slot, alias);
    }

    fn delete_alias(&mut self, account_id: String, alias_name: String) {
        if let Some(old) = self.aliases.remove(&(account_id, alias_name)) {
            self.unindex_alias(&old);
        }
    }

    fn put_grant(&mut self, grant: Grant) {
        let grant = Arc::new(grant);
        self.delete_grant(&grant.grant_id);
        self.grants_by_key
            .entry(grant.key_id.clone())
            .or_default()
            .push(Arc::clone(&grant));
        self.grants.insert(grant.grant_id.clone(), grant);
    }

    fn delete_grant(&mut self, grant_id: &str) {
        if let Some(old) = self.grants.remove(grant_id) {
            if let Some(list) = self.grants_by_key.get_mut(&old.key_id) {
                list.retain(|g| g.grant_id != grant_id);
                if list.is_empty() {
                    self.grants_by_key.remove(&old.key_id);
                }
            }
        }
    }
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
    PutGrant(Grant),
    DeleteGrant(String),
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
    /// Who exists, for principals named in key policies and grants.
    pub(crate) directory: Arc<dyn PrincipalDirectory>,
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
            state.put_alias(Alias {
                account_id: row.account_id.clone(),
                alias_name: row.alias_name.clone(),
                target_key_id: row.target_key_id.clone(),
                created_ms: row.created_ms,
                updated_ms: row.updated_ms,
            });
        }
        for row in snapshot
            .documents
            .iter()
            .filter(|d| d.kind == GRANT_DOCUMENT)
        {
            state.put_grant(Grant::from_document(&row.id, &row.doc)?);
        }
        Ok(Kms {
            store,
            root_key,
            region: region.to_string(),
            clock,
            state: RwLock::new(state),
            writer: Mutex::new(()),
            materials: RwLock::new(HashMap::new()),
            directory: Arc::new(AnyPrincipal),
        })
    }

    /// Uses `directory` to check that principals named in key policies and
    /// grants exist. Without one, every principal is taken to exist.
    #[must_use]
    pub fn with_directory(mut self, directory: Arc<dyn PrincipalDirectory>) -> Kms {
        self.directory = directory;
        self
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
        let mutations = changes
            .iter()
            .map(|change| -> Result<Mutation, KmsError> {
                Ok(match change {
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
                    Change::PutGrant(grant) => Mutation::PutDocument(DocumentRow {
                        kind: GRANT_DOCUMENT.into(),
                        id: grant.grant_id.clone(),
                        doc: grant.to_document()?,
                    }),
                    Change::DeleteGrant(grant_id) => Mutation::DeleteDocument {
                        kind: GRANT_DOCUMENT.into(),
                        id: grant_id.clone(),
                    },
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
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
                Change::PutAlias(alias) => state.put_alias(alias),
                Change::DeleteAlias {
                    account_id,
                    alias_name,
                } => state.delete_alias(account_id, alias_name),
                Change::PutGrant(grant) => state.put_grant(grant),
                Change::DeleteGrant(grant_id) => state.delete_grant(&grant_id),
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

    /// Resolves a `KeyId` member. A bare key ID or alias name is looked up
    /// in the caller's account; a key ARN or alias ARN of another account
    /// only when `cross_account` (the operation allows it: §2.10), and
    /// otherwise reads as a key that does not exist. Also returns the alias
    /// the request named, for `kms:RequestAlias`.
    pub(crate) fn resolve(
        &self,
        caller: &Caller,
        key_id: &str,
        accepts: Accepts,
        cross_account: bool,
    ) -> Result<(Arc<Key>, Option<String>), KmsError> {
        let reference = parse_key_ref(key_id, &self.region, accepts)?;
        let state = self.read();
        let (account_id, key_id, alias) = match reference {
            KeyRef::KeyId(id) => (caller.account_id().to_string(), id, None),
            KeyRef::KeyArn { account_id, key_id } => (account_id, key_id, None),
            KeyRef::AliasName(name) => {
                let (account, id) = self.alias_target(&state, caller.account_id(), &name)?;
                (account, id, Some(name))
            }
            KeyRef::AliasArn {
                account_id,
                alias_name,
            } => {
                if account_id != caller.account_id() && !cross_account {
                    return Err(KmsError::NotFound(format!(
                        "Alias {} is not found.",
                        crate::ids::alias_arn(&self.region, &account_id, &alias_name)
                    )));
                }
                let (account, id) = self.alias_target(&state, &account_id, &alias_name)?;
                (account, id, Some(alias_name))
            }
        };
        match state.keys.get(&key_id) {
            Some(key)
                if key.account_id == account_id
                    && (account_id == *caller.account_id() || cross_account) =>
            {
                Ok((Arc::clone(key), alias))
            }
            _ => Err(self.not_found(&account_id, &key_id)),
        }
    }

    /// The key with id `key_id` in any account (the id a ciphertext names).
    pub(crate) fn key_by_id(&self, key_id: &str) -> Option<Arc<Key>> {
        self.read().keys.get(key_id).cloned()
    }

    /// Alias names of `key_id`, sorted (`kms:ResourceAliases`).
    pub(crate) fn alias_names_of(&self, key_id: &str) -> Vec<String> {
        self.read()
            .alias_names_by_key
            .get(key_id)
            .cloned()
            .unwrap_or_default()
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

    /// Resolves, authorizes `ask` and checks the key state for `operation`,
    /// in AWS's order.
    pub(crate) fn resolve_for(
        &self,
        caller: &Caller,
        key_id: &str,
        accepts: Accepts,
        operation: KeyOperation,
        ask: Ask,
    ) -> Result<Arc<Key>, KmsError> {
        let (key, alias) = self.resolve(caller, key_id, accepts, ask.allows_cross_account())?;
        let ask = match alias {
            Some(alias) => ask.with("kms:RequestAlias", alias),
            None => ask,
        };
        self.authorize(caller, &key, &ask)?;
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
}
