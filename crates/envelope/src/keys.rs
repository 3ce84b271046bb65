//! The plaintext data key and the per-message keys derived from it
//! (`framework/transitive-requirements.md`, "HKDF Encryption Key" and
//! "HKDF Commit Key").
//!
//! The data key never encrypts anything itself (except in the legacy
//! identity-KDF suites): each message derives its own AES key, salted by the
//! random message id for the committing suites, so a data key reused by a
//! cache across messages never reuses a (key, IV) pair.

use std::fmt;

use aws_lc_rs::aead::{self, LessSafeKey, UnboundKey};
use aws_lc_rs::{constant_time, hkdf, rand};
use zeroize::Zeroizing;

use crate::error::{EnvelopeError, KeyringError};
use crate::suite::{AlgorithmSuite, KeyDerivation, COMMIT_KEY_LEN};

/// A plaintext data key: zeroized on drop, never printed.
#[derive(Clone)]
pub struct DataKey(Zeroizing<Vec<u8>>);

impl DataKey {
    /// Wraps key bytes obtained elsewhere (a KMS `GenerateDataKey` answer).
    pub fn new(bytes: Vec<u8>) -> Self {
        DataKey(Zeroizing::new(bytes))
    }

    /// A fresh random key of `len` bytes from AWS-LC's DRBG.
    pub fn generate(len: usize) -> Result<Self, KeyringError> {
        let mut bytes = Zeroizing::new(vec![0; len]);
        rand::fill(&mut bytes).map_err(|_| KeyringError::Internal("random generator failed"))?;
        Ok(DataKey(bytes))
    }

    /// The key bytes, for a keyring to wrap.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it is empty (never, for a usable key).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DataKey(<redacted {} bytes>)", self.0.len())
    }
}

/// The keys of one message.
pub(crate) struct MessageKeys {
    /// The AES-GCM key for the header tag and every frame.
    pub(crate) content: LessSafeKey,
    /// The commit key stored as algorithm suite data (committing suites only).
    pub(crate) commitment: Option<Zeroizing<[u8; COMMIT_KEY_LEN]>>,
}

/// HKDF's output length, which `aws-lc-rs` takes as a `KeyType`.
struct OutputLen(usize);

impl hkdf::KeyType for OutputLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// Derives the content key (and commit key) of a message.
pub(crate) fn derive_message_keys(
    suite: AlgorithmSuite,
    data_key: &DataKey,
    message_id: &[u8],
) -> Result<MessageKeys, EnvelopeError> {
    let key_len = suite.data_key_len();
    if data_key.len() != key_len {
        return Err(EnvelopeError::Internal(
            "data key length does not match the suite",
        ));
    }
    let suite_id = suite.id().to_be_bytes();
    let mut content_key = Zeroizing::new(vec![0u8; key_len]);
    let mut commitment = None;
    match suite.key_derivation() {
        KeyDerivation::Identity => content_key.copy_from_slice(data_key.expose()),
        KeyDerivation::HkdfSha256 | KeyDerivation::HkdfSha384 => {
            // Non-committing: the salt is zeros as long as the hash, and the
            // info is the suite id followed by the message id.
            let (algorithm, hash_len) = if suite.key_derivation() == KeyDerivation::HkdfSha256 {
                (hkdf::HKDF_SHA256, 32)
            } else {
                (hkdf::HKDF_SHA384, 48)
            };
            let prk = hkdf::Salt::new(algorithm, &vec![0u8; hash_len]).extract(data_key.expose());
            expand(&prk, &[&suite_id, message_id], &mut content_key)?;
        }
        KeyDerivation::HkdfSha512 => {
            // Committing: the salt is the 32-byte message id, extracted once
            // for both keys (the spec's SHOULD); the content key's info is
            // the suite id then "DERIVEKEY", the commit key's "COMMITKEY".
            let prk = hkdf::Salt::new(hkdf::HKDF_SHA512, message_id).extract(data_key.expose());
            expand(&prk, &[&suite_id, b"DERIVEKEY"], &mut content_key)?;
            let mut commit_key = Zeroizing::new([0u8; COMMIT_KEY_LEN]);
            expand(&prk, &[b"COMMITKEY"], commit_key.as_mut_slice())?;
            commitment = Some(commit_key);
        }
    }
    Ok(MessageKeys {
        content: aes_gcm_key(&content_key)?,
        commitment,
    })
}

fn expand(prk: &hkdf::Prk, info: &[&[u8]], out: &mut [u8]) -> Result<(), EnvelopeError> {
    prk.expand(info, OutputLen(out.len()))
        .and_then(|okm| okm.fill(out))
        .map_err(|_| EnvelopeError::Internal("HKDF expand failed"))
}

/// An AES-GCM key of 16, 24 or 32 bytes.
pub(crate) fn aes_gcm_key(key: &[u8]) -> Result<LessSafeKey, EnvelopeError> {
    let algorithm = match key.len() {
        16 => &aead::AES_128_GCM,
        24 => &aead::AES_192_GCM,
        32 => &aead::AES_256_GCM,
        _ => return Err(EnvelopeError::Internal("AES key length")),
    };
    let key =
        UnboundKey::new(algorithm, key).map_err(|_| EnvelopeError::Internal("AES key rejected"))?;
    Ok(LessSafeKey::new(key))
}

/// Compares a derived commit key with the header's, in constant time
/// (transitive requirements: "Verification of the commitment key MUST be a
/// constant time comparison").
pub(crate) fn commitment_matches(
    derived: &[u8; COMMIT_KEY_LEN],
    stored: &[u8; COMMIT_KEY_LEN],
) -> bool {
    constant_time::verify_slices_are_equal(derived, stored).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5869 test case 1 (HKDF-SHA256), through our HKDF plumbing: with
    /// the salt and info of that vector, `expand` gives its OKM.
    #[test]
    fn hkdf_plumbing_matches_rfc5869_case_1() {
        let ikm = [0x0b; 22];
        let salt = hex::decode("000102030405060708090a0b0c").unwrap();
        let info = hex::decode("f0f1f2f3f4f5f6f7f8f9").unwrap();
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &salt).extract(&ikm);
        let mut okm = [0u8; 42];
        expand(&prk, &[&info[..5], &info[5..]], &mut okm).unwrap();
        assert_eq!(
            hex::encode(okm),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
        );
    }

    #[test]
    fn committing_keys_depend_on_message_id_and_key() {
        let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
        let key = DataKey::new(vec![1; 32]);
        let a = derive_message_keys(suite, &key, &[0; 32]).unwrap();
        let b = derive_message_keys(suite, &key, &[1; 32]).unwrap();
        let c = derive_message_keys(suite, &DataKey::new(vec![2; 32]), &[0; 32]).unwrap();
        let (a, b, c) = (
            a.commitment.unwrap(),
            b.commitment.unwrap(),
            c.commitment.unwrap(),
        );
        assert!(!commitment_matches(&a, &b));
        assert!(!commitment_matches(&a, &c));
        assert!(commitment_matches(&a, &a));
    }

    #[test]
    fn wrong_key_length_is_refused() {
        let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
        assert!(derive_message_keys(suite, &DataKey::new(vec![0; 16]), &[0; 32]).is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let text = format!("{:?}", DataKey::new(vec![0x41; 32]));
        assert_eq!(text, "DataKey(<redacted 32 bytes>)");
    }
}
