//! Resolving a request's credentials: access key id (and session token) →
//! the secret its signature must be verified with, and the [`Caller`].
//!
//! Called on every request, before the signature is checked, so it only
//! reads memory (and, for a session, opens the sealed token). The server
//! verifies the signature; nothing here trusts the request further.

use std::sync::Arc;

use keyward_principal::Caller;

use crate::error::CredentialError;
use crate::model::{KeyOwner, ResolvedCredential};
use crate::service::Identities;

impl Identities {
    /// The credential behind `access_key_id`, with `session_token` for
    /// temporary (`ASIA…`) credentials. A long-term key presented with a
    /// session token is refused, as a token that does not belong to it.
    pub fn resolve(
        &self,
        access_key_id: &str,
        session_token: Option<&str>,
    ) -> Result<ResolvedCredential, CredentialError> {
        if let Some(token) = session_token {
            let (secret, caller) = self.open_session(access_key_id, token)?;
            return Ok(ResolvedCredential { secret, caller });
        }
        let state = self.read();
        let key = state
            .access_keys
            .get(access_key_id)
            .ok_or(CredentialError::UnknownAccessKey)?;
        if !key.active {
            return Err(CredentialError::InactiveAccessKey);
        }
        let caller = match &key.owner {
            KeyOwner::Root => Caller::root(&key.account_id),
            KeyOwner::User(lower) => {
                let entity = (key.account_id.clone(), lower.clone());
                let user = state
                    .users
                    .get(&entity)
                    .ok_or(CredentialError::UnknownAccessKey)?;
                let identity_policies =
                    Identities::owner_policies(&state.user_policies, &entity.0, &entity.1);
                Caller::user(
                    &user.account_id,
                    &user.arn,
                    &user.user_id,
                    &user.name,
                    identity_policies,
                )
            }
        };
        Ok(ResolvedCredential {
            secret: Arc::clone(&key.secret),
            caller,
        })
    }

    /// Whether `access_key_id` is a long-term key this service knows (active
    /// or not). `--dev` uses it: unknown keys act as the default root, known
    /// ones are always verified.
    pub fn knows_access_key(&self, access_key_id: &str) -> bool {
        self.read().access_keys.contains_key(access_key_id)
    }
}
