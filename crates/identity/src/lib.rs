//! The identity domain: accounts, IAM users, access keys, roles, inline
//! policies, and STS sessions — one method per IAM/STS operation, plus the
//! credential resolution every request goes through.
//!
//! Same pattern as `keyward-kms`: state in memory, each change committed to
//! the store (under one writer mutex) before it is visible; time from the
//! injected `keyward_principal::Clock` (the KMS's, so the dev clock expires
//! sessions); root-key wrapping for secrets and session tokens.
//!
//! Architecture invariants:
//! - Knows nothing of HTTP, XML or the Query protocol (that is
//!   `keyward-server`), and reaches storage only through `keyward_store::Store`.
//! - Access-key secrets are stored only wrapped by the root key; session
//!   credentials are not stored at all (the token is the sealed session).
//! - Decides IAM's own authorization (identity policies for IAM actions,
//!   trust policies for AssumeRole) but not KMS's: the KMS domain asks
//!   [`keyward_principal::PrincipalDirectory`], implemented by [`Identities`].
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod accounts;
mod authorize;
mod credentials;
mod directory;
mod documents;
mod error;
mod iam;
mod model;
mod names;
mod policies;
mod records;
mod service;
mod sts;
mod trust;

#[cfg(test)]
mod tests;

pub use accounts::CREATE_ACCOUNT_ACTION;
pub use error::{CredentialError, IdentityError, InternalError};
pub use iam::{
    ListRequest, MAX_ACCESS_KEYS_PER_USER, MAX_ROLES_PER_ACCOUNT, MAX_ROLE_POLICY_CHARS,
    MAX_TRUST_POLICY_CHARS, MAX_USERS_PER_ACCOUNT, MAX_USER_POLICY_CHARS,
};
pub use model::{
    AccessKeyMetadata, CallerIdentity, InlinePolicy, KeyOwner, NewAccessKey, NewAccount, Page,
    ResolvedCredential, Role, SessionCredentials, User,
};
pub use names::{
    access_key_secret_label, assumed_role_arn, is_account_id, role_arn, root_arn, user_arn,
};
pub use service::Identities;
