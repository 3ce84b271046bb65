//! The IAM operations on users, access keys and roles (inline policies are in
//! `policies.rs`), one method per AWS operation, with AWS's validation,
//! quotas and messages.
//!
//! Every operation authorizes first (`authorize.rs`: root may do anything in
//! its account, others need an identity policy) and only then looks the
//! entity up, as IAM does, so a caller without permission cannot probe which
//! names exist. Quotas and wording are IAM's
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>):
//! 5,000 users and 1,000 roles per account, 2 access keys per user, inline
//! policies of at most 2,048 (user, aggregate) and 10,240 (role, aggregate)
//! characters and trust policies of 2,048, white space not counted.

use std::collections::BTreeMap;
use std::sync::Arc;

use keyward_policy::{Policy, PrincipalName};
use keyward_principal::Caller;
use zeroize::Zeroizing;

use crate::authorize::authorize;
use crate::directory::principal_exists;
use crate::documents::check_policy_document;
use crate::error::IdentityError;
use crate::model::{AccessKey, AccessKeyMetadata, KeyOwner, NewAccessKey, Page, Role, User};
use crate::names::{
    access_key_id, check_name, check_path, role_arn, root_arn, secret_access_key, unique_id,
    user_arn, validation,
};
use crate::service::{Change, Identities, State};

pub const MAX_USERS_PER_ACCOUNT: usize = 5000;
pub const MAX_ROLES_PER_ACCOUNT: usize = 1000;
pub const MAX_ACCESS_KEYS_PER_USER: usize = 2;
pub const MAX_USER_POLICY_CHARS: usize = 2048;
pub const MAX_ROLE_POLICY_CHARS: usize = 10_240;
pub const MAX_TRUST_POLICY_CHARS: usize = 2048;
/// `policyDocumentType` in the IAM model: 1..131072 characters.
const DEFAULT_MAX_SESSION_DURATION: u32 = 3600;

/// Paging of the List operations: `MaxItems` 1..=1000, default 100.
#[derive(Debug, Clone, Default)]
pub struct ListRequest<'a> {
    pub path_prefix: Option<&'a str>,
    pub marker: Option<&'a str>,
    pub max_items: Option<i64>,
}

/// The user an access-key operation is about.
enum KeyTarget {
    Root,
    User(Arc<User>),
}

/// IAM counts policy size without white space.
pub(crate) fn policy_chars(text: &str) -> usize {
    text.chars().filter(|c| !c.is_whitespace()).count()
}

fn check_max_items(max_items: Option<i64>) -> Result<usize, IdentityError> {
    match max_items {
        None => Ok(100),
        Some(n) if n < 1 => Err(validation(
            &n.to_string(),
            "maxItems",
            "have value greater than or equal to 1",
        )),
        Some(n) if n > 1000 => Err(validation(
            &n.to_string(),
            "maxItems",
            "have value less than or equal to 1000",
        )),
        Some(n) => Ok(usize::try_from(n).unwrap_or(100)),
    }
}

/// One page of `items` (sorted by key), after `marker` (the last key of the
/// previous page; opaque to clients).
pub(crate) fn page<T: Clone>(
    items: impl Iterator<Item = (String, T)>,
    marker: Option<&str>,
    max_items: Option<i64>,
) -> Result<Page<T>, IdentityError> {
    let limit = check_max_items(max_items)?;
    let mut selected: Vec<(String, T)> = items
        .filter(|(key, _)| marker.is_none_or(|m| key.as_str() > m))
        .take(limit + 1)
        .collect();
    let marker = if selected.len() > limit {
        selected.truncate(limit);
        selected.last().map(|(key, _)| key.clone())
    } else {
        None
    };
    Ok(Page {
        items: selected.into_iter().map(|(_, item)| item).collect(),
        marker,
    })
}

pub(crate) fn no_such_user(name: &str) -> IdentityError {
    IdentityError::NoSuchEntity(format!("The user with name {name} cannot be found."))
}

pub(crate) fn no_such_role(name: &str) -> IdentityError {
    IdentityError::NoSuchEntity(format!("The role with name {name} cannot be found."))
}

fn no_such_key(access_key_id: &str) -> IdentityError {
    IdentityError::NoSuchEntity(format!(
        "The Access Key with id {access_key_id} cannot be found."
    ))
}

pub(crate) fn key_of(account_id: &str, name: &str) -> (String, String) {
    (account_id.to_string(), name.to_lowercase())
}

impl Identities {
    // ----- users -----------------------------------------------------------

    /// The ARN a request about user `name` is authorized against: the user's
    /// own when it exists, else the default-path ARN.
    pub(crate) fn user_resource(&self, state: &State, account_id: &str, name: &str) -> String {
        state
            .users
            .get(&key_of(account_id, name))
            .map(|u| u.arn.clone())
            .unwrap_or_else(|| user_arn(account_id, "/", name))
    }

    pub fn create_user(
        &self,
        caller: &Caller,
        user_name: &str,
        path: Option<&str>,
    ) -> Result<User, IdentityError> {
        check_name(user_name, "userName", 64)?;
        let path = path.unwrap_or("/");
        check_path(path)?;
        let account_id = &caller.account_id().to_string();
        let arn = user_arn(account_id, path, user_name);
        authorize(caller, "iam:CreateUser", &arn, self.now_ms())?;
        let writer = self.lock_writer();
        {
            let state = self.read();
            if state.users.contains_key(&key_of(account_id, user_name)) {
                return Err(IdentityError::EntityAlreadyExists(format!(
                    "User with name {user_name} already exists."
                )));
            }
            let n_users = state.users.keys().filter(|(a, _)| a == account_id).count();
            if n_users >= MAX_USERS_PER_ACCOUNT {
                return Err(IdentityError::LimitExceeded(format!(
                    "Cannot exceed quota for UsersPerAccount: {MAX_USERS_PER_ACCOUNT}"
                )));
            }
        }
        let user = User {
            account_id: account_id.clone(),
            name: user_name.to_string(),
            path: path.to_string(),
            user_id: unique_id("AIDA")?,
            arn,
            created_ms: self.now_ms(),
        };
        self.commit(&writer, vec![Change::PutUser(user.clone())])?;
        Ok(user)
    }

    /// GetUser; without a name, the calling user (the root user for root).
    pub fn get_user(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
    ) -> Result<User, IdentityError> {
        let name = match (user_name, caller.username()) {
            (Some(name), _) => name.to_string(),
            (None, Some(own)) => own.to_string(),
            (None, None) if caller.is_root() => {
                // AWS answers the root user's own GetUser with the account as UserId.
                let created_ms = self
                    .read()
                    .accounts
                    .get(caller.account_id())
                    .copied()
                    .unwrap_or_default();
                return Ok(User {
                    account_id: caller.account_id().to_string(),
                    name: String::new(),
                    path: "/".into(),
                    user_id: caller.account_id().to_string(),
                    arn: root_arn(caller.account_id()),
                    created_ms,
                });
            }
            (None, None) => {
                return Err(IdentityError::Validation(
                    "Must specify userName when calling with non-User credentials".into(),
                ))
            }
        };
        check_name(&name, "userName", 128)?;
        let resource = self.user_resource(&self.read(), caller.account_id(), &name);
        authorize(caller, "iam:GetUser", &resource, self.now_ms())?;
        self.read()
            .users
            .get(&key_of(caller.account_id(), &name))
            .map(|u| (**u).clone())
            .ok_or_else(|| no_such_user(&name))
    }

    pub fn list_users(
        &self,
        caller: &Caller,
        request: &ListRequest<'_>,
    ) -> Result<Page<User>, IdentityError> {
        let prefix = request.path_prefix.unwrap_or("/");
        authorize(
            caller,
            "iam:ListUsers",
            &format!("arn:aws:iam::{}:user/", caller.account_id()),
            self.now_ms(),
        )?;
        let state = self.read();
        page(
            state
                .users
                .iter()
                .filter(|((account, _), u)| {
                    *account == caller.account_id() && u.path.starts_with(prefix)
                })
                .map(|((_, name), u)| (name.clone(), (**u).clone())),
            request.marker,
            request.max_items,
        )
    }

    pub fn delete_user(&self, caller: &Caller, user_name: &str) -> Result<(), IdentityError> {
        check_name(user_name, "userName", 128)?;
        let account_id = &caller.account_id().to_string();
        let resource = self.user_resource(&self.read(), account_id, user_name);
        authorize(caller, "iam:DeleteUser", &resource, self.now_ms())?;
        let writer = self.lock_writer();
        let key = key_of(account_id, user_name);
        {
            let state = self.read();
            if !state.users.contains_key(&key) {
                return Err(no_such_user(user_name));
            }
            let owner = KeyOwner::User(key.1.clone());
            if state
                .access_keys
                .values()
                .any(|k| k.account_id == *account_id && k.owner == owner)
            {
                return Err(IdentityError::DeleteConflict(
                    "Cannot delete entity, must delete access keys first.".into(),
                ));
            }
            if state
                .user_policies
                .keys()
                .any(|(a, u, _)| *a == key.0 && *u == key.1)
            {
                return Err(IdentityError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
        }
        self.commit(&writer, vec![Change::DeleteUser(key)])
    }

    // ----- access keys -----------------------------------------------------

    /// Whose keys an access-key operation is about: the named user, or the
    /// caller itself (a user, or the root user) when no name is given.
    /// Authorizes `action` before reporting a missing user, as IAM does.
    fn authorized_key_target(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
        action: &str,
    ) -> Result<KeyTarget, IdentityError> {
        let name = match (user_name, caller.username()) {
            (Some(name), _) => name.to_string(),
            (None, Some(own)) => own.to_string(),
            (None, None) if caller.is_root() => {
                authorize(
                    caller,
                    action,
                    &root_arn(caller.account_id()),
                    self.now_ms(),
                )?;
                return Ok(KeyTarget::Root);
            }
            (None, None) => {
                return Err(IdentityError::Validation(
                    "Must specify userName when calling with non-User credentials".into(),
                ))
            }
        };
        check_name(&name, "userName", 128)?;
        let (user, resource) = {
            let state = self.read();
            (
                state
                    .users
                    .get(&key_of(caller.account_id(), &name))
                    .cloned(),
                self.user_resource(&state, caller.account_id(), &name),
            )
        };
        authorize(caller, action, &resource, self.now_ms())?;
        user.map(KeyTarget::User).ok_or_else(|| no_such_user(&name))
    }

    fn owner_of(target: &KeyTarget) -> KeyOwner {
        match target {
            KeyTarget::Root => KeyOwner::Root,
            KeyTarget::User(user) => KeyOwner::User(user.name.to_lowercase()),
        }
    }

    fn metadata(&self, state: &State, key: &AccessKey) -> AccessKeyMetadata {
        let user_name = match &key.owner {
            KeyOwner::Root => None,
            KeyOwner::User(lower) => state
                .users
                .get(&(key.account_id.clone(), lower.clone()))
                .map(|u| u.name.clone()),
        };
        AccessKeyMetadata {
            user_name,
            access_key_id: key.access_key_id.clone(),
            active: key.active,
            created_ms: key.created_ms,
        }
    }

    pub fn create_access_key(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
    ) -> Result<NewAccessKey, IdentityError> {
        let target = self.authorized_key_target(caller, user_name, "iam:CreateAccessKey")?;
        let owner = Self::owner_of(&target);
        let writer = self.lock_writer();
        let n_keys = self
            .read()
            .access_keys
            .values()
            .filter(|k| k.account_id == caller.account_id() && k.owner == owner)
            .count();
        if n_keys >= MAX_ACCESS_KEYS_PER_USER {
            return Err(IdentityError::LimitExceeded(format!(
                "Cannot exceed quota for AccessKeysPerUser: {MAX_ACCESS_KEYS_PER_USER}"
            )));
        }
        let id = access_key_id("AKIA")?;
        let secret = secret_access_key()?;
        let principal_arn = match &target {
            KeyTarget::Root => root_arn(caller.account_id()),
            KeyTarget::User(user) => user.arn.clone(),
        };
        let key = AccessKey {
            wrapped_secret: self.wrap_secret(&id, &secret)?,
            access_key_id: id,
            account_id: caller.account_id().to_string(),
            owner,
            principal_arn,
            secret: Arc::new(Zeroizing::new(secret.to_string())),
            active: true,
            created_ms: self.now_ms(),
        };
        let metadata = AccessKeyMetadata {
            user_name: match &target {
                KeyTarget::Root => None,
                KeyTarget::User(user) => Some(user.name.clone()),
            },
            access_key_id: key.access_key_id.clone(),
            active: true,
            created_ms: key.created_ms,
        };
        self.commit(&writer, vec![Change::PutAccessKey(key)])?;
        Ok(NewAccessKey {
            metadata,
            secret_access_key: secret,
        })
    }

    pub fn list_access_keys(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
        request: &ListRequest<'_>,
    ) -> Result<Page<AccessKeyMetadata>, IdentityError> {
        let target = self.authorized_key_target(caller, user_name, "iam:ListAccessKeys")?;
        let owner = Self::owner_of(&target);
        let state = self.read();
        let mut keys: BTreeMap<String, AccessKeyMetadata> = BTreeMap::new();
        for key in state.access_keys.values() {
            if key.account_id == caller.account_id() && key.owner == owner {
                keys.insert(key.access_key_id.clone(), self.metadata(&state, key));
            }
        }
        page(keys.into_iter(), request.marker, request.max_items)
    }

    /// The caller's target's key `access_key_id`, or NoSuchEntity.
    fn owned_key(
        &self,
        caller: &Caller,
        target: &KeyTarget,
        access_key_id: &str,
    ) -> Result<Arc<AccessKey>, IdentityError> {
        let owner = Self::owner_of(target);
        self.read()
            .access_keys
            .get(access_key_id)
            .filter(|k| k.account_id == caller.account_id() && k.owner == owner)
            .cloned()
            .ok_or_else(|| no_such_key(access_key_id))
    }

    fn check_access_key_id(access_key_id: &str) -> Result<(), IdentityError> {
        // accessKeyIdType: 16..128 characters of \w.
        let ok = (16..=128).contains(&access_key_id.len())
            && access_key_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_');
        if ok {
            Ok(())
        } else {
            Err(validation(
                access_key_id,
                "accessKeyId",
                r"satisfy regular expression pattern: [\w]+",
            ))
        }
    }

    /// UpdateAccessKey: `active` false makes the key unusable at once.
    pub fn update_access_key(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
        access_key_id: &str,
        active: bool,
    ) -> Result<(), IdentityError> {
        Self::check_access_key_id(access_key_id)?;
        let target = self.authorized_key_target(caller, user_name, "iam:UpdateAccessKey")?;
        let writer = self.lock_writer();
        let key = self.owned_key(caller, &target, access_key_id)?;
        let mut updated = (*key).clone();
        updated.active = active;
        self.commit(&writer, vec![Change::PutAccessKey(updated)])
    }

    pub fn delete_access_key(
        &self,
        caller: &Caller,
        user_name: Option<&str>,
        access_key_id: &str,
    ) -> Result<(), IdentityError> {
        Self::check_access_key_id(access_key_id)?;
        let target = self.authorized_key_target(caller, user_name, "iam:DeleteAccessKey")?;
        let writer = self.lock_writer();
        self.owned_key(caller, &target, access_key_id)?;
        self.commit(
            &writer,
            vec![Change::DeleteAccessKey(access_key_id.to_string())],
        )
    }

    // ----- roles -----------------------------------------------------------

    pub(crate) fn role_resource(&self, state: &State, account_id: &str, name: &str) -> String {
        state
            .roles
            .get(&key_of(account_id, name))
            .map(|r| r.arn.clone())
            .unwrap_or_else(|| role_arn(account_id, "/", name))
    }

    /// Parses a trust policy: size quota, syntax, and principals that exist.
    fn trust_policy(&self, text: &str) -> Result<Arc<Policy>, IdentityError> {
        check_policy_document(text, "assumeRolePolicyDocument")?;
        if policy_chars(text) > MAX_TRUST_POLICY_CHARS {
            return Err(IdentityError::LimitExceeded(format!(
                "Cannot exceed quota for ACLSizePerRole: {MAX_TRUST_POLICY_CHARS}"
            )));
        }
        let policy = crate::trust::parse_trust_policy(text)?;
        let state = self.read();
        for name in policy.named_principals() {
            if !principal_exists(&state, &name) {
                let shown = match &name {
                    PrincipalName::Arn(arn) => format!("\"AWS\":\"{arn}\""),
                    PrincipalName::Account(account) => format!("\"AWS\":\"{account}\""),
                    PrincipalName::Service(service) => format!("\"Service\":\"{service}\""),
                    PrincipalName::Federated(provider) => format!("\"Federated\":\"{provider}\""),
                    PrincipalName::Everyone => "\"AWS\":\"*\"".into(),
                };
                return Err(IdentityError::MalformedPolicyDocument(format!(
                    "Invalid principal in policy: {shown}"
                )));
            }
        }
        Ok(Arc::new(policy))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create_role(
        &self,
        caller: &Caller,
        role_name: &str,
        path: Option<&str>,
        trust_policy: &str,
        description: Option<&str>,
        max_session_duration: Option<i64>,
    ) -> Result<Role, IdentityError> {
        check_name(role_name, "roleName", 64)?;
        let path = path.unwrap_or("/");
        check_path(path)?;
        if let Some(description) = description {
            if description.chars().count() > 1000 {
                return Err(validation(
                    description,
                    "description",
                    "have length less than or equal to 1000",
                ));
            }
        }
        let max_session_duration = match max_session_duration {
            None => DEFAULT_MAX_SESSION_DURATION,
            Some(n) if n < 3600 => {
                return Err(validation(
                    &n.to_string(),
                    "maxSessionDuration",
                    "have value greater than or equal to 3600",
                ))
            }
            Some(n) if n > 43_200 => {
                return Err(validation(
                    &n.to_string(),
                    "maxSessionDuration",
                    "have value less than or equal to 43200",
                ))
            }
            Some(n) => u32::try_from(n).unwrap_or(DEFAULT_MAX_SESSION_DURATION),
        };
        let account_id = &caller.account_id().to_string();
        let arn = role_arn(account_id, path, role_name);
        authorize(caller, "iam:CreateRole", &arn, self.now_ms())?;
        let parsed = self.trust_policy(trust_policy)?;
        let writer = self.lock_writer();
        {
            let state = self.read();
            if state.roles.contains_key(&key_of(account_id, role_name)) {
                return Err(IdentityError::EntityAlreadyExists(format!(
                    "Role with name {role_name} already exists."
                )));
            }
            let n_roles = state.roles.keys().filter(|(a, _)| a == account_id).count();
            if n_roles >= MAX_ROLES_PER_ACCOUNT {
                return Err(IdentityError::LimitExceeded(format!(
                    "Cannot exceed quota for RolesPerAccount: {MAX_ROLES_PER_ACCOUNT}"
                )));
            }
        }
        let role = Role {
            account_id: account_id.clone(),
            name: role_name.to_string(),
            path: path.to_string(),
            role_id: unique_id("AROA")?,
            arn,
            created_ms: self.now_ms(),
            trust_policy_text: trust_policy.to_string(),
            trust_policy: parsed,
            description: description.map(str::to_string),
            max_session_duration,
        };
        self.commit(&writer, vec![Change::PutRole(role.clone())])?;
        Ok(role)
    }

    pub fn get_role(&self, caller: &Caller, role_name: &str) -> Result<Role, IdentityError> {
        check_name(role_name, "roleName", 64)?;
        let resource = self.role_resource(&self.read(), caller.account_id(), role_name);
        authorize(caller, "iam:GetRole", &resource, self.now_ms())?;
        self.read()
            .roles
            .get(&key_of(caller.account_id(), role_name))
            .map(|r| (**r).clone())
            .ok_or_else(|| no_such_role(role_name))
    }

    pub fn list_roles(
        &self,
        caller: &Caller,
        request: &ListRequest<'_>,
    ) -> Result<Page<Role>, IdentityError> {
        let prefix = request.path_prefix.unwrap_or("/");
        authorize(
            caller,
            "iam:ListRoles",
            &format!("arn:aws:iam::{}:role/", caller.account_id()),
            self.now_ms(),
        )?;
        let state = self.read();
        page(
            state
                .roles
                .iter()
                .filter(|((account, _), r)| {
                    *account == caller.account_id() && r.path.starts_with(prefix)
                })
                .map(|((_, name), r)| (name.clone(), (**r).clone())),
            request.marker,
            request.max_items,
        )
    }

    /// UpdateAssumeRolePolicy: replaces the trust policy. Existing sessions
    /// are unaffected (they were allowed when issued), as in AWS.
    pub fn update_assume_role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        trust_policy: &str,
    ) -> Result<(), IdentityError> {
        check_name(role_name, "roleName", 64)?;
        let resource = self.role_resource(&self.read(), caller.account_id(), role_name);
        authorize(
            caller,
            "iam:UpdateAssumeRolePolicy",
            &resource,
            self.now_ms(),
        )?;
        let parsed = self.trust_policy(trust_policy)?;
        let writer = self.lock_writer();
        let mut role = self
            .read()
            .roles
            .get(&key_of(caller.account_id(), role_name))
            .map(|r| (**r).clone())
            .ok_or_else(|| no_such_role(role_name))?;
        role.trust_policy_text = trust_policy.to_string();
        role.trust_policy = parsed;
        self.commit(&writer, vec![Change::PutRole(role)])
    }

    pub fn delete_role(&self, caller: &Caller, role_name: &str) -> Result<(), IdentityError> {
        check_name(role_name, "roleName", 64)?;
        let account_id = &caller.account_id().to_string();
        let resource = self.role_resource(&self.read(), account_id, role_name);
        authorize(caller, "iam:DeleteRole", &resource, self.now_ms())?;
        let writer = self.lock_writer();
        let key = key_of(account_id, role_name);
        {
            let state = self.read();
            if !state.roles.contains_key(&key) {
                return Err(no_such_role(role_name));
            }
            if state
                .role_policies
                .keys()
                .any(|(a, r, _)| *a == key.0 && *r == key.1)
            {
                return Err(IdentityError::DeleteConflict(
                    "Cannot delete entity, must delete policies first.".into(),
                ));
            }
        }
        self.commit(&writer, vec![Change::DeleteRole(key)])
    }
}
