//! The Ed25519 key pair that signs digests, and the public key users verify with.
//!
//! CloudTrail signs digest files with a per-Region RSA key and publishes the
//! public keys, matched by `digestPublicKeyFingerprint`
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html>).
//! keyward signs with Ed25519 instead: small keys, deterministic signatures
//! (no randomness needed at signing time, so signing stays pure) and no
//! padding choices to get wrong. The fingerprint is the hex SHA-256 of the raw
//! 32-byte public key.
//!
//! What this module does not do: generate, store or protect the private key.
//! The caller creates the seed with its random source, keeps it (wrapped by
//! the server's root key), and hands it in.

use std::fmt;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::error::AuditError;
use crate::hash::Sha256Hash;

/// The digest signature algorithm, as written in `digestSignatureAlgorithm`.
pub const DIGEST_SIGNATURE_ALGORITHM: &str = "Ed25519";

/// The private key that signs digests. `Debug` never shows the key.
pub struct DigestSigningKey {
    key_pair: Ed25519KeyPair,
}

/// A digest-verification key: the raw 32-byte Ed25519 public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DigestPublicKey([u8; 32]);

/// An Ed25519 signature over a digest's canonical bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct DigestSignature(pub [u8; 64]);

/// The DER prefix of an Ed25519 `SubjectPublicKeyInfo`: SEQUENCE { SEQUENCE {
/// OID 1.3.101.112 }, BIT STRING (0 unused bits) } around the 32 key bytes
/// (RFC 8410, section 4 and the example in section 10.1).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

impl DigestSigningKey {
    /// The key whose 32-byte private seed is `seed` (RFC 8032, section 5.1.5).
    pub fn from_seed(seed: &[u8; 32]) -> Result<Self, AuditError> {
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(|key_pair| DigestSigningKey { key_pair })
            .map_err(|source| AuditError::InvalidSigningKey { source })
    }

    /// The key in a PKCS#8 v1 or v2 document (`openssl genpkey -algorithm ED25519`).
    pub fn from_pkcs8(document: &[u8]) -> Result<Self, AuditError> {
        Ed25519KeyPair::from_pkcs8(document)
            .map(|key_pair| DigestSigningKey { key_pair })
            .map_err(|source| AuditError::InvalidSigningKey { source })
    }

    pub fn public_key(&self) -> DigestPublicKey {
        let mut raw = [0u8; 32];
        raw.copy_from_slice(self.key_pair.public_key().as_ref());
        DigestPublicKey(raw)
    }

    /// Signs `message` (deterministic, RFC 8032).
    pub(crate) fn sign(&self, message: &[u8]) -> Result<DigestSignature, AuditError> {
        let signature = self
            .key_pair
            .try_sign(message)
            .map_err(|_| AuditError::SigningFailed)?;
        let bytes =
            <[u8; 64]>::try_from(signature.as_ref()).map_err(|_| AuditError::SigningFailed)?;
        Ok(DigestSignature(bytes))
    }
}

impl fmt::Debug for DigestSigningKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "DigestSigningKey(<redacted>, public {:?})",
            self.public_key()
        )
    }
}

impl DigestPublicKey {
    /// A key from its 32 raw bytes.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, AuditError> {
        <[u8; 32]>::try_from(raw)
            .map(DigestPublicKey)
            .map_err(|_| AuditError::InvalidPublicKeyLength { length: raw.len() })
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// SHA-256 of the raw key: what a digest names its key by.
    pub fn fingerprint(&self) -> Sha256Hash {
        Sha256Hash::of(&self.0)
    }

    /// The key as a DER `SubjectPublicKeyInfo` (RFC 8410).
    pub fn to_spki_der(&self) -> Vec<u8> {
        let mut der = Vec::with_capacity(ED25519_SPKI_PREFIX.len() + self.0.len());
        der.extend_from_slice(&ED25519_SPKI_PREFIX);
        der.extend_from_slice(&self.0);
        der
    }

    /// The key as a `PUBLIC KEY` PEM block, readable by `openssl pkey -pubin`.
    pub fn to_pem(&self) -> String {
        format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            BASE64.encode(self.to_spki_der())
        )
    }

    /// Whether `signature` is this key's signature of `message`.
    pub fn verifies(&self, message: &[u8], signature: &DigestSignature) -> bool {
        UnparsedPublicKey::new(&ED25519, &self.0)
            .verify(message, &signature.0)
            .is_ok()
    }
}

impl fmt::Debug for DigestPublicKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "DigestPublicKey({})", hex::encode(self.0))
    }
}

impl DigestSignature {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads 128 hex digits; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 64];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(DigestSignature(bytes))
    }
}

impl fmt::Debug for DigestSignature {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "DigestSignature({})", self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_hex<const N: usize>(text: &str) -> [u8; N] {
        let mut bytes = [0u8; N];
        hex::decode_to_slice(text, &mut bytes).unwrap();
        bytes
    }

    #[test]
    fn rfc8032_test_1() {
        // RFC 8032, section 7.1, TEST 1 (empty message).
        let key = DigestSigningKey::from_seed(&from_hex(
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
        ))
        .unwrap();
        assert_eq!(
            hex::encode(key.public_key().as_bytes()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
        );
        let signature = key.sign(b"").unwrap();
        assert_eq!(
            signature.to_hex(),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        assert!(key.public_key().verifies(b"", &signature));
        assert!(!key.public_key().verifies(b"x", &signature));
    }

    #[test]
    fn rfc8410_public_key_encoding() {
        // RFC 8410, section 10.1: the example public key and its PEM body.
        let key = DigestPublicKey::from_bytes(&from_hex::<32>(
            "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1",
        ))
        .unwrap();
        assert_eq!(
            key.to_pem(),
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n"
        );
    }

    #[test]
    fn public_keys_must_have_32_bytes() {
        assert!(DigestPublicKey::from_bytes(&[0; 31]).is_err());
        assert!(DigestPublicKey::from_bytes(&[0; 33]).is_err());
    }
}
