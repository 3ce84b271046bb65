//! The master key and the two keys gocryptfs derives from it.
//!
//! With the `HKDF` feature flag (the default of `gocryptfs -init` and what
//! `-masterkey` mode assumes), gocryptfs never uses the master key directly:
//! `internal/cryptocore/hkdf.go` derives each key as
//! `HKDF-SHA256(ikm = master key, salt = none, info = label, L = 32)`
//! (RFC 5869; an absent salt is HashLen zero bytes, which is what an empty
//! salt gives through HMAC's key padding). The labels are:
//! - `"AES-GCM file content encryption"` for the content key;
//! - `"EME filename encryption"` for the name key.

use std::fmt;

use aws_lc_rs::hkdf::{KeyType, Salt, HKDF_SHA256};
use zeroize::Zeroizing;

use crate::content::ContentCipher;
use crate::names::NameCipher;
use crate::VolumeFormatError;

/// Length of a gocryptfs master key.
pub const MASTER_KEY_LEN: usize = 32;

const HKDF_INFO_CONTENT: &[u8] = b"AES-GCM file content encryption";
const HKDF_INFO_NAMES: &[u8] = b"EME filename encryption";

/// A volume's 32-byte gocryptfs master key. It zeroizes on drop, prints
/// `<redacted>` and has no serializer: it lives only in memory.
pub struct MasterKey(Zeroizing<[u8; MASTER_KEY_LEN]>);

impl MasterKey {
    pub fn from_bytes(bytes: [u8; MASTER_KEY_LEN]) -> Self {
        MasterKey(Zeroizing::new(bytes))
    }

    /// Takes a key of exactly 32 bytes, as a KMS data key of 256 bits is.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, VolumeFormatError> {
        let array: [u8; MASTER_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| VolumeFormatError::MasterKeyLength(bytes.len()))?;
        Ok(Self::from_bytes(array))
    }

    fn expose(&self) -> &[u8; MASTER_KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

/// Everything needed to encrypt and decrypt one volume: the content cipher
/// and the name cipher, both derived from the master key, which is not kept.
pub struct VolumeCipher {
    content: ContentCipher,
    names: NameCipher,
}

impl VolumeCipher {
    pub fn new(master_key: &MasterKey) -> Result<Self, VolumeFormatError> {
        let content_key = derive(master_key, HKDF_INFO_CONTENT)?;
        let name_key = derive(master_key, HKDF_INFO_NAMES)?;
        Ok(VolumeCipher {
            content: ContentCipher::new(&content_key),
            names: NameCipher::new(&name_key),
        })
    }

    pub fn content(&self) -> &ContentCipher {
        &self.content
    }

    pub fn names(&self) -> &NameCipher {
        &self.names
    }
}

impl fmt::Debug for VolumeCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VolumeCipher(<redacted>)")
    }
}

struct DerivedKeyLen;

impl KeyType for DerivedKeyLen {
    fn len(&self) -> usize {
        32
    }
}

fn derive(master_key: &MasterKey, info: &[u8]) -> Result<Zeroizing<[u8; 32]>, VolumeFormatError> {
    let prk = Salt::new(HKDF_SHA256, &[]).extract(master_key.expose());
    let info = [info];
    let okm = prk
        .expand(&info, DerivedKeyLen)
        .map_err(|_| VolumeFormatError::KeyDerivation)?;
    let mut key = Zeroizing::new([0u8; 32]);
    okm.fill(&mut key[..])
        .map_err(|_| VolumeFormatError::KeyDerivation)?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let key = MasterKey::from_bytes([0x41; 32]);
        assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
        let cipher = VolumeCipher::new(&key).unwrap();
        assert_eq!(format!("{cipher:?}"), "VolumeCipher(<redacted>)");
    }

    #[test]
    fn from_slice_checks_length() {
        assert_eq!(
            MasterKey::from_slice(&[0; 31]).unwrap_err(),
            VolumeFormatError::MasterKeyLength(31)
        );
        assert_eq!(
            MasterKey::from_slice(&[0; 64]).unwrap_err(),
            VolumeFormatError::MasterKeyLength(64)
        );
        assert!(MasterKey::from_slice(&[0; 32]).is_ok());
    }

    // RFC 5869 test case 3 (SHA-256, zero-length salt and info), checking that
    // an empty `Salt` is the RFC's "not provided" salt that gocryptfs uses.
    #[test]
    fn empty_salt_matches_rfc5869_case_3() {
        struct Len42;
        impl KeyType for Len42 {
            fn len(&self) -> usize {
                42
            }
        }
        let ikm = [0x0bu8; 22];
        let prk = Salt::new(HKDF_SHA256, &[]).extract(&ikm);
        let okm = prk.expand(&[], Len42).unwrap();
        let mut out = [0u8; 42];
        okm.fill(&mut out).unwrap();
        assert_eq!(
            hex::encode(out),
            "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d\
             9d201395faa4b61a96c8"
        );
    }
}
