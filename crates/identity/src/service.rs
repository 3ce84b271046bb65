//! The `Identities` service: accounts, users, roles, access keys and inline
//! policies in memory, written through to the store.
//!
//! Same discipline as `keyward_principal::Kms`: readers take a short read lock;
//! every change runs under one writer mutex, is applied to the store in one
//! durable transaction, and only then published in memory. A change is
//! therefore visible (to authentication included) only once it is on disk.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard};

use keyward_crypto::RootKey;
use keyward_policy::{Policy, PolicyKind};
use keyward_principal::Clock;
use keyward_store::{AccessKeyRow, AccountRow, DocumentRow, Mutation, Snapshot, Store};
use zeroize::Zeroizing;

use crate::documents::PARSE_LIMIT_BYTES;
use crate::error::{IdentityError, InternalError};
use crate::model::{AccessKey, InlinePolicy, KeyOwner, Role, User};
use crate::names::{access_key_secret_label, role_arn, user_arn};
use crate::records::{
    entity_id, policy_id, InlinePolicyDoc, RoleDoc, UserDoc, KIND_ROLE, KIND_ROLE_POLICY,
    KIND_USER, KIND_USER_POLICY,
};

/// (account id, lower-case name).
pub(crate) type EntityKey = (String, String);
/// (account id, lower-case owner name, policy name).
pub(crate) type PolicyKey = (String, String, String);

#[derive(Default)]
pub(crate) struct State {
    /// Account id → creation time.
    pub accounts: BTreeMap<String, i64>,
    pub users: BTreeMap<EntityKey, Arc<User>>,
    pub roles: BTreeMap<EntityKey, Arc<Role>>,
    pub access_keys: HashMap<String, Arc<AccessKey>>,
    pub user_policies: BTreeMap<PolicyKey, Arc<InlinePolicy>>,
    pub role_policies: BTreeMap<PolicyKey, Arc<InlinePolicy>>,
}

/// A change to publish once the store accepted it.
pub(crate) enum Change {
    PutAccount {
        account_id: String,
        created_ms: i64,
    },
    PutUser(User),
    DeleteUser(EntityKey),
    PutRole(Role),
    DeleteRole(EntityKey),
    PutAccessKey(AccessKey),
    DeleteAccessKey(String),
    PutUserPolicy {
        account_id: String,
        owner: String,
        policy: InlinePolicy,
    },
    DeleteUserPolicy(PolicyKey),
    PutRolePolicy {
        account_id: String,
        owner: String,
        policy: InlinePolicy,
    },
    DeleteRolePolicy(PolicyKey),
}

/// The identity domain. Share it as `Arc<Identities>`: the server resolves
/// credentials with it, and it is the KMS's [`keyward_principal::PrincipalDirectory`].
pub struct Identities {
    store: Arc<dyn Store>,
    root_key: RootKey,
    clock: Arc<Clock>,
    default_account_id: String,
    state: RwLock<State>,
    writer: Mutex<()>,
}

fn record_error(what: String) -> impl FnOnce(serde_json::Error) -> IdentityError {
    move |source| IdentityError::Internal(InternalError::Record { what, source })
}

impl Identities {
    /// Builds the domain from `snapshot`, everything `store` holds.
    /// `default_account_id` is the bootstrap account, the only one whose root
    /// may create accounts.
    pub fn open(
        store: Arc<dyn Store>,
        snapshot: &Snapshot,
        root_key: RootKey,
        clock: Arc<Clock>,
        default_account_id: &str,
    ) -> Result<Identities, IdentityError> {
        let mut state = State::default();
        for row in &snapshot.accounts {
            state
                .accounts
                .insert(row.account_id.clone(), row.created_ms);
        }
        for doc in &snapshot.documents {
            let what = format!("{} {}", doc.kind, doc.id);
            match doc.kind.as_str() {
                KIND_USER => {
                    let d: UserDoc = serde_json::from_str(&doc.doc).map_err(record_error(what))?;
                    let user = User {
                        arn: user_arn(&d.account_id, &d.path, &d.name),
                        account_id: d.account_id,
                        name: d.name,
                        path: d.path,
                        user_id: d.user_id,
                        created_ms: d.created_ms,
                    };
                    state.users.insert(
                        (user.account_id.clone(), user.name.to_lowercase()),
                        Arc::new(user),
                    );
                }
                KIND_ROLE => {
                    let d: RoleDoc = serde_json::from_str(&doc.doc).map_err(record_error(what))?;
                    let trust_policy = crate::trust::parse_trust_policy(&d.trust_policy)
                        .map(Arc::new)
                        .map_err(|e| {
                            IdentityError::Internal(InternalError::Inconsistent(format!(
                                "the trust policy of role {} no longer parses: {e}",
                                d.name
                            )))
                        })?;
                    let role = Role {
                        arn: role_arn(&d.account_id, &d.path, &d.name),
                        account_id: d.account_id,
                        name: d.name,
                        path: d.path,
                        role_id: d.role_id,
                        created_ms: d.created_ms,
                        trust_policy_text: d.trust_policy,
                        trust_policy,
                        description: d.description,
                        max_session_duration: d.max_session_duration,
                    };
                    state.roles.insert(
                        (role.account_id.clone(), role.name.to_lowercase()),
                        Arc::new(role),
                    );
                }
                KIND_USER_POLICY | KIND_ROLE_POLICY => {
                    let d: InlinePolicyDoc =
                        serde_json::from_str(&doc.doc).map_err(record_error(what))?;
                    let policy = InlinePolicy {
                        policy: stored_policy(&d.document, PolicyKind::Identity)?,
                        name: d.name,
                        text: d.document,
                    };
                    let key = (d.account_id, d.owner.to_lowercase(), policy.name.clone());
                    let map = if doc.kind == KIND_USER_POLICY {
                        &mut state.user_policies
                    } else {
                        &mut state.role_policies
                    };
                    map.insert(key, Arc::new(policy));
                }
                _ => {}
            }
        }
        for row in &snapshot.access_keys {
            let key = access_key_from_row(&root_key, &state, row)?;
            state
                .access_keys
                .insert(key.access_key_id.clone(), Arc::new(key));
        }
        Ok(Identities {
            store,
            root_key,
            clock,
            default_account_id: default_account_id.to_string(),
            state: RwLock::new(state),
            writer: Mutex::new(()),
        })
    }

    /// The bootstrap account.
    pub fn default_account_id(&self) -> &str {
        &self.default_account_id
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub(crate) fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub(crate) fn root_key(&self) -> &RootKey {
        &self.root_key
    }

    pub(crate) fn read(&self) -> RwLockReadGuard<'_, State> {
        // Publishing is a handful of map inserts; a poisoned lock still holds
        // a consistent state.
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The policies of one owner, by a range scan: this runs on every
    /// request of a user or role session, so it must not walk all policies.
    pub(crate) fn owner_policies(
        policies: &BTreeMap<PolicyKey, Arc<InlinePolicy>>,
        account_id: &str,
        owner_lowercase: &str,
    ) -> Vec<Arc<Policy>> {
        let start = (
            account_id.to_string(),
            owner_lowercase.to_string(),
            String::new(),
        );
        policies
            .range(start..)
            .take_while(|((account, owner, _), _)| {
                account == account_id && owner == owner_lowercase
            })
            .map(|(_, p)| Arc::clone(&p.policy))
            .collect()
    }

    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, ()> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes `changes` durable, then visible. Call with the writer lock held.
    pub(crate) fn commit(
        &self,
        _writer: &MutexGuard<'_, ()>,
        changes: Vec<Change>,
    ) -> Result<(), IdentityError> {
        let mut mutations = Vec::with_capacity(changes.len());
        for change in &changes {
            mutations.push(mutation(change)?);
        }
        self.store.apply(&mutations).map_err(IdentityError::store)?;
        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        for change in changes {
            match change {
                Change::PutAccount {
                    account_id,
                    created_ms,
                } => {
                    state.accounts.insert(account_id, created_ms);
                }
                Change::PutUser(user) => {
                    state.users.insert(
                        (user.account_id.clone(), user.name.to_lowercase()),
                        Arc::new(user),
                    );
                }
                Change::DeleteUser(key) => {
                    state.users.remove(&key);
                }
                Change::PutRole(role) => {
                    state.roles.insert(
                        (role.account_id.clone(), role.name.to_lowercase()),
                        Arc::new(role),
                    );
                }
                Change::DeleteRole(key) => {
                    state.roles.remove(&key);
                }
                Change::PutAccessKey(key) => {
                    state
                        .access_keys
                        .insert(key.access_key_id.clone(), Arc::new(key));
                }
                Change::DeleteAccessKey(id) => {
                    state.access_keys.remove(&id);
                }
                Change::PutUserPolicy {
                    account_id,
                    owner,
                    policy,
                } => {
                    state.user_policies.insert(
                        (account_id, owner.to_lowercase(), policy.name.clone()),
                        Arc::new(policy),
                    );
                }
                Change::DeleteUserPolicy(key) => {
                    state.user_policies.remove(&key);
                }
                Change::PutRolePolicy {
                    account_id,
                    owner,
                    policy,
                } => {
                    state.role_policies.insert(
                        (account_id, owner.to_lowercase(), policy.name.clone()),
                        Arc::new(policy),
                    );
                }
                Change::DeleteRolePolicy(key) => {
                    state.role_policies.remove(&key);
                }
            }
        }
        Ok(())
    }

    /// Wraps a new access key's secret for storage.
    pub(crate) fn wrap_secret(
        &self,
        access_key_id: &str,
        secret: &Zeroizing<String>,
    ) -> Result<Vec<u8>, IdentityError> {
        self.root_key
            .wrap_bytes(secret.as_bytes(), &access_key_secret_label(access_key_id))
            .map_err(IdentityError::crypto)
    }
}

fn stored_policy(text: &str, kind: PolicyKind) -> Result<Arc<Policy>, IdentityError> {
    Policy::parse(text, kind, PARSE_LIMIT_BYTES)
        .map(Arc::new)
        .map_err(|e| {
            IdentityError::Internal(InternalError::Inconsistent(format!(
                "a stored policy no longer parses: {e}"
            )))
        })
}

fn access_key_from_row(
    root_key: &RootKey,
    state: &State,
    row: &AccessKeyRow,
) -> Result<AccessKey, IdentityError> {
    let secret = root_key
        .unwrap_bytes(
            &row.wrapped_secret,
            &access_key_secret_label(&row.access_key_id),
        )
        .map_err(IdentityError::crypto)?;
    let text = std::str::from_utf8(secret.expose()).map_err(|_| {
        IdentityError::Internal(InternalError::Inconsistent(format!(
            "the secret of access key {} is not text",
            row.access_key_id
        )))
    })?;
    let owner = if row.principal_arn.ends_with(":root") {
        KeyOwner::Root
    } else {
        let user = state
            .users
            .values()
            .find(|u| u.arn == row.principal_arn)
            .ok_or_else(|| {
                IdentityError::Internal(InternalError::Inconsistent(format!(
                    "access key {} belongs to {}, which does not exist",
                    row.access_key_id, row.principal_arn
                )))
            })?;
        KeyOwner::User(user.name.to_lowercase())
    };
    Ok(AccessKey {
        access_key_id: row.access_key_id.clone(),
        account_id: row.account_id.clone(),
        owner,
        principal_arn: row.principal_arn.clone(),
        secret: Arc::new(Zeroizing::new(text.to_string())),
        wrapped_secret: row.wrapped_secret.clone(),
        active: row.status == "Active",
        created_ms: row.created_ms,
    })
}

fn document<T: serde::Serialize>(
    kind: &str,
    id: String,
    doc: &T,
) -> Result<Mutation, IdentityError> {
    let text = serde_json::to_string(doc).map_err(record_error(format!("{kind} {id}")))?;
    Ok(Mutation::PutDocument(DocumentRow {
        kind: kind.to_string(),
        id,
        doc: text,
    }))
}

fn mutation(change: &Change) -> Result<Mutation, IdentityError> {
    Ok(match change {
        Change::PutAccount {
            account_id,
            created_ms,
        } => Mutation::PutAccount(AccountRow {
            account_id: account_id.clone(),
            created_ms: *created_ms,
        }),
        Change::PutUser(user) => document(
            KIND_USER,
            entity_id(&user.account_id, &user.name),
            &UserDoc {
                account_id: user.account_id.clone(),
                name: user.name.clone(),
                path: user.path.clone(),
                user_id: user.user_id.clone(),
                created_ms: user.created_ms,
            },
        )?,
        Change::DeleteUser((account_id, name)) => Mutation::DeleteDocument {
            kind: KIND_USER.into(),
            id: entity_id(account_id, name),
        },
        Change::PutRole(role) => document(
            KIND_ROLE,
            entity_id(&role.account_id, &role.name),
            &RoleDoc {
                account_id: role.account_id.clone(),
                name: role.name.clone(),
                path: role.path.clone(),
                role_id: role.role_id.clone(),
                created_ms: role.created_ms,
                trust_policy: role.trust_policy_text.clone(),
                description: role.description.clone(),
                max_session_duration: role.max_session_duration,
            },
        )?,
        Change::DeleteRole((account_id, name)) => Mutation::DeleteDocument {
            kind: KIND_ROLE.into(),
            id: entity_id(account_id, name),
        },
        Change::PutAccessKey(key) => Mutation::PutAccessKey(AccessKeyRow {
            access_key_id: key.access_key_id.clone(),
            account_id: key.account_id.clone(),
            principal_arn: key.principal_arn.clone(),
            wrapped_secret: key.wrapped_secret.clone(),
            status: if key.active { "Active" } else { "Inactive" }.into(),
            created_ms: key.created_ms,
        }),
        Change::DeleteAccessKey(id) => Mutation::DeleteAccessKey {
            access_key_id: id.clone(),
        },
        Change::PutUserPolicy {
            account_id,
            owner,
            policy,
        }
        | Change::PutRolePolicy {
            account_id,
            owner,
            policy,
        } => {
            let kind = if matches!(change, Change::PutUserPolicy { .. }) {
                KIND_USER_POLICY
            } else {
                KIND_ROLE_POLICY
            };
            document(
                kind,
                policy_id(account_id, owner, &policy.name),
                &InlinePolicyDoc {
                    account_id: account_id.clone(),
                    owner: owner.clone(),
                    name: policy.name.clone(),
                    document: policy.text.clone(),
                },
            )?
        }
        Change::DeleteUserPolicy((account_id, owner, name)) => Mutation::DeleteDocument {
            kind: KIND_USER_POLICY.into(),
            id: policy_id(account_id, owner, name),
        },
        Change::DeleteRolePolicy((account_id, owner, name)) => Mutation::DeleteDocument {
            kind: KIND_ROLE_POLICY.into(),
            id: policy_id(account_id, owner, name),
        },
    })
}
