//! The keyring interface and the multi-keyring
//! (`framework/keyring-interface.md`, `framework/multi-keyring.md`).
//!
//! A keyring generates, wraps and unwraps data keys; it never sees message
//! content. The KMS keyring (a separate crate, since it talks to a network)
//! implements [`Keyring`] with `GenerateDataKey`, `Encrypt` and `Decrypt`
//! calls; [`RawAesKeyring`](crate::RawAesKeyring) is the local one.
//!
//! The spec's keyrings take materials by value and return modified ones. Here
//! they take `&mut` materials: a keyring must change them only on success, and
//! on failure the caller discards them anyway.

use crate::error::KeyringError;
use crate::header::EncryptedDataKey;
use crate::materials::{DecryptionMaterials, EncryptionMaterials};

/// Generates, wraps and unwraps data keys.
pub trait Keyring: Send + Sync {
    /// Spec "OnEncrypt": if the materials have no plaintext data key, generate
    /// one (if this keyring can); then append at least one encrypted copy of
    /// it, bound to the materials' encryption context.
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<(), KeyringError>;

    /// Spec "OnDecrypt": recover the plaintext data key from one of
    /// `encrypted_data_keys` and set it on the materials. Fails with
    /// [`KeyringError::DataKeyAlreadySet`] if the materials already hold one.
    fn on_decrypt(
        &self,
        materials: &mut DecryptionMaterials,
        encrypted_data_keys: &[EncryptedDataKey],
    ) -> Result<(), KeyringError>;
}

impl<K: Keyring + ?Sized> Keyring for &K {
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<(), KeyringError> {
        (**self).on_encrypt(materials)
    }
    fn on_decrypt(
        &self,
        materials: &mut DecryptionMaterials,
        encrypted_data_keys: &[EncryptedDataKey],
    ) -> Result<(), KeyringError> {
        (**self).on_decrypt(materials, encrypted_data_keys)
    }
}

impl<K: Keyring + ?Sized> Keyring for Box<K> {
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<(), KeyringError> {
        (**self).on_encrypt(materials)
    }
    fn on_decrypt(
        &self,
        materials: &mut DecryptionMaterials,
        encrypted_data_keys: &[EncryptedDataKey],
    ) -> Result<(), KeyringError> {
        (**self).on_decrypt(materials, encrypted_data_keys)
    }
}

impl<K: Keyring + ?Sized> Keyring for std::sync::Arc<K> {
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<(), KeyringError> {
        (**self).on_encrypt(materials)
    }
    fn on_decrypt(
        &self,
        materials: &mut DecryptionMaterials,
        encrypted_data_keys: &[EncryptedDataKey],
    ) -> Result<(), KeyringError> {
        (**self).on_decrypt(materials, encrypted_data_keys)
    }
}

/// Several keyrings as one: on encrypt, the generator makes the data key and
/// every child wraps it too (one encrypted data key per wrapping key); on
/// decrypt, the first keyring that recovers the data key wins.
pub struct MultiKeyring {
    generator: Option<Box<dyn Keyring>>,
    children: Vec<Box<dyn Keyring>>,
}

impl MultiKeyring {
    /// A multi-keyring. The spec requires a generator or at least one child.
    pub fn new(
        generator: Option<Box<dyn Keyring>>,
        children: Vec<Box<dyn Keyring>>,
    ) -> Result<Self, KeyringError> {
        if generator.is_none() && children.is_empty() {
            return Err(KeyringError::Configuration(
                "a multi-keyring needs a generator or at least one child keyring",
            ));
        }
        Ok(MultiKeyring {
            generator,
            children,
        })
    }
}

impl std::fmt::Debug for MultiKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultiKeyring")
            .field("generator", &self.generator.is_some())
            .field("children", &self.children.len())
            .finish()
    }
}

impl Keyring for MultiKeyring {
    fn on_encrypt(&self, materials: &mut EncryptionMaterials) -> Result<(), KeyringError> {
        match &self.generator {
            Some(generator) => {
                if materials.plaintext_data_key().is_some() {
                    return Err(KeyringError::DataKeyAlreadySet);
                }
                generator.on_encrypt(materials)?;
                if materials.plaintext_data_key().is_none() {
                    return Err(KeyringError::MissingDataKey);
                }
            }
            None if materials.plaintext_data_key().is_none() => {
                return Err(KeyringError::MissingDataKey);
            }
            None => {}
        }
        for child in &self.children {
            child.on_encrypt(materials)?;
        }
        Ok(())
    }

    fn on_decrypt(
        &self,
        materials: &mut DecryptionMaterials,
        encrypted_data_keys: &[EncryptedDataKey],
    ) -> Result<(), KeyringError> {
        if materials.plaintext_data_key().is_some() {
            return Err(KeyringError::DataKeyAlreadySet);
        }
        let mut failures = Vec::new();
        for keyring in self.generator.iter().chain(&self.children) {
            // Each keyring gets the unmodified materials.
            let mut attempt = materials.clone();
            match keyring.on_decrypt(&mut attempt, encrypted_data_keys) {
                Ok(()) if attempt.plaintext_data_key().is_some() => {
                    *materials = attempt;
                    return Ok(());
                }
                Ok(()) => failures.push(KeyringError::NoMatchingDataKey),
                Err(error) => failures.push(error),
            }
        }
        Err(KeyringError::AllFailed(failures))
    }
}
