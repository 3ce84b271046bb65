//! Inline policies of users and roles: Put/Get/List/Delete{User,Role}Policy.
//!
//! A document is parsed as an identity policy (so it may not name a
//! principal) and counted against IAM's aggregate quota per user (2,048
//! characters) or role (10,240), white space excluded
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>).
//! The text is kept as written: GetUserPolicy returns it URL-encoded.

use std::collections::BTreeMap;
use std::sync::Arc;

use keyward_policy::{Policy, PolicyKind};
use keyward_principal::Caller;

use crate::authorize::authorize;
use crate::documents::{check_policy_document, malformed, PARSE_LIMIT_BYTES};
use crate::error::IdentityError;
use crate::iam::{
    key_of, no_such_role, no_such_user, page, policy_chars, ListRequest, MAX_ROLE_POLICY_CHARS,
    MAX_USER_POLICY_CHARS,
};
use crate::model::{InlinePolicy, Page};
use crate::names::check_name;
use crate::service::{Change, Identities, State};

impl Identities {
    /// Put{User,Role}Policy: validate, check the aggregate quota, store.
    fn put_inline_policy(
        &self,
        caller: &Caller,
        kind: OwnerKind,
        owner_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), IdentityError> {
        check_name(owner_name, kind.member(), 128)?;
        check_name(policy_name, "policyName", 128)?;
        check_policy_document(document, "policyDocument")?;
        let account_id = &caller.account_id().to_string();
        let resource = self.owner_resource(kind, account_id, owner_name);
        authorize(caller, kind.action("Put"), &resource, self.now_ms())?;
        let policy = Policy::parse(document, PolicyKind::Identity, PARSE_LIMIT_BYTES)
            .map_err(|e| malformed(&e))?;
        let writer = self.lock_writer();
        let owner = {
            let state = self.read();
            let owner = self.owner_name(&state, kind, account_id, owner_name)?;
            let lower = owner.to_lowercase();
            let others: usize = kind
                .policies(&state)
                .iter()
                .filter(|((a, o, n), _)| *a == *account_id && *o == lower && n != policy_name)
                .map(|(_, p)| policy_chars(&p.text))
                .sum();
            if others + policy_chars(document) > kind.quota() {
                return Err(IdentityError::LimitExceeded(format!(
                    "Maximum policy size of {} bytes exceeded for {} {owner}",
                    kind.quota(),
                    kind.noun()
                )));
            }
            owner
        };
        let policy = InlinePolicy {
            name: policy_name.to_string(),
            text: document.to_string(),
            policy: Arc::new(policy),
        };
        let change = match kind {
            OwnerKind::User => Change::PutUserPolicy {
                account_id: account_id.clone(),
                owner,
                policy,
            },
            OwnerKind::Role => Change::PutRolePolicy {
                account_id: account_id.clone(),
                owner,
                policy,
            },
        };
        self.commit(&writer, vec![change])
    }

    fn owner_resource(&self, kind: OwnerKind, account_id: &str, name: &str) -> String {
        let state = self.read();
        match kind {
            OwnerKind::User => self.user_resource(&state, account_id, name),
            OwnerKind::Role => self.role_resource(&state, account_id, name),
        }
    }

    /// The owner's name as created, or NoSuchEntity.
    fn owner_name(
        &self,
        state: &State,
        kind: OwnerKind,
        account_id: &str,
        name: &str,
    ) -> Result<String, IdentityError> {
        let key = key_of(account_id, name);
        match kind {
            OwnerKind::User => state
                .users
                .get(&key)
                .map(|u| u.name.clone())
                .ok_or_else(|| no_such_user(name)),
            OwnerKind::Role => state
                .roles
                .get(&key)
                .map(|r| r.name.clone())
                .ok_or_else(|| no_such_role(name)),
        }
    }

    fn get_inline_policy(
        &self,
        caller: &Caller,
        kind: OwnerKind,
        owner_name: &str,
        policy_name: &str,
    ) -> Result<(String, InlinePolicy), IdentityError> {
        check_name(owner_name, kind.member(), 128)?;
        check_name(policy_name, "policyName", 128)?;
        let account_id = &caller.account_id().to_string();
        let resource = self.owner_resource(kind, account_id, owner_name);
        authorize(caller, kind.action("Get"), &resource, self.now_ms())?;
        let state = self.read();
        let owner = self.owner_name(&state, kind, account_id, owner_name)?;
        kind.policies(&state)
            .get(&(
                account_id.clone(),
                owner.to_lowercase(),
                policy_name.to_string(),
            ))
            .map(|p| (owner.clone(), (**p).clone()))
            .ok_or_else(|| {
                IdentityError::NoSuchEntity(format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    kind.noun()
                ))
            })
    }

    fn list_inline_policies(
        &self,
        caller: &Caller,
        kind: OwnerKind,
        owner_name: &str,
        request: &ListRequest<'_>,
    ) -> Result<Page<String>, IdentityError> {
        check_name(owner_name, kind.member(), 128)?;
        let account_id = &caller.account_id().to_string();
        let resource = self.owner_resource(kind, account_id, owner_name);
        authorize(caller, kind.action("List"), &resource, self.now_ms())?;
        let state = self.read();
        let lower = self
            .owner_name(&state, kind, account_id, owner_name)?
            .to_lowercase();
        page(
            kind.policies(&state)
                .keys()
                .filter(|(a, o, _)| *a == *account_id && *o == lower)
                .map(|(_, _, name)| (name.clone(), name.clone())),
            request.marker,
            request.max_items,
        )
    }

    fn delete_inline_policy(
        &self,
        caller: &Caller,
        kind: OwnerKind,
        owner_name: &str,
        policy_name: &str,
    ) -> Result<(), IdentityError> {
        check_name(owner_name, kind.member(), 128)?;
        check_name(policy_name, "policyName", 128)?;
        let account_id = &caller.account_id().to_string();
        let resource = self.owner_resource(kind, account_id, owner_name);
        authorize(caller, kind.action("Delete"), &resource, self.now_ms())?;
        let writer = self.lock_writer();
        let key = {
            let state = self.read();
            let owner = self.owner_name(&state, kind, account_id, owner_name)?;
            let key = (
                account_id.clone(),
                owner.to_lowercase(),
                policy_name.to_string(),
            );
            if !kind.policies(&state).contains_key(&key) {
                return Err(IdentityError::NoSuchEntity(format!(
                    "The {} policy with name {policy_name} cannot be found.",
                    kind.noun()
                )));
            }
            key
        };
        let change = match kind {
            OwnerKind::User => Change::DeleteUserPolicy(key),
            OwnerKind::Role => Change::DeleteRolePolicy(key),
        };
        self.commit(&writer, vec![change])
    }

    pub fn put_user_policy(
        &self,
        caller: &Caller,
        user_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), IdentityError> {
        self.put_inline_policy(caller, OwnerKind::User, user_name, policy_name, document)
    }

    /// GetUserPolicy: the user's name as created, and the policy.
    pub fn get_user_policy(
        &self,
        caller: &Caller,
        user_name: &str,
        policy_name: &str,
    ) -> Result<(String, InlinePolicy), IdentityError> {
        self.get_inline_policy(caller, OwnerKind::User, user_name, policy_name)
    }

    pub fn list_user_policies(
        &self,
        caller: &Caller,
        user_name: &str,
        request: &ListRequest<'_>,
    ) -> Result<Page<String>, IdentityError> {
        self.list_inline_policies(caller, OwnerKind::User, user_name, request)
    }

    pub fn delete_user_policy(
        &self,
        caller: &Caller,
        user_name: &str,
        policy_name: &str,
    ) -> Result<(), IdentityError> {
        self.delete_inline_policy(caller, OwnerKind::User, user_name, policy_name)
    }

    pub fn put_role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        policy_name: &str,
        document: &str,
    ) -> Result<(), IdentityError> {
        self.put_inline_policy(caller, OwnerKind::Role, role_name, policy_name, document)
    }

    pub fn get_role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        policy_name: &str,
    ) -> Result<(String, InlinePolicy), IdentityError> {
        self.get_inline_policy(caller, OwnerKind::Role, role_name, policy_name)
    }

    pub fn list_role_policies(
        &self,
        caller: &Caller,
        role_name: &str,
        request: &ListRequest<'_>,
    ) -> Result<Page<String>, IdentityError> {
        self.list_inline_policies(caller, OwnerKind::Role, role_name, request)
    }

    pub fn delete_role_policy(
        &self,
        caller: &Caller,
        role_name: &str,
        policy_name: &str,
    ) -> Result<(), IdentityError> {
        self.delete_inline_policy(caller, OwnerKind::Role, role_name, policy_name)
    }
}

/// Users and roles share the inline-policy operations.
#[derive(Clone, Copy)]
enum OwnerKind {
    User,
    Role,
}

type PolicyMap = BTreeMap<crate::service::PolicyKey, Arc<InlinePolicy>>;

impl OwnerKind {
    fn member(self) -> &'static str {
        match self {
            OwnerKind::User => "userName",
            OwnerKind::Role => "roleName",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            OwnerKind::User => "user",
            OwnerKind::Role => "role",
        }
    }

    fn quota(self) -> usize {
        match self {
            OwnerKind::User => MAX_USER_POLICY_CHARS,
            OwnerKind::Role => MAX_ROLE_POLICY_CHARS,
        }
    }

    /// `iam:PutUserPolicy` and friends.
    fn action(self, verb: &str) -> &'static str {
        match (self, verb) {
            (OwnerKind::User, "Put") => "iam:PutUserPolicy",
            (OwnerKind::User, "Get") => "iam:GetUserPolicy",
            (OwnerKind::User, "List") => "iam:ListUserPolicies",
            (OwnerKind::User, _) => "iam:DeleteUserPolicy",
            (OwnerKind::Role, "Put") => "iam:PutRolePolicy",
            (OwnerKind::Role, "Get") => "iam:GetRolePolicy",
            (OwnerKind::Role, "List") => "iam:ListRolePolicies",
            (OwnerKind::Role, _) => "iam:DeleteRolePolicy",
        }
    }

    fn policies(self, state: &State) -> &PolicyMap {
        match self {
            OwnerKind::User => &state.user_policies,
            OwnerKind::Role => &state.role_policies,
        }
    }
}
