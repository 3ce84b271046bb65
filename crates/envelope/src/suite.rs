//! The ESDK algorithm suites and the commitment policy that decides which of
//! them a caller may encrypt or decrypt with.
//!
//! The tables are those of the spec's `framework/algorithm-suites.md`
//! ("Supported Algorithm Suites", "Encryption Key Derivation Settings",
//! "Signature Settings") and `framework/commitment-policy.md`. Only the
//! ESDK format's suites are here; the S3EC and DBE suites share the id space
//! but never appear in an ESDK message.

/// An ESDK algorithm suite, named as the spec's `ESDK.ALG_*` enum and
/// numbered by its two-byte id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AlgorithmSuite {
    /// `00 14`: AES-128-GCM, no key derivation. Legacy, decrypt only by default.
    Aes128GcmIv12Tag16NoKdf,
    /// `00 46`: AES-192-GCM, no key derivation.
    Aes192GcmIv12Tag16NoKdf,
    /// `00 78`: AES-256-GCM, no key derivation.
    Aes256GcmIv12Tag16NoKdf,
    /// `01 14`: AES-128-GCM, HKDF-SHA256.
    Aes128GcmIv12Tag16HkdfSha256,
    /// `01 46`: AES-192-GCM, HKDF-SHA256.
    Aes192GcmIv12Tag16HkdfSha256,
    /// `01 78`: AES-256-GCM, HKDF-SHA256.
    Aes256GcmIv12Tag16HkdfSha256,
    /// `02 14`: AES-128-GCM, HKDF-SHA256, ECDSA P-256.
    Aes128GcmIv12Tag16HkdfSha256EcdsaP256,
    /// `03 46`: AES-192-GCM, HKDF-SHA384, ECDSA P-384.
    Aes192GcmIv12Tag16HkdfSha384EcdsaP384,
    /// `03 78`: AES-256-GCM, HKDF-SHA384, ECDSA P-384.
    Aes256GcmIv12Tag16HkdfSha384EcdsaP384,
    /// `04 78`: AES-256-GCM, HKDF-SHA512, key commitment, no signature.
    Aes256GcmHkdfSha512CommitKey,
    /// `05 78`: AES-256-GCM, HKDF-SHA512, key commitment, ECDSA P-384.
    /// The default suite, as in the SDKs.
    Aes256GcmHkdfSha512CommitKeyEcdsaP384,
}

/// The key derivation function of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyDerivation {
    /// The data key is the encryption key.
    Identity,
    /// HKDF with HMAC-SHA256.
    HkdfSha256,
    /// HKDF with HMAC-SHA384.
    HkdfSha384,
    /// HKDF with HMAC-SHA512 (the committing suites).
    HkdfSha512,
}

/// The asymmetric signature algorithm of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// ECDSA on P-256 over SHA-256.
    EcdsaP256Sha256,
    /// ECDSA on P-384 over SHA-384.
    EcdsaP384Sha384,
}

/// The message format version a suite is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageFormatVersion {
    /// Version 1.0: 16-byte message id, type byte, header IV.
    V1,
    /// Version 2.0: 32-byte message id, algorithm suite data.
    V2,
}

impl MessageFormatVersion {
    /// The version byte.
    pub fn byte(self) -> u8 {
        match self {
            MessageFormatVersion::V1 => 0x01,
            MessageFormatVersion::V2 => 0x02,
        }
    }

    /// The message id length for this version.
    pub fn message_id_len(self) -> usize {
        match self {
            MessageFormatVersion::V1 => 16,
            MessageFormatVersion::V2 => 32,
        }
    }
}

/// Every ESDK suite, in the spec's table order (strongest first).
pub const ALL_SUITES: [AlgorithmSuite; 11] = [
    AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
    AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
    AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha384EcdsaP384,
    AlgorithmSuite::Aes192GcmIv12Tag16HkdfSha384EcdsaP384,
    AlgorithmSuite::Aes128GcmIv12Tag16HkdfSha256EcdsaP256,
    AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha256,
    AlgorithmSuite::Aes192GcmIv12Tag16HkdfSha256,
    AlgorithmSuite::Aes128GcmIv12Tag16HkdfSha256,
    AlgorithmSuite::Aes256GcmIv12Tag16NoKdf,
    AlgorithmSuite::Aes192GcmIv12Tag16NoKdf,
    AlgorithmSuite::Aes128GcmIv12Tag16NoKdf,
];

/// Every suite uses a 12-byte IV ("IV12").
pub const IV_LEN: usize = 12;
/// Every suite uses a 16-byte GCM tag ("TAG16").
pub const TAG_LEN: usize = 16;
/// The committing suites store a 32-byte commit key as algorithm suite data.
pub const COMMIT_KEY_LEN: usize = 32;

impl AlgorithmSuite {
    /// The two-byte id written in the header.
    pub fn id(self) -> u16 {
        match self {
            AlgorithmSuite::Aes128GcmIv12Tag16NoKdf => 0x0014,
            AlgorithmSuite::Aes192GcmIv12Tag16NoKdf => 0x0046,
            AlgorithmSuite::Aes256GcmIv12Tag16NoKdf => 0x0078,
            AlgorithmSuite::Aes128GcmIv12Tag16HkdfSha256 => 0x0114,
            AlgorithmSuite::Aes192GcmIv12Tag16HkdfSha256 => 0x0146,
            AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha256 => 0x0178,
            AlgorithmSuite::Aes128GcmIv12Tag16HkdfSha256EcdsaP256 => 0x0214,
            AlgorithmSuite::Aes192GcmIv12Tag16HkdfSha384EcdsaP384 => 0x0346,
            AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha384EcdsaP384 => 0x0378,
            AlgorithmSuite::Aes256GcmHkdfSha512CommitKey => 0x0478,
            AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => 0x0578,
        }
    }

    /// The suite with this id, if it is an ESDK suite.
    pub fn from_id(id: u16) -> Option<AlgorithmSuite> {
        ALL_SUITES.into_iter().find(|suite| suite.id() == id)
    }

    /// The message format version this suite is written in.
    pub fn message_format_version(self) -> MessageFormatVersion {
        if self.is_committing() {
            MessageFormatVersion::V2
        } else {
            MessageFormatVersion::V1
        }
    }

    /// The length of the plaintext data key, which is also the AES key length.
    pub fn data_key_len(self) -> usize {
        match self {
            AlgorithmSuite::Aes128GcmIv12Tag16NoKdf
            | AlgorithmSuite::Aes128GcmIv12Tag16HkdfSha256
            | AlgorithmSuite::Aes128GcmIv12Tag16HkdfSha256EcdsaP256 => 16,
            AlgorithmSuite::Aes192GcmIv12Tag16NoKdf
            | AlgorithmSuite::Aes192GcmIv12Tag16HkdfSha256
            | AlgorithmSuite::Aes192GcmIv12Tag16HkdfSha384EcdsaP384 => 24,
            AlgorithmSuite::Aes256GcmIv12Tag16NoKdf
            | AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha256
            | AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha384EcdsaP384
            | AlgorithmSuite::Aes256GcmHkdfSha512CommitKey
            | AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => 32,
        }
    }

    /// How the encryption key is derived from the data key.
    pub fn key_derivation(self) -> KeyDerivation {
        match self {
            AlgorithmSuite::Aes128GcmIv12Tag16NoKdf
            | AlgorithmSuite::Aes192GcmIv12Tag16NoKdf
            | AlgorithmSuite::Aes256GcmIv12Tag16NoKdf => KeyDerivation::Identity,
            AlgorithmSuite::Aes128GcmIv12Tag16HkdfSha256
            | AlgorithmSuite::Aes192GcmIv12Tag16HkdfSha256
            | AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha256
            | AlgorithmSuite::Aes128GcmIv12Tag16HkdfSha256EcdsaP256 => KeyDerivation::HkdfSha256,
            AlgorithmSuite::Aes192GcmIv12Tag16HkdfSha384EcdsaP384
            | AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha384EcdsaP384 => KeyDerivation::HkdfSha384,
            AlgorithmSuite::Aes256GcmHkdfSha512CommitKey
            | AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => KeyDerivation::HkdfSha512,
        }
    }

    /// Whether the suite commits to its data key (the `04 78`/`05 78` suites).
    pub fn is_committing(self) -> bool {
        matches!(
            self,
            AlgorithmSuite::Aes256GcmHkdfSha512CommitKey
                | AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384
        )
    }

    /// The suite's signature algorithm, if it signs.
    pub fn signature(self) -> Option<SignatureAlgorithm> {
        match self {
            AlgorithmSuite::Aes128GcmIv12Tag16HkdfSha256EcdsaP256 => {
                Some(SignatureAlgorithm::EcdsaP256Sha256)
            }
            AlgorithmSuite::Aes192GcmIv12Tag16HkdfSha384EcdsaP384
            | AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha384EcdsaP384
            | AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384 => {
                Some(SignatureAlgorithm::EcdsaP384Sha384)
            }
            _ => None,
        }
    }

    /// Whether the message carries a footer signature.
    pub fn is_signed(self) -> bool {
        self.signature().is_some()
    }
}

/// Which suites a client may encrypt and decrypt with
/// (`framework/commitment-policy.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum CommitmentPolicy {
    /// Encrypt only with non-committing suites; decrypt anything. For readers
    /// of messages written by SDKs older than 1.7.
    ForbidEncryptAllowDecrypt,
    /// Encrypt only with committing suites; decrypt anything. The migration
    /// step.
    RequireEncryptAllowDecrypt,
    /// Encrypt and decrypt only with committing suites. The default.
    #[default]
    RequireEncryptRequireDecrypt,
}

impl CommitmentPolicy {
    /// The suite used when the caller names none. The spec names `00 78` for
    /// the forbid policy, but the Python and Java SDKs use `03 78` (signed,
    /// with key derivation), the stronger choice, so do we.
    pub fn default_suite(self) -> AlgorithmSuite {
        match self {
            CommitmentPolicy::ForbidEncryptAllowDecrypt => {
                AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha384EcdsaP384
            }
            CommitmentPolicy::RequireEncryptAllowDecrypt
            | CommitmentPolicy::RequireEncryptRequireDecrypt => {
                AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384
            }
        }
    }

    /// Whether a message may be encrypted with `suite`.
    pub fn allows_encrypt(self, suite: AlgorithmSuite) -> bool {
        match self {
            CommitmentPolicy::ForbidEncryptAllowDecrypt => !suite.is_committing(),
            CommitmentPolicy::RequireEncryptAllowDecrypt
            | CommitmentPolicy::RequireEncryptRequireDecrypt => suite.is_committing(),
        }
    }

    /// Whether a message in `suite` may be decrypted.
    pub fn allows_decrypt(self, suite: AlgorithmSuite) -> bool {
        match self {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
            | CommitmentPolicy::RequireEncryptAllowDecrypt => true,
            CommitmentPolicy::RequireEncryptRequireDecrypt => suite.is_committing(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_are_unique() {
        for suite in ALL_SUITES {
            assert_eq!(AlgorithmSuite::from_id(suite.id()), Some(suite));
        }
        let mut ids: Vec<u16> = ALL_SUITES.iter().map(|s| s.id()).collect();
        ids.dedup();
        assert_eq!(ids.len(), ALL_SUITES.len());
        // The S3EC and DBE ids share the space but are not ESDK suites.
        for foreign in [0x0000, 0x0070, 0x0072, 0x0073, 0x6700, 0x6701] {
            assert_eq!(AlgorithmSuite::from_id(foreign), None);
        }
    }

    /// One row per policy × (committing, non-committing), from the policy spec.
    #[test]
    fn commitment_policy_table() {
        use CommitmentPolicy::*;
        let committing = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
        let legacy = AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha256;
        let rows = [
            (ForbidEncryptAllowDecrypt, false, true, true, true),
            (RequireEncryptAllowDecrypt, true, false, true, true),
            (RequireEncryptRequireDecrypt, true, false, true, false),
        ];
        for (policy, enc_commit, enc_legacy, dec_commit, dec_legacy) in rows {
            assert_eq!(policy.allows_encrypt(committing), enc_commit, "{policy:?}");
            assert_eq!(policy.allows_encrypt(legacy), enc_legacy, "{policy:?}");
            assert_eq!(policy.allows_decrypt(committing), dec_commit, "{policy:?}");
            assert_eq!(policy.allows_decrypt(legacy), dec_legacy, "{policy:?}");
            assert!(policy.allows_encrypt(policy.default_suite()));
        }
        assert_eq!(CommitmentPolicy::default(), RequireEncryptRequireDecrypt);
        assert_eq!(RequireEncryptRequireDecrypt.default_suite().id(), 0x0578);
    }
}
