//! Why an envelope operation failed: one precise enum for the crate, plus a
//! coarse [`ErrorKind`] for callers that only need to pick an exit code or a
//! message class (the CLI, a service's error mapping).
//!
//! Input and output failures keep their `std::io::Error` as the source and are
//! classified where they happen (reading the message vs writing the result), so
//! there is deliberately no blanket `From<std::io::Error>`.

use std::error::Error as StdError;
use std::fmt;

use thiserror::Error;

use crate::suite::{AlgorithmSuite, CommitmentPolicy};

/// A boxed foreign error, kept as a `#[source]` so that nothing is stringified.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// Every way encrypting or decrypting a message can fail.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    // --- Reading and writing -------------------------------------------------
    /// Reading the input (plaintext or message) failed.
    #[error("reading the input failed")]
    InputRead(#[source] std::io::Error),
    /// Writing the output (message or plaintext) failed.
    #[error("writing the output failed")]
    OutputWrite(#[source] std::io::Error),

    // --- Message structure -----------------------------------------------------
    /// The message ended before the named part was complete.
    #[error("the message is truncated: it ends inside the {0}")]
    Truncated(MessageSection),
    /// The bytes do not follow the message format.
    #[error("the message is malformed: {0}")]
    Malformed(#[from] Malformation),
    /// The input starts like the Base64 encoding of a message: decode it first.
    /// See the decrypt spec, "Encrypted Message Format".
    #[error("the input looks like a Base64-encoded message; decode the Base64 first")]
    Base64Encoded,
    /// More bytes follow the end of the message.
    #[error("unexpected bytes after the end of the message")]
    TrailingData,

    // --- Authentication --------------------------------------------------------
    /// The header authentication tag does not verify: the header (or its
    /// encryption context) was changed after encryption.
    #[error("the message header failed authentication (tampered header)")]
    HeaderAuthenticationFailed,
    /// A body frame does not verify: ciphertext, tag, IV, sequence or length
    /// was changed.
    #[error("frame {sequence_number} failed authentication (tampered body)")]
    FrameAuthenticationFailed {
        /// The sequence number of the frame (1 for a non-framed body).
        sequence_number: u32,
    },
    /// The commitment key derived from the data key differs from the one in
    /// the header: the message was built to decrypt differently under
    /// different data keys, or the header was changed.
    #[error("the key commitment in the header does not match the data key")]
    CommitmentMismatch,
    /// The footer signature does not verify over the header and body.
    #[error("the message signature does not verify (tampered message or signature)")]
    SignatureInvalid,
    /// The `aws-crypto-public-key` entry of a signed message is not a valid
    /// public key for the suite.
    #[error("the message's verification key (aws-crypto-public-key) is invalid")]
    VerificationKeyInvalid,
    /// A signed suite without `aws-crypto-public-key` in the encryption context.
    #[error("the signed message has no aws-crypto-public-key in its encryption context")]
    VerificationKeyMissing,
    /// An unsigned suite with `aws-crypto-public-key` in the encryption context,
    /// which the default CMM must refuse.
    #[error("the unsigned message carries an aws-crypto-public-key")]
    VerificationKeyUnexpected,

    // --- Keys --------------------------------------------------------------------
    /// No keyring could decrypt any of the message's encrypted data keys.
    #[error("no encrypted data key could be decrypted")]
    DataKeyNotDecrypted(#[source] KeyringError),
    /// A keyring failed while generating or encrypting the data key.
    #[error("the keyring failed to provide encrypted data keys")]
    DataKeyNotEncrypted(#[source] KeyringError),

    // --- Caller's rules -----------------------------------------------------------
    /// The commitment policy does not allow this suite for this operation.
    #[error("the commitment policy {policy:?} does not allow {suite:?} for {operation}")]
    PolicyForbidsSuite {
        /// The suite of the message or request.
        suite: AlgorithmSuite,
        /// The caller's policy.
        policy: CommitmentPolicy,
        /// `"encrypt"` or `"decrypt"`.
        operation: &'static str,
    },
    /// The message has more encrypted data keys than the caller allows.
    #[error("the message has {count} encrypted data keys; at most {max} are allowed")]
    TooManyEncryptedDataKeys {
        /// How many the header declares (or the materials hold, on encrypt).
        count: usize,
        /// The caller's limit.
        max: usize,
    },
    /// The message's encryption context lacks a pair the caller requires, or
    /// holds a different value for it.
    #[error("the encryption context does not match: key {key:?} is missing or differs")]
    EncryptionContextMismatch {
        /// The first required key that did not match.
        key: String,
    },
    /// A caller's encryption context uses the `aws-crypto-` prefix, which the
    /// SDK reserves (encrypt spec, "Encryption Context").
    #[error("encryption context key {0:?} uses the reserved prefix aws-crypto-")]
    ReservedEncryptionContextKey(String),
    /// The encryption context does not fit the format's 16-bit lengths.
    #[error("the encryption context is too large to serialize")]
    EncryptionContextTooLarge,
    /// A signed message was given to a streaming decrypt that was not allowed
    /// to release plaintext before the signature at the end is verified.
    #[error(
        "the message is signed: streaming it would release plaintext before the signature \
         is verified; opt in with SignedStreaming::ReleaseBeforeSignature or decrypt in memory"
    )]
    SignedMessageNeedsOptIn,
    /// The frame length is zero (encrypt spec: it must be greater than 0) or
    /// longer than the SDKs read (`MAX_FRAME_LENGTH`).
    #[error("the frame length must be between 1 and 2^31 - 1")]
    InvalidFrameLength,
    /// The plaintext is longer than the caller's declared bound.
    #[error("the plaintext is longer than the declared bound of {bound} bytes")]
    PlaintextLengthBoundExceeded {
        /// The caller's bound.
        bound: u64,
    },
    /// The plaintext needs more frames than a message can hold (2^32 - 1).
    #[error("the plaintext needs more frames than one message can hold")]
    TooManyFrames,
    /// The encryption writer was used after an earlier error.
    #[error("the encryption stream failed earlier and cannot continue")]
    Poisoned,
    /// A data-key cache limit is out of range (the spec requires a positive
    /// maximum age, and the SDKs read the byte limit as a signed 64-bit value).
    #[error("invalid data-key cache limit: {0}")]
    InvalidCacheLimit(&'static str),

    // --- Ours ----------------------------------------------------------------------
    /// The random generator or the crypto library failed where it should not.
    #[error("internal cryptographic failure: {0}")]
    Internal(&'static str),
}

/// Which part of a message a truncation or malformation is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageSection {
    /// The header body or its authentication.
    Header,
    /// A frame or the non-framed body.
    Body,
    /// The footer (signature).
    Footer,
    /// A structure inside a field (encryption context, provider info).
    Field,
}

impl fmt::Display for MessageSection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageSection::Header => "header",
            MessageSection::Body => "body",
            MessageSection::Footer => "footer",
            MessageSection::Field => "field",
        })
    }
}

/// What exactly is wrong with a malformed message.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Malformation {
    /// The version byte is neither 1 nor 2.
    #[error("unknown message format version {0:#04x}")]
    UnknownVersion(u8),
    /// A version 1 header whose type byte is not 0x80.
    #[error("unknown message type {0:#04x}")]
    UnknownType(u8),
    /// The suite id is not an ESDK algorithm suite.
    #[error("unknown algorithm suite {0:#06x}")]
    UnknownSuite(u16),
    /// The suite belongs to the other message format version.
    #[error("algorithm suite {suite:#06x} cannot appear in a version {version} message")]
    SuiteVersionMismatch {
        /// The suite id.
        suite: u16,
        /// The header's version.
        version: u8,
    },
    /// The content type is neither framed (2) nor non-framed (1).
    #[error("unknown content type {0:#04x}")]
    UnknownContentType(u8),
    /// Version 2 messages must be framed.
    #[error("a version 2 message must be framed")]
    NonFramedVersion2,
    /// The version 1 reserved field is not zero.
    #[error("the reserved header field is not zero")]
    ReservedNotZero,
    /// The version 1 IV length does not match the suite.
    #[error("IV length {0} does not match the algorithm suite")]
    IvLengthMismatch(u8),
    /// A framed message with frame length 0, or a non-framed one without.
    #[error("frame length {0} does not fit the content type")]
    FrameLengthMismatch(u32),
    /// The header lists no encrypted data key.
    #[error("the header lists no encrypted data key")]
    NoEncryptedDataKeys,
    /// A key provider id is not UTF-8.
    #[error("a key provider id is not UTF-8")]
    ProviderIdNotUtf8,
    /// The AAD length field disagrees with the serialized encryption context.
    #[error("the encryption context length does not match its contents")]
    EncryptionContextLength,
    /// An encryption context key or value is not UTF-8.
    #[error("an encryption context entry is not UTF-8")]
    EncryptionContextNotUtf8,
    /// Encryption context keys are not in ascending byte order, or repeat.
    #[error("encryption context keys are not sorted and unique")]
    EncryptionContextNotCanonical,
    /// A serialized encryption context with a pair count of 0.
    #[error("a non-empty encryption context declares zero pairs")]
    EncryptionContextZeroCount,
    /// A regular frame whose sequence number is not the next one.
    #[error("frame sequence number {found} where {expected} was expected")]
    FrameOutOfOrder {
        /// The next sequence number.
        expected: u32,
        /// What the frame carries.
        found: u32,
    },
    /// The final frame is longer than the header's frame length.
    #[error("the final frame holds {length} bytes, more than the frame length {frame_length}")]
    FinalFrameTooLong {
        /// The final frame's content length.
        length: u32,
        /// The header's frame length.
        frame_length: u32,
    },
    /// A non-framed body longer than the format allows (2^36 - 32 bytes).
    #[error("the non-framed body is longer than the format allows")]
    BodyTooLong,
    /// The raw AES keyring's provider info does not parse.
    #[error("the raw AES key provider info is malformed")]
    ProviderInfo,
    /// The footer's signature length does not fit what follows.
    #[error("the footer is malformed")]
    Footer,
}

/// A keyring's reason for not producing or not recovering a data key.
///
/// The variants name what a user can act on: a wrong key, a denied or disabled
/// wrapping key, a service that did not answer. A KMS keyring maps its
/// service's errors onto them and keeps the service error as the source.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum KeyringError {
    /// None of the encrypted data keys belongs to this keyring.
    #[error("no encrypted data key belongs to this keyring")]
    NoMatchingDataKey,
    /// An encrypted data key for this keyring did not decrypt: a different
    /// wrapping key of the same name, or a tampered key or encryption context.
    #[error(
        "the encrypted data key for {key_name:?} did not decrypt (wrong wrapping key or tampered)"
    )]
    UnwrapFailed {
        /// The wrapping key's name.
        key_name: String,
    },
    /// Access to the wrapping key was denied.
    #[error("access to wrapping key {key_id:?} was denied")]
    AccessDenied {
        /// The wrapping key.
        key_id: String,
        /// The service's error.
        #[source]
        source: BoxError,
    },
    /// The wrapping key exists but is disabled or otherwise unusable.
    #[error("wrapping key {key_id:?} is disabled or not usable")]
    KeyDisabled {
        /// The wrapping key.
        key_id: String,
        /// The service's error.
        #[source]
        source: BoxError,
    },
    /// The wrapping key does not exist.
    #[error("wrapping key {key_id:?} was not found")]
    KeyNotFound {
        /// The wrapping key.
        key_id: String,
        /// The service's error.
        #[source]
        source: BoxError,
    },
    /// The key service failed or could not be reached.
    #[error("the key service failed for {key_id:?}")]
    Service {
        /// The wrapping key.
        key_id: String,
        /// The service's error.
        #[source]
        source: BoxError,
    },
    /// The materials already hold a plaintext data key (keyring spec: OnDecrypt
    /// must then fail).
    #[error("the materials already hold a plaintext data key")]
    DataKeyAlreadySet,
    /// There is no plaintext data key to encrypt and this keyring cannot make one.
    #[error("there is no plaintext data key to encrypt")]
    MissingDataKey,
    /// A data key of the wrong length for the algorithm suite.
    #[error("the data key has {actual} bytes; the algorithm suite needs {expected}")]
    DataKeyLength {
        /// What the suite needs.
        expected: usize,
        /// What was given.
        actual: usize,
    },
    /// A keyring was configured wrongly (bad key length, reserved namespace…).
    #[error("invalid keyring configuration: {0}")]
    Configuration(&'static str),
    /// The encryption context could not be serialized as AAD.
    #[error("the encryption context is too large to serialize")]
    EncryptionContextTooLarge,
    /// Every keyring of a multi-keyring failed; each reason is kept, in order.
    #[error("no keyring succeeded: {}", describe_all(.0))]
    AllFailed(Vec<KeyringError>),
    /// The random generator or the crypto library failed.
    #[error("internal cryptographic failure: {0}")]
    Internal(&'static str),
}

fn describe_all(errors: &[KeyringError]) -> String {
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join("; "))
}

/// The few classes of failure that callers act on differently.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input is not a (complete) message in this format.
    Malformed,
    /// Authentication failed: the message was changed, or is not what it claims.
    Tampered,
    /// None of the caller's keys can open the message.
    WrongKey,
    /// The key service refused access to a wrapping key.
    AccessDenied,
    /// The wrapping key is disabled, missing, or the service failed.
    KeyUnavailable,
    /// The encryption context is not what the caller required.
    ContextMismatch,
    /// The caller's own rules refuse the operation (policy, limits, options).
    Refused,
    /// Reading the input or writing the output failed.
    Io,
    /// A failure inside the crypto library.
    Internal,
}

impl EnvelopeError {
    /// The coarse class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            EnvelopeError::InputRead(_) | EnvelopeError::OutputWrite(_) => ErrorKind::Io,
            EnvelopeError::Truncated(_)
            | EnvelopeError::Malformed(_)
            | EnvelopeError::Base64Encoded
            | EnvelopeError::TrailingData => ErrorKind::Malformed,
            EnvelopeError::HeaderAuthenticationFailed
            | EnvelopeError::FrameAuthenticationFailed { .. }
            | EnvelopeError::CommitmentMismatch
            | EnvelopeError::SignatureInvalid
            | EnvelopeError::VerificationKeyInvalid
            | EnvelopeError::VerificationKeyMissing
            | EnvelopeError::VerificationKeyUnexpected => ErrorKind::Tampered,
            EnvelopeError::DataKeyNotDecrypted(inner)
            | EnvelopeError::DataKeyNotEncrypted(inner) => inner.kind(),
            EnvelopeError::EncryptionContextMismatch { .. } => ErrorKind::ContextMismatch,
            EnvelopeError::PolicyForbidsSuite { .. }
            | EnvelopeError::TooManyEncryptedDataKeys { .. }
            | EnvelopeError::ReservedEncryptionContextKey(_)
            | EnvelopeError::EncryptionContextTooLarge
            | EnvelopeError::SignedMessageNeedsOptIn
            | EnvelopeError::InvalidFrameLength
            | EnvelopeError::PlaintextLengthBoundExceeded { .. }
            | EnvelopeError::TooManyFrames
            | EnvelopeError::Poisoned
            | EnvelopeError::InvalidCacheLimit(_) => ErrorKind::Refused,
            EnvelopeError::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl KeyringError {
    /// The coarse class of this error. For a multi-keyring, access denied or
    /// an unavailable key wins over "wrong key", because it is the reason the
    /// user can fix.
    pub fn kind(&self) -> ErrorKind {
        match self {
            KeyringError::AccessDenied { .. } => ErrorKind::AccessDenied,
            KeyringError::KeyDisabled { .. }
            | KeyringError::KeyNotFound { .. }
            | KeyringError::Service { .. } => ErrorKind::KeyUnavailable,
            KeyringError::NoMatchingDataKey
            | KeyringError::UnwrapFailed { .. }
            | KeyringError::DataKeyLength { .. } => ErrorKind::WrongKey,
            KeyringError::DataKeyAlreadySet
            | KeyringError::MissingDataKey
            | KeyringError::Configuration(_)
            | KeyringError::EncryptionContextTooLarge => ErrorKind::Refused,
            KeyringError::Internal(_) => ErrorKind::Internal,
            KeyringError::AllFailed(errors) => {
                let kinds: Vec<ErrorKind> = errors.iter().map(KeyringError::kind).collect();
                [
                    ErrorKind::AccessDenied,
                    ErrorKind::KeyUnavailable,
                    ErrorKind::Internal,
                ]
                .into_iter()
                .find(|wanted| kinds.contains(wanted))
                .unwrap_or(ErrorKind::WrongKey)
            }
        }
    }
}
