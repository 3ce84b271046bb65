//! Cryptographic materials and the materials manager (CMM) that assembles
//! them from a keyring (`framework/structures.md`, `framework/cmm-interface.md`,
//! `framework/default-cmm.md`).
//!
//! `encrypt` and `decrypt` talk only to a [`MaterialsManager`]. The
//! [`DefaultCmm`] turns any [`Keyring`] into one, adding the per-message
//! signing key for signed suites. A caching CMM (max age, messages, bytes
//! per data key) is another implementation of the same trait, wrapping a
//! `DefaultCmm`; that is why the requests carry the plaintext length bound.

use crate::context::{EncryptionContext, PUBLIC_KEY_CONTEXT_KEY};
use crate::error::{EnvelopeError, KeyringError};
use crate::header::EncryptedDataKey;
use crate::keyring::Keyring;
use crate::keys::DataKey;
use crate::signature::{SigningKey, VerificationKey};
use crate::suite::{AlgorithmSuite, CommitmentPolicy};

/// What encrypting one message needs (spec: "Encryption Materials").
#[derive(Clone, Debug)]
pub struct EncryptionMaterials {
    suite: AlgorithmSuite,
    encryption_context: EncryptionContext,
    plaintext_data_key: Option<DataKey>,
    encrypted_data_keys: Vec<EncryptedDataKey>,
    signing_key: Option<SigningKey>,
}

/// What decrypting one message needs (spec: "Decryption Materials").
#[derive(Clone, Debug)]
pub struct DecryptionMaterials {
    suite: AlgorithmSuite,
    encryption_context: EncryptionContext,
    plaintext_data_key: Option<DataKey>,
    verification_key: Option<VerificationKey>,
}

/// A request for encryption materials.
#[derive(Clone, Debug)]
pub struct EncryptionMaterialsRequest {
    /// The caller's encryption context (without SDK-reserved keys).
    pub encryption_context: EncryptionContext,
    /// The suite the caller asked for, or `None` for the policy's default.
    pub algorithm_suite: Option<AlgorithmSuite>,
    /// The caller's commitment policy.
    pub commitment_policy: CommitmentPolicy,
    /// An upper bound on the plaintext length, when the caller knows one.
    pub max_plaintext_length: Option<u64>,
}

/// A request for decryption materials.
#[derive(Clone, Debug)]
pub struct DecryptMaterialsRequest<'a> {
    /// The message's suite.
    pub algorithm_suite: AlgorithmSuite,
    /// The caller's commitment policy.
    pub commitment_policy: CommitmentPolicy,
    /// The message's encrypted data keys.
    pub encrypted_data_keys: &'a [EncryptedDataKey],
    /// The message's encryption context (from the not yet verified header).
    pub encryption_context: &'a EncryptionContext,
}

/// Provides materials to `encrypt` and `decrypt` (the spec's CMM interface).
pub trait MaterialsManager: Send + Sync {
    /// Materials to encrypt one message: a plaintext data key, at least one
    /// encrypted copy of it, the final encryption context and, for signed
    /// suites, a signing key.
    fn get_encryption_materials(
        &self,
        request: &EncryptionMaterialsRequest,
    ) -> Result<EncryptionMaterials, EnvelopeError>;

    /// Materials to decrypt one message: the plaintext data key and, for
    /// signed suites, the verification key.
    fn decrypt_materials(
        &self,
        request: &DecryptMaterialsRequest<'_>,
    ) -> Result<DecryptionMaterials, EnvelopeError>;
}

impl EncryptionMaterials {
    /// Materials without a data key yet, for a keyring's `on_encrypt`.
    pub fn new(
        suite: AlgorithmSuite,
        encryption_context: EncryptionContext,
        signing_key: Option<SigningKey>,
    ) -> Self {
        EncryptionMaterials {
            suite,
            encryption_context,
            plaintext_data_key: None,
            encrypted_data_keys: Vec::new(),
            signing_key,
        }
    }

    /// The algorithm suite.
    pub fn algorithm_suite(&self) -> AlgorithmSuite {
        self.suite
    }

    /// The encryption context, including `aws-crypto-public-key` for signed
    /// suites. Keyrings bind their wrapping to it.
    pub fn encryption_context(&self) -> &EncryptionContext {
        &self.encryption_context
    }

    /// The plaintext data key, once a keyring has set one.
    pub fn plaintext_data_key(&self) -> Option<&DataKey> {
        self.plaintext_data_key.as_ref()
    }

    /// The encrypted copies of the data key so far.
    pub fn encrypted_data_keys(&self) -> &[EncryptedDataKey] {
        &self.encrypted_data_keys
    }

    /// The signing key, for signed suites.
    pub fn signing_key(&self) -> Option<&SigningKey> {
        self.signing_key.as_ref()
    }

    /// Sets the plaintext data key (a generator keyring's job). Fails if one
    /// is already set or if its length does not fit the suite.
    pub fn set_plaintext_data_key(&mut self, key: DataKey) -> Result<(), KeyringError> {
        if self.plaintext_data_key.is_some() {
            return Err(KeyringError::DataKeyAlreadySet);
        }
        check_key_length(self.suite, &key)?;
        self.plaintext_data_key = Some(key);
        Ok(())
    }

    /// Appends an encrypted copy of the data key. There must be a data key.
    pub fn add_encrypted_data_key(&mut self, key: EncryptedDataKey) -> Result<(), KeyringError> {
        if self.plaintext_data_key.is_none() {
            return Err(KeyringError::MissingDataKey);
        }
        self.encrypted_data_keys.push(key);
        Ok(())
    }

    pub(crate) fn into_parts(
        self,
    ) -> (
        AlgorithmSuite,
        EncryptionContext,
        Option<DataKey>,
        Vec<EncryptedDataKey>,
        Option<SigningKey>,
    ) {
        (
            self.suite,
            self.encryption_context,
            self.plaintext_data_key,
            self.encrypted_data_keys,
            self.signing_key,
        )
    }
}

impl DecryptionMaterials {
    /// Materials without a data key yet, for a keyring's `on_decrypt`.
    pub fn new(
        suite: AlgorithmSuite,
        encryption_context: EncryptionContext,
        verification_key: Option<VerificationKey>,
    ) -> Self {
        DecryptionMaterials {
            suite,
            encryption_context,
            plaintext_data_key: None,
            verification_key,
        }
    }

    /// The algorithm suite.
    pub fn algorithm_suite(&self) -> AlgorithmSuite {
        self.suite
    }

    /// The message's encryption context. Keyrings bind their unwrapping to it.
    pub fn encryption_context(&self) -> &EncryptionContext {
        &self.encryption_context
    }

    /// The plaintext data key, once a keyring has recovered it.
    pub fn plaintext_data_key(&self) -> Option<&DataKey> {
        self.plaintext_data_key.as_ref()
    }

    /// The verification key, for signed suites.
    pub fn verification_key(&self) -> Option<&VerificationKey> {
        self.verification_key.as_ref()
    }

    /// Sets the recovered data key. Fails if one is already set or if its
    /// length does not fit the suite.
    pub fn set_plaintext_data_key(&mut self, key: DataKey) -> Result<(), KeyringError> {
        if self.plaintext_data_key.is_some() {
            return Err(KeyringError::DataKeyAlreadySet);
        }
        check_key_length(self.suite, &key)?;
        self.plaintext_data_key = Some(key);
        Ok(())
    }
}

fn check_key_length(suite: AlgorithmSuite, key: &DataKey) -> Result<(), KeyringError> {
    if key.len() == suite.data_key_len() {
        Ok(())
    } else {
        Err(KeyringError::DataKeyLength {
            expected: suite.data_key_len(),
            actual: key.len(),
        })
    }
}

/// The default CMM: one keyring, plus signing keys for signed suites.
#[derive(Debug)]
pub struct DefaultCmm<K> {
    keyring: K,
}

impl<K: Keyring> DefaultCmm<K> {
    /// A CMM over `keyring`.
    pub fn new(keyring: K) -> Self {
        DefaultCmm { keyring }
    }

    /// The keyring.
    pub fn keyring(&self) -> &K {
        &self.keyring
    }
}

impl<K: Keyring> MaterialsManager for DefaultCmm<K> {
    fn get_encryption_materials(
        &self,
        request: &EncryptionMaterialsRequest,
    ) -> Result<EncryptionMaterials, EnvelopeError> {
        let policy = request.commitment_policy;
        let suite = request
            .algorithm_suite
            .unwrap_or_else(|| policy.default_suite());
        if !policy.allows_encrypt(suite) {
            return Err(EnvelopeError::PolicyForbidsSuite {
                suite,
                policy,
                operation: "encrypt",
            });
        }
        // Default CMM spec: fail rather than overwrite a caller's public key.
        if request
            .encryption_context
            .get(PUBLIC_KEY_CONTEXT_KEY)
            .is_some()
        {
            return Err(EnvelopeError::ReservedEncryptionContextKey(
                PUBLIC_KEY_CONTEXT_KEY.into(),
            ));
        }
        let mut encryption_context = request.encryption_context.clone();
        let signing_key = match suite.signature() {
            Some(algorithm) => {
                let key = SigningKey::generate(algorithm)?;
                encryption_context
                    .insert(PUBLIC_KEY_CONTEXT_KEY, key.verification_key()?.to_base64());
                Some(key)
            }
            None => None,
        };
        let mut materials = EncryptionMaterials::new(suite, encryption_context, signing_key);
        self.keyring
            .on_encrypt(&mut materials)
            .map_err(EnvelopeError::DataKeyNotEncrypted)?;
        if materials.plaintext_data_key.is_none() {
            return Err(EnvelopeError::DataKeyNotEncrypted(
                KeyringError::MissingDataKey,
            ));
        }
        if materials.encrypted_data_keys.is_empty() {
            return Err(EnvelopeError::DataKeyNotEncrypted(
                KeyringError::Configuration("the keyring produced no encrypted data key"),
            ));
        }
        Ok(materials)
    }

    fn decrypt_materials(
        &self,
        request: &DecryptMaterialsRequest<'_>,
    ) -> Result<DecryptionMaterials, EnvelopeError> {
        let suite = request.algorithm_suite;
        let policy = request.commitment_policy;
        if !policy.allows_decrypt(suite) {
            return Err(EnvelopeError::PolicyForbidsSuite {
                suite,
                policy,
                operation: "decrypt",
            });
        }
        let public_key = request.encryption_context.get(PUBLIC_KEY_CONTEXT_KEY);
        let verification_key = match (suite.signature(), public_key) {
            (Some(algorithm), Some(text)) => Some(VerificationKey::from_base64(algorithm, text)?),
            (Some(_), None) => return Err(EnvelopeError::VerificationKeyMissing),
            (None, Some(_)) => return Err(EnvelopeError::VerificationKeyUnexpected),
            (None, None) => None,
        };
        let mut materials =
            DecryptionMaterials::new(suite, request.encryption_context.clone(), verification_key);
        self.keyring
            .on_decrypt(&mut materials, request.encrypted_data_keys)
            .map_err(EnvelopeError::DataKeyNotDecrypted)?;
        if materials.plaintext_data_key.is_none() {
            return Err(EnvelopeError::DataKeyNotDecrypted(
                KeyringError::NoMatchingDataKey,
            ));
        }
        Ok(materials)
    }
}
