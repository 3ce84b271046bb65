//! The ciphertext blob returned by `Encrypt`, `GenerateDataKey*` and
//! `ReEncrypt`, version 1.
//!
//! ```text
//! offset  len  field
//!      0    1  version = 0x01
//!      1   16  key id (the KMS key's UUID, binary)
//!     17   32  key material id (which version of the key's material)
//!     49   16  salt (random per message)
//!     65    n  AES-256-GCM ciphertext of the plaintext
//!   65+n   16  GCM tag
//! ```
//!
//! The header names the key and the material, so `Decrypt` needs no `KeyId`,
//! and rotation keeps every old blob decryptable. Each message is sealed under
//! its own key, `HKDF-SHA256(ikm = material, salt = salt, info = LABEL || header[0..49])`,
//! with an all-zero nonce: a derived key is used for exactly one message
//! unless two salts collide. With 128-bit random salts the collision
//! probability after q messages under one material is about q²/2¹²⁹:
//! 2⁻⁶⁵ after 2³² messages, 2⁻³³ after 2⁴⁸. That is the bound we rely on, and
//! it is why GCM's own 96-bit random-nonce limit (2³² messages per key,
//! NIST SP 800-38D §8.3) does not apply. The additional authenticated data is
//! the whole 65-byte header followed by the canonical encryption context, so
//! changing the key id, material id, salt or context fails authentication.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hkdf::{Salt, HKDF_SHA256};

use crate::{random_bytes, CryptoError, EncryptionContext, KeyMaterial, MaterialId, Secret};

pub const BLOB_VERSION: u8 = 1;
const HEADER_LEN: usize = 1 + 16 + 32 + 16;
const TAG_LEN: usize = 16;
/// Bytes a blob adds to its plaintext.
pub const BLOB_OVERHEAD: usize = HEADER_LEN + TAG_LEN;
const KDF_LABEL: &[u8] = b"keyward/kms-blob/v1";

/// The authenticated, unencrypted part of a blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlobHeader {
    pub key_id: [u8; 16],
    pub material_id: MaterialId,
    pub salt: [u8; 16],
}

impl BlobHeader {
    fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = BLOB_VERSION;
        out[1..17].copy_from_slice(&self.key_id);
        out[17..49].copy_from_slice(&self.material_id.0);
        out[49..65].copy_from_slice(&self.salt);
        out
    }

    /// Reads the header of a blob without decrypting it, to find the key.
    pub fn decode(blob: &[u8]) -> Result<Self, CryptoError> {
        if blob.len() < BLOB_OVERHEAD {
            return Err(CryptoError::CiphertextTruncated);
        }
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&blob[..HEADER_LEN]);
        if header[0] != BLOB_VERSION {
            return Err(CryptoError::UnknownVersion(header[0]));
        }
        let mut key_id = [0u8; 16];
        key_id.copy_from_slice(&header[1..17]);
        let mut material_id = [0u8; 32];
        material_id.copy_from_slice(&header[17..49]);
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&header[49..65]);
        Ok(BlobHeader {
            key_id,
            material_id: MaterialId(material_id),
            salt,
        })
    }
}

/// Encrypts `plaintext` under `material`, binding `context`.
pub fn seal(
    key_id: [u8; 16],
    material_id: MaterialId,
    material: &KeyMaterial,
    context: &EncryptionContext,
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut salt = [0u8; 16];
    random_bytes(&mut salt)?;
    let header = BlobHeader {
        key_id,
        material_id,
        salt,
    };
    let header_bytes = header.encode();
    let key = message_key(material, &header_bytes)?;
    let mut out = Vec::with_capacity(BLOB_OVERHEAD + plaintext.len());
    out.extend_from_slice(&header_bytes);
    out.extend_from_slice(plaintext);
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key([0u8; NONCE_LEN]),
            Aad::from(aad(&header_bytes, context)),
            &mut out[HEADER_LEN..],
        )
        .map_err(|_| CryptoError::Library)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

/// Decrypts a blob whose header the caller has already matched to `material`.
pub fn open(
    blob: &[u8],
    material: &KeyMaterial,
    context: &EncryptionContext,
) -> Result<Secret, CryptoError> {
    let header = BlobHeader::decode(blob)?;
    let header_bytes = header.encode();
    let key = message_key(material, &header_bytes)?;
    let mut buffer = blob[HEADER_LEN..].to_vec();
    let plaintext_len = key
        .open_in_place(
            Nonce::assume_unique_for_key([0u8; NONCE_LEN]),
            Aad::from(aad(&header_bytes, context)),
            &mut buffer,
        )
        .map_err(|_| CryptoError::AuthenticationFailed)?
        .len();
    buffer.truncate(plaintext_len);
    Ok(Secret::new(buffer))
}

fn aad(header: &[u8; HEADER_LEN], context: &EncryptionContext) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(&context.canonical_bytes());
    aad
}

fn message_key(
    material: &KeyMaterial,
    header: &[u8; HEADER_LEN],
) -> Result<LessSafeKey, CryptoError> {
    let salt_bytes = &header[49..65];
    let prk = Salt::new(HKDF_SHA256, salt_bytes).extract(material.expose());
    let info = [KDF_LABEL, &header[..49]];
    let okm = prk
        .expand(&info, &AES_256_GCM)
        .map_err(|_| CryptoError::Library)?;
    Ok(LessSafeKey::new(UnboundKey::from(okm)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn material(byte: u8) -> KeyMaterial {
        KeyMaterial::from_bytes([byte; 32])
    }

    const KEY: [u8; 16] = [1; 16];
    const MID: MaterialId = MaterialId([2; 32]);

    #[test]
    fn round_trip_and_header() {
        let ctx = EncryptionContext::from([("purpose", "test")]);
        let blob = seal(KEY, MID, &material(9), &ctx, b"hello").unwrap();
        assert_eq!(blob.len(), 5 + BLOB_OVERHEAD);
        let header = BlobHeader::decode(&blob).unwrap();
        assert_eq!(header.key_id, KEY);
        assert_eq!(header.material_id, MID);
        assert_eq!(open(&blob, &material(9), &ctx).unwrap().expose(), b"hello");
    }

    #[test]
    fn two_seals_differ() {
        let ctx = EncryptionContext::default();
        let a = seal(KEY, MID, &material(9), &ctx, b"same").unwrap();
        let b = seal(KEY, MID, &material(9), &ctx, b"same").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_context_or_material_fails() {
        let ctx = EncryptionContext::from([("ab", "c")]);
        let blob = seal(KEY, MID, &material(9), &ctx, b"x").unwrap();
        let other = EncryptionContext::from([("a", "bc")]);
        assert_eq!(
            open(&blob, &material(9), &other).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
        assert_eq!(
            open(&blob, &material(8), &ctx).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
        assert_eq!(
            open(&blob, &material(9), &EncryptionContext::default()).unwrap_err(),
            CryptoError::AuthenticationFailed
        );
    }

    #[test]
    fn truncated_and_unknown_version() {
        assert_eq!(
            BlobHeader::decode(&[]).unwrap_err(),
            CryptoError::CiphertextTruncated
        );
        assert_eq!(
            BlobHeader::decode(&[1u8; BLOB_OVERHEAD - 1]).unwrap_err(),
            CryptoError::CiphertextTruncated
        );
        let mut blob = seal(KEY, MID, &material(9), &EncryptionContext::default(), b"").unwrap();
        blob[0] = 7;
        assert_eq!(
            BlobHeader::decode(&blob).unwrap_err(),
            CryptoError::UnknownVersion(7)
        );
    }

    proptest! {
        #[test]
        fn any_single_bit_flip_is_detected(
            plaintext in proptest::collection::vec(any::<u8>(), 0..64),
            position in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let ctx = EncryptionContext::from([("k", "v")]);
            let mut blob = seal(KEY, MID, &material(3), &ctx, &plaintext).unwrap();
            let index = position.index(blob.len());
            blob[index] ^= 1 << bit;
            // Flipping the version byte is caught by decode; anything else by GCM.
            prop_assert!(open(&blob, &material(3), &ctx).is_err());
        }

        #[test]
        fn round_trip_any_plaintext(plaintext in proptest::collection::vec(any::<u8>(), 0..4097)) {
            let ctx = EncryptionContext::default();
            let blob = seal(KEY, MID, &material(5), &ctx, &plaintext).unwrap();
            let opened = open(&blob, &material(5), &ctx).unwrap();
            prop_assert_eq!(opened.expose(), &plaintext[..]);
        }
    }
}
