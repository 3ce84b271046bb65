//! The raw AES keyring: wraps data keys under a local AES-GCM key
//! (`framework/raw-aes-keyring.md`).
//!
//! Its encrypted data keys are those of the Python SDK's `RawMasterKey` and
//! raw AES keyring, and the Java SDK's `JceMasterKey` with AES: provider id =
//! key namespace, provider info = key name ‖ tag length in bits (u32) ‖ IV
//! length (u32) ‖ IV, ciphertext = wrapped key ‖ tag, AAD = the serialized
//! encryption context. It exists for tests and for users who manage their own
//! wrapping keys; keyward's own keys are reached through the KMS keyring.

use std::fmt;

use aws_lc_rs::aead::{Aad, Nonce};
use aws_lc_rs::rand;
use zeroize::Zeroizing;

use crate::error::{EnvelopeError, KeyringError, Malformation, MessageSection};
use crate::header::EncryptedDataKey;
use crate::keyring::Keyring;
use crate::keys::{aes_gcm_key, DataKey};
use crate::materials::{DecryptionMaterials, EncryptionMaterials};
use crate::suite::{IV_LEN, TAG_LEN};
use crate::wire::FieldReader;

/// The wrapping algorithm's tag length, as written in provider info (bits).
const TAG_LEN_BITS: u32 = (TAG_LEN as u32) * 8;

/// A keyring holding one AES-GCM wrapping key of 128, 192 or 256 bits.
pub struct RawAesKeyring {
    key_namespace: String,
    key_name: String,
    wrapping_key: Zeroizing<Vec<u8>>,
}

/// The parsed provider info of a raw AES encrypted data key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawAesProviderInfo<'a> {
    pub(crate) key_name: &'a [u8],
    pub(crate) tag_len_bits: u32,
    pub(crate) iv: &'a [u8],
}

impl RawAesKeyring {
    /// A keyring for `wrapping_key` (16, 24 or 32 bytes), identified in
    /// messages by `key_namespace` (the provider id) and `key_name`.
    pub fn new(
        key_namespace: impl Into<String>,
        key_name: impl Into<String>,
        wrapping_key: &[u8],
    ) -> Result<Self, KeyringError> {
        let key_namespace = key_namespace.into();
        if !matches!(wrapping_key.len(), 16 | 24 | 32) {
            return Err(KeyringError::Configuration(
                "the wrapping key must be 128, 192 or 256 bits",
            ));
        }
        // Keyring interface spec: only the AWS KMS keyrings may write provider
        // ids starting with "aws-kms".
        if key_namespace.starts_with("aws-kms") {
            return Err(KeyringError::Configuration(
                "the key namespace may not start with aws-kms",
            ));
        }
        Ok(RawAesKeyring {
            key_namespace,
            key_name: key_name.into(),
            wrapping_key: Zeroizing::new(wrapping_key.to_vec()),
        })
    }

    /// The key namespace (provider id).
    pub fn key_namespace(&self) -> &str {
        &self.key_namespace
    }

    /// The key name.
    pub fn key_name(&self) -> &str {
        &self.key_name
    }

    fn try_unwrap(
        &self,
        materials: &DecryptionMaterials,
        key: &EncryptedDataKey,
    ) -> Option<Result<DataKey, KeyringError>> {
        if key.provider_id() != self.key_namespace {
            return None;
        }
        let info = decode_provider_info(key.provider_info(), self.key_name.len()).ok()?;
        if info.key_name != self.key_name.as_bytes()
            || info.tag_len_bits != TAG_LEN_BITS
            || info.iv.len() != IV_LEN
        {
            return None;
        }
        Some(self.unwrap_data_key(materials, info.iv, key.ciphertext()))
    }

    fn unwrap_data_key(
        &self,
        materials: &DecryptionMaterials,
        iv: &[u8],
        ciphertext: &[u8],
    ) -> Result<DataKey, KeyringError> {
        let unwrap_failed = || KeyringError::UnwrapFailed {
            key_name: self.key_name.clone(),
        };
        let aad = materials
            .encryption_context()
            .serialize()
            .map_err(|_| KeyringError::EncryptionContextTooLarge)?;
        let key = aes_gcm_key(&self.wrapping_key)
            .map_err(|_| KeyringError::Internal("wrapping key rejected"))?;
        let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| unwrap_failed())?;
        let mut in_out = Zeroizing::new(ciphertext.to_vec());
        let plaintext = key
            .open_in_place(nonce, Aad::from(aad.as_slice()), in_out.as_mut_slice())
            .map_err(|_| unwrap_failed())?;
        Ok(DataKey::new(plaintext.to_vec()))
    }
}

impl fmt::Debug for RawAesKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawAesKeyring")
            .field("key_namespace", &self.key_namespace)
            .field("key_name", &self.key_name)
            .field("wrapping_key", &"<redacted>")
            .finish()
    }
}

impl Keyring for RawAesKeyring {
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<(), KeyringError> {
        let data_key = match materials.plaintext_data_key() {
            Some(key) => key.clone(),
            None => {
                let key = DataKey::generate(materials.algorithm_suite().data_key_len())?;
                materials.set_plaintext_data_key(key.clone())?;
                key
            }
        };
        let aad = materials
            .encryption_context()
            .serialize()
            .map_err(|_| KeyringError::EncryptionContextTooLarge)?;
        let mut iv = [0u8; IV_LEN];
        rand::fill(&mut iv).map_err(|_| KeyringError::Internal("random generator failed"))?;
        let key = aes_gcm_key(&self.wrapping_key)
            .map_err(|_| KeyringError::Internal("wrapping key rejected"))?;
        let nonce = Nonce::assume_unique_for_key(iv);
        let mut ciphertext = data_key.expose().to_vec();
        key.seal_in_place_append_tag(nonce, Aad::from(aad.as_slice()), &mut ciphertext)
            .map_err(|_| KeyringError::Internal("AES-GCM seal failed"))?;
        let provider_info = encode_provider_info(self.key_name.as_bytes(), TAG_LEN_BITS, &iv);
        materials.add_encrypted_data_key(EncryptedDataKey::new(
            self.key_namespace.clone(),
            provider_info,
            ciphertext,
        ))
    }

    fn on_decrypt(
        &self,
        materials: &mut DecryptionMaterials,
        encrypted_data_keys: &[EncryptedDataKey],
    ) -> Result<(), KeyringError> {
        if materials.plaintext_data_key().is_some() {
            return Err(KeyringError::DataKeyAlreadySet);
        }
        let mut last_error = KeyringError::NoMatchingDataKey;
        for key in encrypted_data_keys {
            match self.try_unwrap(materials, key) {
                None => {}
                Some(Ok(data_key)) => match materials.set_plaintext_data_key(data_key) {
                    Ok(()) => return Ok(()),
                    Err(error) => last_error = error,
                },
                Some(Err(error)) => last_error = error,
            }
        }
        Err(last_error)
    }
}

/// Serializes raw AES provider info.
pub(crate) fn encode_provider_info(key_name: &[u8], tag_len_bits: u32, iv: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key_name.len() + 8 + iv.len());
    out.extend_from_slice(key_name);
    out.extend_from_slice(&tag_len_bits.to_be_bytes());
    out.extend_from_slice(&(iv.len() as u32).to_be_bytes());
    out.extend_from_slice(iv);
    out
}

/// Parses raw AES provider info whose key name is `key_name_len` bytes long.
/// The key name is not length-prefixed, so only a keyring that knows its own
/// name can split the field; the rest must be exactly tag length, IV length
/// and an IV of that length.
pub(crate) fn decode_provider_info(
    bytes: &[u8],
    key_name_len: usize,
) -> Result<RawAesProviderInfo<'_>, EnvelopeError> {
    let mut reader = FieldReader::new(bytes, MessageSection::Field);
    let malformed = |_| EnvelopeError::Malformed(Malformation::ProviderInfo);
    let key_name = reader.bytes(key_name_len).map_err(malformed)?;
    let tag_len_bits = reader.u32().map_err(malformed)?;
    let iv_len = reader.u32().map_err(malformed)?;
    let iv_len = usize::try_from(iv_len)
        .map_err(|_| EnvelopeError::Malformed(Malformation::ProviderInfo))?;
    let iv = reader.bytes(iv_len).map_err(malformed)?;
    if !reader.remaining().is_empty() {
        return Err(Malformation::ProviderInfo.into());
    }
    Ok(RawAesProviderInfo {
        key_name,
        tag_len_bits,
        iv,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::EncryptionContext;
    use crate::suite::AlgorithmSuite;

    const SUITE: AlgorithmSuite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;

    fn encrypt_materials(
        keyring: &RawAesKeyring,
        context: &EncryptionContext,
    ) -> EncryptionMaterials {
        let mut materials = EncryptionMaterials::new(SUITE, context.clone(), None);
        keyring.on_encrypt(&mut materials).unwrap();
        materials
    }

    #[test]
    fn wraps_and_unwraps_under_each_key_size() {
        for len in [16, 24, 32] {
            let keyring = RawAesKeyring::new("ns", "name", &vec![7; len]).unwrap();
            let context = EncryptionContext::from([("purpose", "test")]);
            let encrypted = encrypt_materials(&keyring, &context);
            let edk = &encrypted.encrypted_data_keys()[0];
            assert_eq!(edk.provider_id(), "ns");
            assert_eq!(edk.ciphertext().len(), 32 + TAG_LEN);
            let info = decode_provider_info(edk.provider_info(), 4).unwrap();
            assert_eq!(
                (info.key_name, info.tag_len_bits, info.iv.len()),
                (&b"name"[..], 128, 12)
            );

            let mut decrypted = DecryptionMaterials::new(SUITE, context, None);
            keyring
                .on_decrypt(&mut decrypted, encrypted.encrypted_data_keys())
                .unwrap();
            assert_eq!(
                decrypted.plaintext_data_key().unwrap().expose(),
                encrypted.plaintext_data_key().unwrap().expose()
            );
        }
    }

    #[test]
    fn wrong_key_context_or_name_fails_to_unwrap() {
        let keyring = RawAesKeyring::new("ns", "name", &[7; 32]).unwrap();
        let context = EncryptionContext::from([("a", "b")]);
        let encrypted = encrypt_materials(&keyring, &context);
        let edks = encrypted.encrypted_data_keys();

        let other_key = RawAesKeyring::new("ns", "name", &[8; 32]).unwrap();
        let mut materials = DecryptionMaterials::new(SUITE, context.clone(), None);
        assert!(matches!(
            other_key.on_decrypt(&mut materials, edks),
            Err(KeyringError::UnwrapFailed { .. })
        ));
        assert!(materials.plaintext_data_key().is_none());

        let mut other_context =
            DecryptionMaterials::new(SUITE, EncryptionContext::from([("a", "c")]), None);
        assert!(keyring.on_decrypt(&mut other_context, edks).is_err());

        for other in [
            RawAesKeyring::new("ns", "other", &[7; 32]),
            RawAesKeyring::new("other", "name", &[7; 32]),
        ] {
            let mut materials = DecryptionMaterials::new(SUITE, context.clone(), None);
            assert!(matches!(
                other.unwrap().on_decrypt(&mut materials, edks),
                Err(KeyringError::NoMatchingDataKey)
            ));
        }
    }

    #[test]
    fn refuses_bad_configuration() {
        assert!(RawAesKeyring::new("ns", "n", &[0; 20]).is_err());
        assert!(RawAesKeyring::new("aws-kms", "n", &[0; 32]).is_err());
        let debug = format!("{:?}", RawAesKeyring::new("ns", "n", &[0x41; 32]).unwrap());
        assert!(debug.contains("<redacted>") && !debug.contains("65"));
    }

    #[test]
    fn provider_info_rejects_odd_shapes() {
        let good = encode_provider_info(b"name", TAG_LEN_BITS, &[1; 12]);
        assert!(decode_provider_info(&good, 4).is_ok());
        assert!(decode_provider_info(&good[..good.len() - 1], 4).is_err());
        let mut long = good.clone();
        long.push(0);
        assert!(decode_provider_info(&long, 4).is_err());
        assert!(decode_provider_info(&good, 40).is_err());
    }
}
