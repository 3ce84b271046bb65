use thiserror::Error;

/// Why a cryptographic operation failed. Decoding errors are deliberately
/// coarse towards callers: a KMS answers every one of them with the same
/// `InvalidCiphertextException`, so that the blob format leaks nothing.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CryptoError {
    #[error("ciphertext is shorter than the blob header and tag")]
    CiphertextTruncated,
    #[error("unknown ciphertext blob version {0}")]
    UnknownVersion(u8),
    #[error("authentication failed (tampered ciphertext, wrong key or wrong encryption context)")]
    AuthenticationFailed,
    #[error("wrapped key material is malformed")]
    MalformedWrappedKey,
    #[error("the system random generator failed")]
    RandomFailure,
    #[error("the crypto library rejected a key or parameter")]
    Library,
}
