//! More than one account: `keyward admin create-account`.
//!
//! Only the default (bootstrap) account's root user may create accounts: it
//! is the operator of the whole keyward. Each new account starts with a root
//! access key, whose secret is returned once.

use std::sync::Arc;

use keyward_principal::Caller;
use zeroize::Zeroizing;

use crate::authorize::access_denied;
use crate::error::IdentityError;
use crate::model::{AccessKey, KeyOwner, NewAccount};
use crate::names::{access_key_id, is_account_id, new_account_id, root_arn, secret_access_key};
use crate::service::{Change, Identities};

/// The action AccessDenied names for account creation (keyward's own).
pub const CREATE_ACCOUNT_ACTION: &str = "keyward:CreateAccount";

impl Identities {
    /// Creates an account (`account_id`, or a random one) with a root access key.
    pub fn create_account(
        &self,
        caller: &Caller,
        account_id: Option<&str>,
    ) -> Result<NewAccount, IdentityError> {
        let default_root = root_arn(self.default_account_id());
        if !(caller.is_root() && caller.account_id() == self.default_account_id()) {
            return Err(access_denied(
                caller,
                CREATE_ACCOUNT_ACTION,
                &default_root,
                " because only the root user of the default account may create accounts",
            ));
        }
        if let Some(requested) = account_id {
            if !is_account_id(requested) {
                return Err(IdentityError::Validation(format!(
                    "1 validation error detected: Value '{requested}' at 'accountId' failed to satisfy constraint: Member must satisfy regular expression pattern: ^\\d{{12}}$"
                )));
            }
        }
        let writer = self.lock_writer();
        let account_id = match account_id {
            Some(requested) => {
                if self.read().accounts.contains_key(requested) {
                    return Err(IdentityError::EntityAlreadyExists(format!(
                        "Account {requested} already exists."
                    )));
                }
                requested.to_string()
            }
            None => loop {
                let candidate = new_account_id()?;
                if !self.read().accounts.contains_key(&candidate) {
                    break candidate;
                }
            },
        };
        let id = access_key_id("AKIA")?;
        let secret = secret_access_key()?;
        let now_ms = self.now_ms();
        let key = AccessKey {
            wrapped_secret: self.wrap_secret(&id, &secret)?,
            access_key_id: id.clone(),
            account_id: account_id.clone(),
            owner: KeyOwner::Root,
            principal_arn: root_arn(&account_id),
            secret: Arc::new(Zeroizing::new(secret.to_string())),
            active: true,
            created_ms: now_ms,
        };
        self.commit(
            &writer,
            vec![
                Change::PutAccount {
                    account_id: account_id.clone(),
                    created_ms: now_ms,
                },
                Change::PutAccessKey(key),
            ],
        )?;
        Ok(NewAccount {
            account_id,
            access_key_id: id,
            secret_access_key: secret,
        })
    }
}
