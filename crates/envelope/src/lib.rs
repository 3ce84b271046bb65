//! Envelope encryption in the AWS Encryption SDK message format.
//!
//! A message is a header (algorithm suite, random message id, encryption
//! context, the data key encrypted once per wrapping key, frame length, key
//! commitment), a body of AES-GCM frames under a key derived from the data
//! key, and — for signed suites — an ECDSA signature. Messages written here
//! are read by the AWS Encryption SDKs and their CLI, and the other way round.
//!
//! This crate is the pure core: formats, key derivation, the streaming
//! encryptor and decryptor, the [`Keyring`] and [`MaterialsManager`]
//! interfaces, a [`MultiKeyring`] and a [`RawAesKeyring`]. It does no I/O
//! besides the `std::io::Read`/`Write` it is handed: no files, no network, no
//! clock (the data-key cache, [`CachingCmm`], is given one). The KMS keyring
//! and the CLI plug in from outside through those two traits.
//!
//! ```
//! use keyward_envelope::{decrypt_to_vec, encrypt_to_vec, DecryptOptions, DefaultCmm,
//!     EncryptOptions, EncryptionContext, RawAesKeyring};
//!
//! let keyring = RawAesKeyring::new("my-namespace", "my-key", &[7u8; 32])?;
//! let cmm = DefaultCmm::new(keyring);
//! let options = EncryptOptions::new()
//!     .with_encryption_context(EncryptionContext::from([("purpose", "example")]));
//! let message = encrypt_to_vec(&cmm, &options, b"hello")?;
//! let (plaintext, header) = decrypt_to_vec(&cmm, &DecryptOptions::new(), &message)?;
//! assert_eq!(plaintext.as_bytes(), b"hello");
//! assert_eq!(header.encryption_context().get("purpose"), Some("example"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod body;
mod cache;
mod context;
mod decrypt;
mod encrypt;
mod error;
#[doc(hidden)]
pub mod fuzzing;
mod header;
mod keyring;
mod keys;
mod materials;
mod parallel;
mod raw_aes;
mod signature;
mod suite;
mod wire;

pub use cache::{
    CacheLimits, CacheStats, CachingCmm, Clock, MaterialsCache, DEFAULT_MAX_BYTES,
    DEFAULT_MAX_MESSAGES,
};
pub use context::{EncryptionContext, PUBLIC_KEY_CONTEXT_KEY, RESERVED_CONTEXT_PREFIX};
pub use decrypt::{decrypt, decrypt_to_vec, DecryptOptions, Plaintext, SignedStreaming};
pub use encrypt::{
    encrypt, encrypt_to_vec, EncryptOptions, EncryptingWriter, DEFAULT_FRAME_LENGTH,
    MAX_FRAME_LENGTH,
};
pub use error::{BoxError, EnvelopeError, ErrorKind, KeyringError, Malformation, MessageSection};
pub use header::{ContentType, EncryptedDataKey, MessageHeader};
pub use keyring::{Keyring, MultiKeyring};
pub use keys::DataKey;
pub use materials::{
    DecryptMaterialsRequest, DecryptionMaterials, DefaultCmm, EncryptionMaterials,
    EncryptionMaterialsRequest, MaterialsManager,
};
pub use raw_aes::RawAesKeyring;
pub use signature::{SigningKey, VerificationKey};
pub use suite::{
    AlgorithmSuite, CommitmentPolicy, KeyDerivation, MessageFormatVersion, SignatureAlgorithm,
    ALL_SUITES,
};
