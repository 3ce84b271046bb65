//! The identity records as the domain holds them, and what operations return.
//!
//! None of these is `Serialize`: the server writes the wire shapes, and
//! `records.rs` the stored ones.

use std::sync::Arc;

use keyward_policy::Policy;
use zeroize::Zeroizing;

/// An IAM user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub account_id: String,
    pub name: String,
    pub path: String,
    /// `AIDA…`: `aws:userid`, and what distinguishes a re-created user.
    pub user_id: String,
    pub arn: String,
    pub created_ms: i64,
}

/// An IAM role.
#[derive(Debug, Clone)]
pub struct Role {
    pub account_id: String,
    pub name: String,
    pub path: String,
    /// `AROA…`.
    pub role_id: String,
    pub arn: String,
    pub created_ms: i64,
    /// The trust policy as the caller wrote it (returned URL-encoded by IAM).
    pub trust_policy_text: String,
    pub trust_policy: Arc<Policy>,
    pub description: Option<String>,
    /// Seconds, 3600..=43200.
    pub max_session_duration: u32,
}

/// Whose access key it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyOwner {
    /// The account's root user (the bootstrap administrator, `create-account`).
    Root,
    /// An IAM user, by the name's lower-case form (IAM names are case-insensitive).
    User(String),
}

/// A long-term access key.
#[derive(Clone)]
pub struct AccessKey {
    pub access_key_id: String,
    pub account_id: String,
    pub owner: KeyOwner,
    /// The ARN stored with the key: the user's or the root's.
    pub principal_arn: String,
    pub(crate) secret: Arc<Zeroizing<String>>,
    pub(crate) wrapped_secret: Vec<u8>,
    pub active: bool,
    pub created_ms: i64,
}

impl std::fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessKey")
            .field("access_key_id", &self.access_key_id)
            .field("owner", &self.owner)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

/// `AccessKeyMetadata` of ListAccessKeys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKeyMetadata {
    /// `None` for the root user's keys.
    pub user_name: Option<String>,
    pub access_key_id: String,
    pub active: bool,
    pub created_ms: i64,
}

/// CreateAccessKey's answer: the only time the secret is shown.
pub struct NewAccessKey {
    pub metadata: AccessKeyMetadata,
    pub secret_access_key: Zeroizing<String>,
}

/// An inline policy of a user or a role.
#[derive(Debug, Clone)]
pub struct InlinePolicy {
    pub name: String,
    pub text: String,
    pub policy: Arc<Policy>,
}

/// One page of a list operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Where the next page starts, when there is one.
    pub marker: Option<String>,
}

/// AssumeRole's answer.
pub struct SessionCredentials {
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
    pub session_token: String,
    pub expiration_ms: i64,
    /// `AROA…:session-name`.
    pub assumed_role_id: String,
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`.
    pub arn: String,
}

/// GetCallerIdentity's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallerIdentity {
    pub user_id: String,
    pub account: String,
    pub arn: String,
}

/// A new account and its root user's access key.
pub struct NewAccount {
    pub account_id: String,
    pub access_key_id: String,
    pub secret_access_key: Zeroizing<String>,
}

/// What a request's access key (and session token) resolve to.
#[derive(Clone)]
pub struct ResolvedCredential {
    /// The secret to verify the request's signature with.
    pub secret: Arc<Zeroizing<String>>,
    /// Who signed, with identity policies; `source_ip` and
    /// `secure_transport` are the server's to fill in.
    pub caller: keyward_principal::Caller,
}
