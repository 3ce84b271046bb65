//! One function per KMS operation, grouped by family.

pub mod aliases;
pub mod background;
pub mod crypto;
mod for_audit;
pub mod grants;
pub mod import;
pub mod keys;
pub mod rotation;
pub mod tags_policies;

use keyward_crypto::{random_bytes, wrap_key_material, KeyMaterial, MaterialId, KEY_MATERIAL_LEN};
use zeroize::Zeroize;

use crate::key::{Key, Material, RotationType};
use crate::validate::Violations;
use crate::{Kms, KmsError};

/// Longest `KeyId` the model accepts.
pub(crate) const KEY_ID_MAX: usize = 2048;

pub(crate) fn check_key_id(violations: &mut Violations, member: &str, key_id: &Option<String>) {
    violations.required(member, key_id);
    violations.length(member, key_id.as_deref(), 1, KEY_ID_MAX);
}

/// `GrantTokens`: at most 10, each 1–8192 characters (model constraints).
pub(crate) fn check_grant_tokens(violations: &mut Violations, tokens: &Option<Vec<String>>) {
    if let Some(tokens) = tokens {
        violations.count(
            "grantTokens",
            &format!("{tokens:?}"),
            Some(tokens.len()),
            0,
            10,
        );
        for (i, token) in tokens.iter().enumerate() {
            violations.length(
                &format!("grantTokens.{}.member", i + 1),
                Some(token),
                1,
                8192,
            );
        }
    }
}

/// Each grant token must be one keyward issued (InvalidGrantTokenException
/// otherwise). keyward is strongly consistent, so a valid token adds
/// nothing: the grant it names is already in effect (or gone).
pub(crate) fn check_grant_token_syntax(tokens: &Option<Vec<String>>) -> Result<(), KmsError> {
    for token in tokens.iter().flatten() {
        if crate::grants::parse_grant_token(token).is_none() {
            return Err(KmsError::InvalidGrantToken(
                "The grant token is not valid.".into(),
            ));
        }
    }
    Ok(())
}

/// Ends a dry run: every check has passed, so report what would have happened.
pub(crate) fn finish_dry_run(dry_run: Option<bool>) -> Result<(), KmsError> {
    if dry_run == Some(true) {
        Err(KmsError::DryRun)
    } else {
        Ok(())
    }
}

impl Kms {
    /// New random key material for `key_id`, wrapped by the root key.
    pub(crate) fn new_material(
        &self,
        key_id: &str,
        rotation: Option<RotationType>,
        now_ms: i64,
    ) -> Result<Material, KmsError> {
        let mut bytes = [0u8; KEY_MATERIAL_LEN];
        random_bytes(&mut bytes).map_err(KmsError::crypto)?;
        let material = KeyMaterial::from_bytes(bytes);
        bytes.zeroize();
        let mut id = [0u8; 32];
        random_bytes(&mut id).map_err(KmsError::crypto)?;
        let id = MaterialId(id);
        let wrapped = wrap_key_material(self.root_key(), &material, &Key::wrap_label(key_id, &id))
            .map_err(KmsError::crypto)?;
        Ok(Material {
            id,
            wrapped,
            created_ms: now_ms,
            rotation,
        })
    }
}

#[cfg(test)]
mod authz_tests;
#[cfg(test)]
mod tests;
