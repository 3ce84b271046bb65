//! SHA-256 values: chain links, digest links, key fingerprints, log file hashes.
//!
//! One type for all of them because they are all "32 bytes, shown as lower-case
//! hex", the form CloudTrail uses for `hashValue`, `previousDigestHashValue` and
//! `digestPublicKeyFingerprint`
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html>).
//! These values are public, so comparing them needs no constant-time care.

use std::fmt;

use aws_lc_rs::digest::{Context, SHA256};

/// A SHA-256 output.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Hash(pub [u8; 32]);

impl Sha256Hash {
    /// All zeros: the "previous hash" of the first record of a trail.
    pub const ZERO: Sha256Hash = Sha256Hash([0; 32]);

    /// SHA-256 of the concatenation of `parts`.
    pub fn of_parts(parts: &[&[u8]]) -> Self {
        let mut context = Context::new(&SHA256);
        for part in parts {
            context.update(part);
        }
        let digest = context.finish();
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        Sha256Hash(bytes)
    }

    /// SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self::of_parts(&[bytes])
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, as CloudTrail writes hash values.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Reads 64 hex digits; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Sha256Hash(bytes))
    }

    /// Reads exactly 32 bytes; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(Sha256Hash)
    }
}

impl fmt::Debug for Sha256Hash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Sha256Hash({})", self.to_hex())
    }
}

impl fmt::Display for Sha256Hash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_answers() {
        // FIPS 180-2, Appendix B.1 and B.2.
        assert_eq!(
            Sha256Hash::of(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Sha256Hash::of_parts(&[
                b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmn",
                b"lmnomnopnopq"
            ])
            .to_hex(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
    }

    #[test]
    fn hex_round_trip_and_rejects() {
        let hash = Sha256Hash::of(b"x");
        assert_eq!(Sha256Hash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(Sha256Hash::from_hex("00"), None);
        assert_eq!(Sha256Hash::from_hex(&"zz".repeat(32)), None);
    }
}
