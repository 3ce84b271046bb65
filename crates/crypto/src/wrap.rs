//! Wrapping key material under the root key, for storage at rest.
//!
//! ```text
//! wrapped = version:u8 (= 1) || nonce:12 || AES-256-GCM(material):32 || tag:16
//! ```
//! The nonce is random; a root key wraps one material per key version, far
//! below GCM's 2³² random-nonce limit. The caller's `label` (e.g. the key id
//! and material id) is the additional data, so a wrapped material cannot be
//! swapped onto another key in the database without detection.

use std::fmt;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{random_bytes, CryptoError, KeyMaterial, KEY_MATERIAL_LEN};

pub const ROOT_KEY_LEN: usize = 32;
const WRAP_VERSION: u8 = 1;
const WRAPPED_LEN: usize = 1 + NONCE_LEN + KEY_MATERIAL_LEN + 16;

/// The root of trust that wraps all key material at rest.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RootKey([u8; ROOT_KEY_LEN]);

impl RootKey {
    pub fn from_bytes(bytes: [u8; ROOT_KEY_LEN]) -> Self {
        RootKey(bytes)
    }
    pub fn generate() -> Result<Self, CryptoError> {
        let mut bytes = [0u8; ROOT_KEY_LEN];
        random_bytes(&mut bytes)?;
        Ok(RootKey(bytes))
    }
    pub fn expose(&self) -> &[u8; ROOT_KEY_LEN] {
        &self.0
    }
    fn aead(&self) -> Result<LessSafeKey, CryptoError> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .map(LessSafeKey::new)
            .map_err(|_| CryptoError::Library)
    }

    /// Wraps arbitrary secret bytes (e.g. an access key's secret).
    pub fn wrap_bytes(&self, secret: &[u8], label: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        random_bytes(&mut nonce)?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + secret.len() + 16);
        out.push(WRAP_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(secret);
        let tag = self
            .aead()?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(label),
                &mut out[1 + NONCE_LEN..],
            )
            .map_err(|_| CryptoError::Library)?;
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Unwraps what [`RootKey::wrap_bytes`] produced under the same label.
    pub fn unwrap_bytes(&self, wrapped: &[u8], label: &[u8]) -> Result<crate::Secret, CryptoError> {
        if wrapped.len() < 1 + NONCE_LEN + 16 || wrapped[0] != WRAP_VERSION {
            return Err(CryptoError::MalformedWrappedKey);
        }
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&wrapped[1..1 + NONCE_LEN]);
        let mut buffer = wrapped[1 + NONCE_LEN..].to_vec();
        let len = self
            .aead()?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(label),
                &mut buffer,
            )
            .map_err(|_| CryptoError::AuthenticationFailed)?
            .len();
        buffer.truncate(len);
        Ok(crate::Secret::new(buffer))
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

/// Wraps one key material for storage.
pub fn wrap_key_material(
    root: &RootKey,
    material: &KeyMaterial,
    label: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    root.wrap_bytes(material.expose(), label)
}

/// Unwraps a stored key material.
pub fn unwrap_key_material(
    root: &RootKey,
    wrapped: &[u8],
    label: &[u8],
) -> Result<KeyMaterial, CryptoError> {
    if wrapped.len() != WRAPPED_LEN {
        return Err(CryptoError::MalformedWrappedKey);
    }
    let secret = root.unwrap_bytes(wrapped, label)?;
    let mut bytes = [0u8; KEY_MATERIAL_LEN];
    bytes.copy_from_slice(secret.expose());
    let material = KeyMaterial::from_bytes(bytes);
    bytes.zeroize();
    Ok(material)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_round_trip_and_label_binding() {
        let root = RootKey::generate().unwrap();
        let material = KeyMaterial::from_bytes([4; 32]);
        let wrapped = wrap_key_material(&root, &material, b"key-a").unwrap();
        assert_eq!(wrapped.len(), WRAPPED_LEN);
        let back = unwrap_key_material(&root, &wrapped, b"key-a").unwrap();
        assert_eq!(back.expose(), material.expose());
        assert_eq!(
            unwrap_key_material(&root, &wrapped, b"key-b").unwrap_err(),
            CryptoError::AuthenticationFailed
        );
        let other_root = RootKey::generate().unwrap();
        assert!(unwrap_key_material(&other_root, &wrapped, b"key-a").is_err());
        assert_eq!(
            unwrap_key_material(&root, &wrapped[1..], b"key-a").unwrap_err(),
            CryptoError::MalformedWrappedKey
        );
    }
}
