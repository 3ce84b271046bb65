//! CreateAlias, UpdateAlias, DeleteAlias, ListAliases.
//! See <https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html>.

//!
//! Authorization: an alias operation acts on two resources, the alias (IAM
//! policies only: `kms:CreateAlias` on the alias ARN) and each key involved
//! (key policy and IAM, as any key operation).

use crate::authz::Ask;
use crate::ids::{alias_arn, Accepts};
use crate::key::Key;
use crate::ops::check_key_id;
use crate::paging::{decode_marker, limit, page};
use crate::service::{Alias, Change, State};
use crate::state::KeyOperation;
use crate::validate::Violations;
use crate::KmsOperation;
use crate::{AliasListEntry, Caller, Kms, KmsError, Page, PageRequest};

/// AWS: at most 50 aliases per key.
const MAX_ALIASES_PER_KEY: usize = 50;

fn check_alias_name(v: &mut Violations, alias_name: &Option<String>) {
    v.required("aliasName", alias_name);
    v.length("aliasName", alias_name.as_deref(), 1, 256);
    v.name_pattern("aliasName", alias_name.as_deref());
}

fn check_alias_prefix(alias_name: &str) -> Result<(), KmsError> {
    if !alias_name.starts_with("alias/") || alias_name.len() == "alias/".len() {
        return Err(KmsError::ValidationMessage(
            "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html".into(),
        ));
    }
    if alias_name.starts_with("alias/aws/") {
        return Err(KmsError::NotAuthorized(
            "Alias names that begin with alias/aws/ are reserved for AWS managed keys.".into(),
        ));
    }
    Ok(())
}

impl Kms {
    pub fn create_alias(
        &self,
        caller: &Caller,
        alias_name: Option<String>,
        target_key_id: Option<String>,
    ) -> Result<(), KmsError> {
        let mut v = Violations::new();
        check_alias_name(&mut v, &alias_name);
        check_key_id(&mut v, "targetKeyId", &target_key_id);
        v.finish()?;
        let alias_name = alias_name.unwrap_or_default();
        check_alias_prefix(&alias_name)?;
        let writer = self.lock_writer();
        let key = self.resolve_for(
            caller,
            target_key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            KeyOperation::Manage,
            Ask::new(KmsOperation::CreateAlias),
        )?;
        self.authorize_by_iam(
            caller,
            &Ask::new(KmsOperation::CreateAlias),
            Some(&alias_arn(&self.region, caller.account_id(), &alias_name)),
        )?;
        {
            let state = self.read();
            if state
                .aliases
                .contains_key(&(caller.account_id().to_string(), alias_name.clone()))
            {
                return Err(KmsError::AlreadyExists(format!(
                    "An alias with the name {} already exists",
                    alias_arn(&self.region, caller.account_id(), &alias_name)
                )));
            }
            self.check_alias_quota(&state, &key)?;
        }
        let now = self.clock.now_ms();
        let alias = Alias {
            account_id: caller.account_id().to_string(),
            alias_name,
            target_key_id: key.key_id.clone(),
            created_ms: now,
            updated_ms: now,
        };
        self.commit(&writer, vec![Change::PutAlias(alias)])
    }

    pub fn update_alias(
        &self,
        caller: &Caller,
        alias_name: Option<String>,
        target_key_id: Option<String>,
    ) -> Result<(), KmsError> {
        let mut v = Violations::new();
        check_alias_name(&mut v, &alias_name);
        check_key_id(&mut v, "targetKeyId", &target_key_id);
        v.finish()?;
        let alias_name = alias_name.unwrap_or_default();
        check_alias_prefix(&alias_name)?;
        let writer = self.lock_writer();
        let mut alias = self.existing_alias(caller, &alias_name)?;
        self.authorize_by_iam(
            caller,
            &Ask::new(KmsOperation::UpdateAlias),
            Some(&alias_arn(&self.region, caller.account_id(), &alias_name)),
        )?;
        // Both keys: the one the alias leaves and the one it moves to.
        if let Some(current) = self.key_by_id(&alias.target_key_id) {
            self.authorize(caller, &current, &Ask::new(KmsOperation::UpdateAlias))?;
        }
        // AWS: the source key may be in any state; the new target must not be pending deletion.
        let key = self.resolve_for(
            caller,
            target_key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            KeyOperation::Manage,
            Ask::new(KmsOperation::UpdateAlias),
        )?;
        if alias.target_key_id != key.key_id {
            self.check_alias_quota(&self.read(), &key)?;
        }
        alias.target_key_id = key.key_id.clone();
        alias.updated_ms = self.clock.now_ms();
        self.commit(&writer, vec![Change::PutAlias(alias)])
    }

    pub fn delete_alias(
        &self,
        caller: &Caller,
        alias_name: Option<String>,
    ) -> Result<(), KmsError> {
        let mut v = Violations::new();
        check_alias_name(&mut v, &alias_name);
        v.finish()?;
        let alias_name = alias_name.unwrap_or_default();
        check_alias_prefix(&alias_name)?;
        let writer = self.lock_writer();
        let alias = self.existing_alias(caller, &alias_name)?;
        self.authorize_by_iam(
            caller,
            &Ask::new(KmsOperation::DeleteAlias),
            Some(&alias_arn(&self.region, caller.account_id(), &alias_name)),
        )?;
        if let Some(key) = self.key_by_id(&alias.target_key_id) {
            self.authorize(caller, &key, &Ask::new(KmsOperation::DeleteAlias))?;
        }
        self.commit(
            &writer,
            vec![Change::DeleteAlias {
                account_id: alias.account_id,
                alias_name: alias.alias_name,
            }],
        )
    }

    /// One more alias for `key` must stay within AWS's 50 per key.
    fn check_alias_quota(&self, state: &State, key: &Key) -> Result<(), KmsError> {
        let count = state
            .alias_names_by_key
            .get(&key.key_id)
            .map_or(0, Vec::len);
        if count >= MAX_ALIASES_PER_KEY {
            return Err(KmsError::LimitExceeded(format!(
                "The key {} already has the maximum number of aliases ({MAX_ALIASES_PER_KEY}).",
                key.arn
            )));
        }
        Ok(())
    }

    fn existing_alias(&self, caller: &Caller, alias_name: &str) -> Result<Alias, KmsError> {
        self.read()
            .aliases
            .get(&(caller.account_id().to_string(), alias_name.to_string()))
            .cloned()
            .ok_or_else(|| {
                KmsError::NotFound(format!(
                    "Alias {} is not found.",
                    alias_arn(&self.region, caller.account_id(), alias_name)
                ))
            })
    }

    pub fn list_aliases(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        request: PageRequest,
    ) -> Result<Page<AliasListEntry>, KmsError> {
        let mut v = Violations::new();
        v.length("keyId", key_id.as_deref(), 1, super::KEY_ID_MAX);
        let limit = limit(&request, 50, 100, &mut v);
        v.finish()?;
        let start = decode_marker(&request)?;
        self.authorize_by_iam(caller, &Ask::new(KmsOperation::ListAliases), None)?;
        let only_key = match key_id {
            Some(k) => Some(
                self.resolve(caller, &k, Accepts::KeyOnly, false)?
                    .0
                    .key_id
                    .clone(),
            ),
            None => None,
        };
        let mut aliases: Vec<AliasListEntry> = self
            .read()
            .aliases
            .values()
            .filter(|a| a.account_id == caller.account_id())
            .filter(|a| only_key.as_ref().is_none_or(|k| &a.target_key_id == k))
            .map(|a| AliasListEntry {
                alias_name: a.alias_name.clone(),
                alias_arn: alias_arn(&self.region, &a.account_id, &a.alias_name),
                target_key_id: a.target_key_id.clone(),
                creation_date_ms: a.created_ms,
                last_updated_date_ms: a.updated_ms,
            })
            .collect();
        aliases.sort_by(|a, b| a.alias_name.cmp(&b.alias_name));
        Ok(page(aliases, start.as_deref(), limit, |a| {
            a.alias_name.clone()
        }))
    }
}
