//! The stored shape of identity records: JSON documents in the store's
//! `documents` table (kinds below), plus the store's own account and
//! access-key rows. Changing a field here is a schema change: add fields with
//! `#[serde(default)]`, never rename.

use serde::{Deserialize, Serialize};

pub(crate) const KIND_USER: &str = "iam-user";
pub(crate) const KIND_ROLE: &str = "iam-role";
pub(crate) const KIND_USER_POLICY: &str = "iam-user-policy";
pub(crate) const KIND_ROLE_POLICY: &str = "iam-role-policy";

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct UserDoc {
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub user_id: String,
    pub created_ms: i64,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RoleDoc {
    pub account_id: String,
    pub name: String,
    pub path: String,
    pub role_id: String,
    pub created_ms: i64,
    pub trust_policy: String,
    #[serde(default)]
    pub description: Option<String>,
    pub max_session_duration: u32,
}

/// An inline policy; `owner` is the user's or role's name as created.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct InlinePolicyDoc {
    pub account_id: String,
    pub owner: String,
    pub name: String,
    pub document: String,
}

/// Document id of a user or role: `ACCOUNT/lower-case name`.
pub(crate) fn entity_id(account_id: &str, name: &str) -> String {
    format!("{account_id}/{}", name.to_lowercase())
}

/// Document id of an inline policy: `ACCOUNT/lower-case owner/policy name`.
pub(crate) fn policy_id(account_id: &str, owner: &str, policy_name: &str) -> String {
    format!("{account_id}/{}/{policy_name}", owner.to_lowercase())
}
