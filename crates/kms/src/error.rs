//! The domain's errors. Each variant is one AWS KMS exception; the server's
//! `error.rs` is the only place that turns them into `__type`, HTTP status
//! and message.

use thiserror::Error;

use crate::validate::Violations;

#[derive(Debug, Error)]
pub enum KmsError {
    #[error("{0}")]
    NotFound(String),
    /// A cryptographic or rotation operation on a disabled key
    /// (DisabledException). Structured so that the server can count uses of
    /// unusable keys by key (S-27, S-28) without reading messages.
    #[error("{key_arn} is disabled.")]
    KeyDisabled { key_arn: String },
    /// Any operation but reads and CancelKeyDeletion on a key pending
    /// deletion (KMSInvalidStateException).
    #[error("{key_arn} is pending deletion.")]
    KeyPendingDeletion { key_arn: String },
    #[error("{0}")]
    InvalidState(String),
    /// AWS sends this one without a message, so it says nothing about why.
    #[error("invalid ciphertext ({0})")]
    InvalidCiphertext(CiphertextProblem),
    #[error("The key ID in the request does not identify a CMK that can perform this operation.")]
    IncorrectKey,
    #[error("{0}")]
    Validation(Violations),
    /// A ValidationException whose message is not the model-constraint shape.
    #[error("{0}")]
    ValidationMessage(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidAliasName(String),
    #[error("{0}")]
    Tag(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    MalformedPolicyDocument(String),
    #[error("{0}")]
    UnsupportedOperation(String),
    #[error("{0}")]
    InvalidKeyUsage(String),
    #[error("{0}")]
    NotAuthorized(String),
    /// AWS's "User: … is not authorized to perform: kms:… on resource: … because …".
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    InvalidGrantId(String),
    #[error("{0}")]
    InvalidArn(String),
    #[error("Invalid marker.")]
    InvalidMarker,
    #[error("{0}")]
    InvalidGrantToken(String),
    #[error("The request would have succeeded, but the DryRun option is set.")]
    DryRun,
    #[error("internal error: {0}")]
    Internal(#[source] InternalError),
}

/// Why a ciphertext was refused. Logged, never sent: AWS answers all of them
/// with a bare `InvalidCiphertextException`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CiphertextProblem {
    Malformed,
    /// The blob names a key that does not exist (deleted, or a tampered header).
    UnknownKey,
    UnknownMaterial,
    AuthenticationFailed,
}

impl std::fmt::Display for CiphertextProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CiphertextProblem::Malformed => "malformed or truncated blob",
            CiphertextProblem::UnknownKey => "blob names a key that does not exist",
            CiphertextProblem::UnknownMaterial => "blob names key material the key does not have",
            CiphertextProblem::AuthenticationFailed => "authentication failed",
        })
    }
}

/// Faults of the server, never of the client.
#[derive(Debug, Error)]
pub enum InternalError {
    #[error("storage failed")]
    Store(#[from] keyward_store::StoreError),
    #[error("cryptographic failure")]
    Crypto(#[from] keyward_crypto::CryptoError),
    #[error("stored record is inconsistent: {0}")]
    Inconsistent(String),
}

impl From<InternalError> for KmsError {
    fn from(e: InternalError) -> Self {
        KmsError::Internal(e)
    }
}

impl KmsError {
    pub(crate) fn store(e: keyward_store::StoreError) -> Self {
        KmsError::Internal(InternalError::Store(e))
    }
    pub(crate) fn crypto(e: keyward_crypto::CryptoError) -> Self {
        KmsError::Internal(InternalError::Crypto(e))
    }
}

impl KmsError {
    /// The key and its state when the call failed because the key is
    /// disabled or pending deletion.
    pub fn unusable_key(&self) -> Option<(&str, &'static str)> {
        match self {
            KmsError::KeyDisabled { key_arn } => Some((key_arn, "disabled")),
            KmsError::KeyPendingDeletion { key_arn } => Some((key_arn, "pending deletion")),
            _ => None,
        }
    }
}
