//! The footer signature of the signed suites: the signing key the default CMM
//! makes per message, the verification key read back from the encryption
//! context, and the running hash over header and body
//! (`framework/transitive-requirements.md`, "ECDSA"; `client-apis/encrypt.md`,
//! "Construct the signature").
//!
//! The hash is fed as bytes are written or read, so neither side keeps the
//! message in memory to sign or verify it.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::digest::{self, Digest};
use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyCompressedBin};
use aws_lc_rs::signature::{self as ecdsa, EcdsaKeyPair, KeyPair, UnparsedPublicKey};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;

use crate::error::EnvelopeError;
use crate::suite::SignatureAlgorithm;

/// How many times signing is retried to get the full-length DER signature.
const MAX_SIGNING_ATTEMPTS: usize = 64;

/// A per-message ECDSA signing key (the "signing key" of the encryption
/// materials). Shared, not copied, when materials are cloned.
#[derive(Clone)]
pub struct SigningKey {
    algorithm: SignatureAlgorithm,
    key_pair: Arc<EcdsaKeyPair>,
}

/// The public half, as found in a message's encryption context.
#[derive(Clone, PartialEq, Eq)]
pub struct VerificationKey {
    algorithm: SignatureAlgorithm,
    compressed_point: Vec<u8>,
}

/// The running hash over the serialized header and body.
pub(crate) struct MessageHasher(digest::Context);

impl SignatureAlgorithm {
    fn signing(self) -> &'static ecdsa::EcdsaSigningAlgorithm {
        match self {
            SignatureAlgorithm::EcdsaP256Sha256 => &ecdsa::ECDSA_P256_SHA256_ASN1_SIGNING,
            SignatureAlgorithm::EcdsaP384Sha384 => &ecdsa::ECDSA_P384_SHA384_ASN1_SIGNING,
        }
    }

    fn verification(self) -> &'static ecdsa::EcdsaVerificationAlgorithm {
        match self {
            SignatureAlgorithm::EcdsaP256Sha256 => &ecdsa::ECDSA_P256_SHA256_ASN1,
            SignatureAlgorithm::EcdsaP384Sha384 => &ecdsa::ECDSA_P384_SHA384_ASN1,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            SignatureAlgorithm::EcdsaP256Sha256 => &digest::SHA256,
            SignatureAlgorithm::EcdsaP384Sha384 => &digest::SHA384,
        }
    }

    /// The compressed point: one tag byte and the x coordinate.
    fn compressed_point_len(self) -> usize {
        match self {
            SignatureAlgorithm::EcdsaP256Sha256 => 33,
            SignatureAlgorithm::EcdsaP384Sha384 => 49,
        }
    }

    /// The longest DER `ECDSA-Sig-Value` (both integers with a leading zero
    /// byte): 72 bytes for P-256, 104 for P-384. The SDKs sign until they get
    /// the length one short of it (r needing the pad, s low), so that a
    /// message's length depends only on its plaintext length; so do we.
    fn static_signature_len(self) -> usize {
        match self {
            SignatureAlgorithm::EcdsaP256Sha256 => 71,
            SignatureAlgorithm::EcdsaP384Sha384 => 103,
        }
    }
}

impl SigningKey {
    /// A fresh key pair.
    pub(crate) fn generate(algorithm: SignatureAlgorithm) -> Result<Self, EnvelopeError> {
        let key_pair = EcdsaKeyPair::generate(algorithm.signing())
            .map_err(|_| EnvelopeError::Internal("ECDSA key generation failed"))?;
        Ok(SigningKey {
            algorithm,
            key_pair: Arc::new(key_pair),
        })
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The verification key, to store in the encryption context.
    pub fn verification_key(&self) -> Result<VerificationKey, EnvelopeError> {
        let compressed: EcPublicKeyCompressedBin<'static> = self
            .key_pair
            .public_key()
            .as_be_bytes()
            .map_err(|_| EnvelopeError::Internal("public key encoding failed"))?;
        Ok(VerificationKey {
            algorithm: self.algorithm,
            compressed_point: compressed.as_ref().to_vec(),
        })
    }

    /// Signs the message hash, in DER.
    pub(crate) fn sign(&self, digest: &Digest) -> Result<Vec<u8>, EnvelopeError> {
        let wanted = self.algorithm.static_signature_len();
        let mut last = Vec::new();
        for _ in 0..MAX_SIGNING_ATTEMPTS {
            let signature = self
                .key_pair
                .sign_digest(digest)
                .map_err(|_| EnvelopeError::Internal("ECDSA signing failed"))?;
            last = signature.as_ref().to_vec();
            if last.len() == wanted {
                break;
            }
        }
        // After 64 tries (odds about 2^-64) any valid signature will do.
        Ok(last)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({:?}, <redacted>)", self.algorithm)
    }
}

impl VerificationKey {
    /// Parses the Base64 compressed point of `aws-crypto-public-key`.
    pub fn from_base64(algorithm: SignatureAlgorithm, text: &str) -> Result<Self, EnvelopeError> {
        let compressed_point = BASE64
            .decode(text)
            .map_err(|_| EnvelopeError::VerificationKeyInvalid)?;
        let compressed = compressed_point.len() == algorithm.compressed_point_len()
            && matches!(compressed_point.first(), Some(0x02 | 0x03));
        if !compressed {
            return Err(EnvelopeError::VerificationKeyInvalid);
        }
        // Parsing checks that the point is on the curve.
        UnparsedPublicKey::new(algorithm.verification(), &compressed_point)
            .parse()
            .map_err(|_| EnvelopeError::VerificationKeyInvalid)?;
        Ok(VerificationKey {
            algorithm,
            compressed_point,
        })
    }

    /// The Base64 text for `aws-crypto-public-key`.
    pub fn to_base64(&self) -> String {
        BASE64.encode(&self.compressed_point)
    }

    /// The signature algorithm.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// Verifies a DER signature over the message hash.
    pub(crate) fn verify(&self, digest: &Digest, signature: &[u8]) -> Result<(), EnvelopeError> {
        UnparsedPublicKey::new(self.algorithm.verification(), &self.compressed_point)
            .verify_digest(digest, signature)
            .map_err(|_| EnvelopeError::SignatureInvalid)
    }
}

impl fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "VerificationKey({:?}, {})",
            self.algorithm,
            self.to_base64()
        )
    }
}

impl MessageHasher {
    pub(crate) fn new(algorithm: SignatureAlgorithm) -> Self {
        MessageHasher(digest::Context::new(algorithm.digest()))
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub(crate) fn finish(self) -> Digest {
        self.0.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest_of(algorithm: SignatureAlgorithm, bytes: &[u8]) -> Digest {
        let mut hasher = MessageHasher::new(algorithm);
        hasher.update(bytes);
        hasher.finish()
    }

    #[test]
    fn sign_and_verify_both_curves() {
        for algorithm in [
            SignatureAlgorithm::EcdsaP256Sha256,
            SignatureAlgorithm::EcdsaP384Sha384,
        ] {
            let key = SigningKey::generate(algorithm).unwrap();
            let public = key.verification_key().unwrap();
            let parsed = VerificationKey::from_base64(algorithm, &public.to_base64()).unwrap();
            assert_eq!(parsed, public);
            let signature = key.sign(&digest_of(algorithm, b"header and body")).unwrap();
            assert_eq!(signature.len(), algorithm.static_signature_len());
            parsed
                .verify(&digest_of(algorithm, b"header and body"), &signature)
                .unwrap();
            assert!(matches!(
                parsed.verify(&digest_of(algorithm, b"header and bodY"), &signature),
                Err(EnvelopeError::SignatureInvalid)
            ));
        }
    }

    #[test]
    fn rejects_bad_public_keys() {
        let algorithm = SignatureAlgorithm::EcdsaP384Sha384;
        for text in [
            "",
            "not base64!",
            "AAAA",
            &BASE64.encode([0x02; 49]),
            &BASE64.encode([0x04; 97]),
        ] {
            assert!(matches!(
                VerificationKey::from_base64(algorithm, text),
                Err(EnvelopeError::VerificationKeyInvalid)
            ));
        }
        // A P-256 key is not a P-384 key.
        let p256 = SigningKey::generate(SignatureAlgorithm::EcdsaP256Sha256).unwrap();
        let text = p256.verification_key().unwrap().to_base64();
        assert!(VerificationKey::from_base64(algorithm, &text).is_err());
    }

    /// The spec's example header (`data-format/message-header.md`) carries a
    /// real P-384 verification key; it parses as one.
    #[test]
    fn spec_example_public_key_parses() {
        VerificationKey::from_base64(
            SignatureAlgorithm::EcdsaP384Sha384,
            "AsG8gG9InLPu16YKlqXTOD+nykG8YqHAhqecj8aXfD2e5B4gtVE73dZkyClA+rAMOQ==",
        )
        .unwrap();
    }
}
