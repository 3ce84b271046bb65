//! keyward's cryptographic formats, pure: no I/O, no clock, no global state.
//!
//! Everything that touches key material lives here, behind types that zeroize
//! on drop and print `<redacted>`: the symmetric key material of a KMS key,
//! the canonical encoding of an encryption context, the versioned ciphertext
//! blob that `Encrypt`/`GenerateDataKey` return, and the wrapping of key
//! material under a root key. Randomness comes from AWS-LC's DRBG.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod blob;
mod context;
mod error;
mod material;
mod random;
mod wrap;

pub use blob::{open, seal, BlobHeader, BLOB_OVERHEAD, BLOB_VERSION};
pub use context::EncryptionContext;
pub use error::CryptoError;
pub use material::{KeyMaterial, MaterialId, Secret, KEY_MATERIAL_LEN};
pub use random::{random_bytes, random_secret};
pub use wrap::{unwrap_key_material, wrap_key_material, RootKey, ROOT_KEY_LEN};
