//! Why an identity operation or a credential was refused.
//!
//! [`IdentityError`] has one variant per AWS error code of the IAM and STS
//! Query APIs, so the server maps it without looking inside; the message is
//! AWS's wording. [`CredentialError`] is kept apart because it is decided on
//! every request before any operation runs, and `--dev` treats its variants
//! differently (an unknown key becomes the default root; a known one fails).

use thiserror::Error;

/// A refused IAM or STS operation. Messages follow AWS.
#[derive(Debug, Error)]
pub enum IdentityError {
    /// `NoSuchEntity` (404).
    #[error("{0}")]
    NoSuchEntity(String),
    /// `EntityAlreadyExists` (409).
    #[error("{0}")]
    EntityAlreadyExists(String),
    /// `DeleteConflict` (409): the entity still has access keys or policies.
    #[error("{0}")]
    DeleteConflict(String),
    /// `LimitExceeded` (409): an IAM quota.
    #[error("{0}")]
    LimitExceeded(String),
    /// `ValidationError` (400): a parameter breaks the model's constraints.
    #[error("{0}")]
    Validation(String),
    /// `MalformedPolicyDocument` (400).
    #[error("{0}")]
    MalformedPolicyDocument(String),
    /// `AccessDenied` (403).
    #[error("{0}")]
    AccessDenied(String),
    /// A fault of keyward's, never the caller's; the details are logged only.
    #[error("internal error: {0}")]
    Internal(#[from] InternalError),
}

/// Faults inside keyward while serving an identity operation.
#[derive(Debug, Error)]
pub enum InternalError {
    #[error("the store refused the change")]
    Store(#[source] keyward_store::StoreError),
    #[error("root-key wrapping failed")]
    Crypto(#[source] keyward_crypto::CryptoError),
    #[error("a stored identity record cannot be read: {what}")]
    Record {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("inconsistent identity state: {0}")]
    Inconsistent(String),
}

/// Why a request's credentials were not accepted.
#[derive(Debug, Error, Clone, Copy, PartialEq, Eq)]
pub enum CredentialError {
    /// The access key id was never issued, or was deleted.
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    /// The access key exists but is `Inactive`.
    #[error("The security token included in the request is invalid.")]
    InactiveAccessKey,
    /// The session token was not issued by this keyward (or was altered), or
    /// does not belong to the access key id it came with.
    #[error("The security token included in the request is invalid.")]
    InvalidSessionToken,
    /// The session's expiry has passed (by the service clock).
    #[error("The security token included in the request is expired")]
    ExpiredSessionToken,
}

impl IdentityError {
    pub(crate) fn store(source: keyward_store::StoreError) -> IdentityError {
        IdentityError::Internal(InternalError::Store(source))
    }

    pub(crate) fn crypto(source: keyward_crypto::CryptoError) -> IdentityError {
        IdentityError::Internal(InternalError::Crypto(source))
    }
}
