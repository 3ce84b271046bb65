//! Key material and its identifiers.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of symmetric KMS key material (AES-256).
pub const KEY_MATERIAL_LEN: usize = 32;

/// Secret bytes (plaintext, data keys): zeroized on drop, never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(bytes)
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted {} bytes>)", self.0.len())
    }
}

/// The 256-bit backing key of one version of a KMS key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct KeyMaterial([u8; KEY_MATERIAL_LEN]);

impl KeyMaterial {
    pub fn from_bytes(bytes: [u8; KEY_MATERIAL_LEN]) -> Self {
        KeyMaterial(bytes)
    }
    pub fn expose(&self) -> &[u8; KEY_MATERIAL_LEN] {
        &self.0
    }
}

impl fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyMaterial(<redacted>)")
    }
}

/// Identifies one version of a key's material. Shown to users as 64 lower-case
/// hex digits, like AWS's `KeyMaterialId`; it is random, not derived from the
/// material, so it reveals nothing about it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MaterialId(pub [u8; 32]);

impl MaterialId {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).ok()?;
        Some(MaterialId(out))
    }
}

impl fmt::Debug for MaterialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MaterialId({})", self.to_hex())
    }
}

impl fmt::Display for MaterialId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secret_bytes() {
        let s = Secret::new(b"hunter2".to_vec());
        assert_eq!(format!("{s:?}"), "Secret(<redacted 7 bytes>)");
        let m = KeyMaterial::from_bytes([7u8; 32]);
        assert!(!format!("{m:?}").contains('7'));
    }

    #[test]
    fn material_id_hex_round_trip() {
        let id = MaterialId([0xab; 32]);
        assert_eq!(id.to_hex().len(), 64);
        assert_eq!(MaterialId::from_hex(&id.to_hex()), Some(id));
        assert_eq!(MaterialId::from_hex("xyz"), None);
    }
}
