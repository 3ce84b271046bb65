//! CreateGrant, ListGrants, ListRetirableGrants, RetireGrant, RevokeGrant
//! (reference/kms-api.md §2.4 and §7;
//! <https://docs.aws.amazon.com/kms/latest/developerguide/grants.html>).

use keyward_crypto::random_bytes;
use keyward_policy::PrincipalName;

use crate::authz::{Ask, Denial, Outcome};
use crate::grants::{
    grant_token, parse_grant_token, Grant, GRANT_OPERATIONS, NOT_FOR_SYMMETRIC_KEYS,
};
use crate::ids::Accepts;
use crate::key::Key;
use crate::ops::{check_grant_token_syntax, check_grant_tokens, check_key_id, finish_dry_run};
use crate::paging::{decode_marker, limit, page};
use crate::service::Change;
use crate::state::KeyOperation;
use crate::validate::Violations;
use crate::KmsOperation;
use crate::{
    Caller, CreateGrantInput, CreateGrantOutput, GrantConstraints, GrantListEntry, Kms, KmsError,
    Page, PageRequest, RetireGrantInput, RetiredGrant,
};

/// AWS: 50,000 grants per key (adjustable there, fixed here).
pub(crate) const MAX_GRANTS_PER_KEY: usize = 50_000;
/// AWS's historic quota of grants for one grantee on one key.
pub(crate) const MAX_GRANTS_PER_GRANTEE: usize = 500;
/// AWS: at most 8 pairs per constraint, values of at most 384 characters.
const MAX_CONSTRAINT_PAIRS: usize = 8;
const MAX_CONSTRAINT_VALUE: usize = 384;

/// `^[\w+=,.@:/-]+$`, the model's pattern for grantee and retiring principals.
fn principal_pattern(v: &mut Violations, member: &str, value: Option<&str>) {
    v.length(member, value, 1, 256);
    v.pattern(member, value, r"^[\w+=,.@:/-]+$", |text| {
        text.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c))
    });
}

/// What a principal string in a grant names, for the existence check.
fn principal_name(text: &str) -> Option<PrincipalName> {
    let rest = text.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let (_partition, service, _region, account, resource) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    match (service, resource) {
        ("iam", "root") => Some(PrincipalName::Account(account.to_string())),
        ("iam" | "sts", _) => Some(PrincipalName::Arn(text.to_string())),
        _ => None,
    }
}

fn check_constraints(constraints: &GrantConstraints) -> Result<(), KmsError> {
    for map in [
        &constraints.encryption_context_subset,
        &constraints.encryption_context_equals,
    ]
    .into_iter()
    .flatten()
    {
        if map.len() > MAX_CONSTRAINT_PAIRS
            || map
                .values()
                .any(|v| v.chars().count() > MAX_CONSTRAINT_VALUE)
        {
            return Err(KmsError::ValidationMessage(format!(
                "A grant constraint may hold at most {MAX_CONSTRAINT_PAIRS} encryption context pairs, each value at most {MAX_CONSTRAINT_VALUE} characters."
            )));
        }
    }
    Ok(())
}

fn list_entry(key: &Key, grant: &Grant) -> GrantListEntry {
    GrantListEntry {
        key_id: key.arn.clone(),
        grant_id: grant.grant_id.clone(),
        name: grant.name.clone(),
        creation_date_ms: grant.created_ms,
        grantee_principal: grant.grantee.clone(),
        retiring_principal: grant.retiring.clone(),
        issuing_account: grant.issuing_account.clone(),
        operations: grant.operations.clone(),
        constraints: grant.constraints.clone(),
    }
}

/// The order grants are listed in: oldest first, ties by id.
fn sort_key(entry: &GrantListEntry) -> String {
    format!("{:020}{}", entry.creation_date_ms.max(0), entry.grant_id)
}

impl Kms {
    pub fn create_grant(
        &self,
        caller: &Caller,
        input: CreateGrantInput,
    ) -> Result<CreateGrantOutput, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &input.key_id);
        v.required("granteePrincipal", &input.grantee_principal);
        principal_pattern(
            &mut v,
            "granteePrincipal",
            input.grantee_principal.as_deref(),
        );
        principal_pattern(
            &mut v,
            "retiringPrincipal",
            input.retiring_principal.as_deref(),
        );
        v.required("operations", &input.operations);
        for (i, op) in input.operations.iter().flatten().enumerate() {
            v.one_of(
                &format!("operations.{}.member", i + 1),
                Some(op),
                GRANT_OPERATIONS,
            );
        }
        check_grant_tokens(&mut v, &input.grant_tokens);
        v.length("name", input.name.as_deref(), 1, 256);
        v.name_pattern("name", input.name.as_deref());
        v.finish()?;
        check_grant_token_syntax(&input.grant_tokens)?;
        let mut operations: Vec<String> = Vec::new();
        for op in input.operations.iter().flatten() {
            if !operations.contains(op) {
                operations.push(op.clone());
            }
        }
        if operations.is_empty() {
            return Err(KmsError::ValidationMessage(
                "A grant must allow at least one operation.".into(),
            ));
        }
        if let Some(constraints) = &input.constraints {
            check_constraints(constraints)?;
        }
        let constraints = input.constraints.filter(|c| {
            c.encryption_context_subset.is_some() || c.encryption_context_equals.is_some()
        });
        let grantee = input.grantee_principal.unwrap_or_default();

        let writer = self.lock_writer();
        let (key, _) = self.resolve(
            caller,
            input.key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            true,
        )?;
        // Authorization, with the condition keys CreateGrant carries.
        let mut ask = Ask::new(KmsOperation::CreateGrant)
            .with_all("kms:GrantOperations", operations.iter().cloned())
            .with("kms:GranteePrincipal", grantee.clone())
            .with(
                "kms:GrantIsForAWSResource",
                caller.is_acting_through_a_service(),
            );
        if let Some(retiring) = &input.retiring_principal {
            ask = ask.with("kms:RetiringPrincipal", retiring.clone());
        }
        if let Some(constraints) = &constraints {
            ask = ask.with_all("kms:GrantConstraintType", constraints.types());
            let pairs = constraints
                .encryption_context_equals
                .as_ref()
                .or(constraints.encryption_context_subset.as_ref());
            ask = ask.with_encryption_context(pairs);
        }
        self.authorize_create_grant(caller, &key, &ask, &operations, constraints.as_ref())?;
        key.state.allows(KeyOperation::Cryptographic, &key.arn)?;

        if let Some(bad) = operations
            .iter()
            .find(|op| NOT_FOR_SYMMETRIC_KEYS.contains(&op.as_str()))
        {
            return Err(KmsError::ValidationMessage(format!(
                "Grant operation {bad} is not valid for a symmetric encryption KMS key ({}).",
                key.arn
            )));
        }
        for principal in std::iter::once(&grantee).chain(input.retiring_principal.iter()) {
            if let Some(name) = principal_name(principal) {
                if !self.directory.exists(&name) {
                    return Err(KmsError::InvalidArn(format!(
                        "ARN does not refer to a valid principal: {principal}"
                    )));
                }
            }
        }
        finish_dry_run(input.dry_run)?;

        let now = self.clock.now_ms();
        let mut candidate = Grant {
            grant_id: String::new(),
            key_id: key.key_id.clone(),
            key_account: key.account_id.clone(),
            name: input.name,
            created_ms: now,
            grantee,
            retiring: input.retiring_principal,
            operations,
            constraints,
            issuing_account: format!("arn:aws:iam::{}:root", caller.account_id()),
        };
        let mut nonce = [0u8; 16];
        random_bytes(&mut nonce).map_err(KmsError::crypto)?;
        let (existing, on_key, for_grantee) = {
            let state = self.read();
            let grants = state.grants_by_key.get(&key.key_id);
            let existing = grants
                .into_iter()
                .flatten()
                .find(|g| g.same_request(&candidate))
                .cloned();
            let on_key = grants.map_or(0, Vec::len);
            let for_grantee = grants
                .into_iter()
                .flatten()
                .filter(|g| g.grantee == candidate.grantee)
                .count();
            (existing, on_key, for_grantee)
        };
        if let Some(existing) = existing {
            let id = grant_id_bytes(&existing.grant_id)?;
            return Ok(CreateGrantOutput {
                grant_token: grant_token(&id, &key.key_id_bytes, &nonce),
                grant_id: existing.grant_id.clone(),
                key_arn: key.arn.clone(),
            });
        }
        if on_key >= MAX_GRANTS_PER_KEY || for_grantee >= MAX_GRANTS_PER_GRANTEE {
            return Err(KmsError::LimitExceeded(format!(
                "The grant quota for {} has been reached ({MAX_GRANTS_PER_KEY} grants per key, {MAX_GRANTS_PER_GRANTEE} per grantee principal).",
                key.arn
            )));
        }
        let mut id = [0u8; 32];
        random_bytes(&mut id).map_err(KmsError::crypto)?;
        candidate.grant_id = hex::encode(id);
        let output = CreateGrantOutput {
            grant_token: grant_token(&id, &key.key_id_bytes, &nonce),
            grant_id: candidate.grant_id.clone(),
            key_arn: key.arn.clone(),
        };
        self.commit(&writer, vec![Change::PutGrant(candidate)])?;
        Ok(output)
    }

    /// CreateGrant's authorization: the policies, or a grant of the caller
    /// that includes CreateGrant — and then the new grant may be no wider
    /// than that one (a subset of its operations, constraints at least as
    /// strict). Those limits do not bind callers the policies allow.
    fn authorize_create_grant(
        &self,
        caller: &Caller,
        key: &Key,
        ask: &Ask,
        operations: &[String],
        constraints: Option<&GrantConstraints>,
    ) -> Result<(), KmsError> {
        if key.policy_unreadable {
            return crate::authz::authorize_locked(caller, key, "CreateGrant");
        }
        let request = self.request_context(caller, Some(key), &key.arn, ask, Some(&key.key_policy));
        let why = match self.policy_outcome(caller, &key.key_policy, &key.account_id, &request) {
            Outcome::Allowed => return Ok(()),
            Outcome::Denied(why) => why,
            Outcome::NotAllowed(why) => {
                let empty = GrantConstraints::default();
                let child = constraints.unwrap_or(&empty);
                let state = self.read();
                let parents = state.grants_by_key.get(&key.key_id);
                let within_a_parent = parents.into_iter().flatten().any(|parent| {
                    parent.operations.iter().any(|op| op == "CreateGrant")
                        && self.names_caller(&parent.grantee, caller, &request)
                        && operations.iter().all(|op| parent.operations.contains(op))
                        && child
                            .at_least_as_strict_as(parent.constraints.as_ref().unwrap_or(&empty))
                });
                if within_a_parent {
                    return Ok(());
                }
                why
            }
        };
        Err(KmsError::AccessDenied(crate::authz::message(
            caller.principal_arn(),
            "CreateGrant",
            Some(&key.arn),
            why,
        )))
    }

    pub fn list_grants(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        grant_id: Option<String>,
        grantee_principal: Option<String>,
        request: PageRequest,
    ) -> Result<Page<GrantListEntry>, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.length("grantId", grant_id.as_deref(), 1, 128);
        principal_pattern(&mut v, "granteePrincipal", grantee_principal.as_deref());
        let limit = limit(&request, 50, 100, &mut v);
        v.finish()?;
        let start = decode_marker(&request)?;
        let key = self.resolve_for(
            caller,
            key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            KeyOperation::ReadOrDetach,
            Ask::new(KmsOperation::ListGrants).with(
                "kms:GrantIsForAWSResource",
                caller.is_acting_through_a_service(),
            ),
        )?;
        if let Some(id) = &grant_id {
            if !is_grant_id(id) {
                return Err(KmsError::InvalidGrantId(format!("Invalid grant ID: {id}")));
            }
        }
        let state = self.read();
        let mut entries: Vec<GrantListEntry> = state
            .grants_by_key
            .get(&key.key_id)
            .into_iter()
            .flatten()
            .filter(|g| grant_id.as_ref().is_none_or(|id| &g.grant_id == id))
            .filter(|g| grantee_principal.as_ref().is_none_or(|p| &g.grantee == p))
            .map(|g| list_entry(&key, g))
            .collect();
        drop(state);
        entries.sort_by_key(sort_key);
        Ok(page(entries, start.as_deref(), limit, sort_key))
    }

    pub fn list_retirable_grants(
        &self,
        caller: &Caller,
        retiring_principal: Option<String>,
        request: PageRequest,
    ) -> Result<Page<GrantListEntry>, KmsError> {
        let mut v = Violations::new();
        v.required("retiringPrincipal", &retiring_principal);
        principal_pattern(&mut v, "retiringPrincipal", retiring_principal.as_deref());
        let limit = limit(&request, 50, 100, &mut v);
        v.finish()?;
        let start = decode_marker(&request)?;
        let retiring = retiring_principal.unwrap_or_default();
        // AWS: "You must specify a principal in your Amazon Web Services
        // account", which is the resource authorized; the grants listed may
        // be on other accounts' keys. A principal of another account is
        // refused, or the listing would show that account's grants.
        // A service principal belongs to no account: only grants on the
        // caller's own keys are listed for it.
        let retiring_account = principal_account(&retiring);
        let ask = Ask::new(KmsOperation::ListRetirableGrants);
        if retiring_account
            .as_ref()
            .is_some_and(|account| *account != caller.account_id())
        {
            return Err(KmsError::AccessDenied(crate::authz::message(
                caller.principal_arn(),
                ask.action,
                Some(&retiring),
                crate::authz::Denial::NoResourcePolicyAllows,
            )));
        }
        self.authorize_by_iam(caller, &ask, Some(&retiring))?;
        let state = self.read();
        let mut entries: Vec<GrantListEntry> = state
            .grants
            .values()
            .filter(|g| g.retiring.as_deref() == Some(retiring.as_str()))
            .filter_map(|g| state.keys.get(&g.key_id).map(|key| (key, g)))
            .filter(|(key, _)| retiring_account.is_some() || key.account_id == caller.account_id())
            .map(|(key, g)| list_entry(key, g))
            .collect();
        drop(state);
        entries.sort_by_key(sort_key);
        Ok(page(entries, start.as_deref(), limit, sort_key))
    }

    pub fn retire_grant(
        &self,
        caller: &Caller,
        input: RetireGrantInput,
    ) -> Result<RetiredGrant, KmsError> {
        let mut v = Violations::new();
        v.length("grantToken", input.grant_token.as_deref(), 1, 8192);
        v.length("keyId", input.key_id.as_deref(), 1, super::KEY_ID_MAX);
        v.length("grantId", input.grant_id.as_deref(), 1, 128);
        v.finish()?;
        let writer = self.lock_writer();
        let (grant, key) = match (&input.grant_token, &input.key_id, &input.grant_id) {
            (Some(token), _, _) => {
                let (grant_id, key_id) = parse_grant_token(token).ok_or_else(|| {
                    KmsError::InvalidGrantToken("The grant token is not valid.".into())
                })?;
                let grant = self.read().grants.get(&grant_id).cloned();
                let grant = grant.filter(|g| g.key_id == key_id).ok_or_else(|| {
                    KmsError::NotFound(format!("Grant {grant_id} does not exist."))
                })?;
                let key = self.key_by_id(&grant.key_id).ok_or_else(|| {
                    KmsError::NotFound(format!("Grant {grant_id} does not exist."))
                })?;
                (grant, key)
            }
            (None, Some(key_id), Some(grant_id)) => {
                let (key, _) = self.resolve(caller, key_id, Accepts::KeyOnly, true)?;
                (self.grant_on(&key, grant_id)?, key)
            }
            _ => {
                return Err(KmsError::ValidationMessage(
                    "RetireGrant needs a GrantToken, or both KeyId and GrantId.".into(),
                ))
            }
        };
        self.authorize_retire(caller, &key, &grant)?;
        finish_dry_run(input.dry_run)?;
        self.commit(&writer, vec![Change::DeleteGrant(grant.grant_id.clone())])?;
        Ok(RetiredGrant {
            grant_id: grant.grant_id.clone(),
            key_arn: key.arn.clone(),
        })
    }

    /// Who may retire a grant (reference/kms-api.md §7): its retiring
    /// principal; its grantee when the grant includes RetireGrant; the
    /// account that owns it (root), and principals of those accounts whose
    /// IAM policies allow `kms:RetireGrant`. A key policy does not count,
    /// and an IAM deny blocks.
    fn authorize_retire(&self, caller: &Caller, key: &Key, grant: &Grant) -> Result<(), KmsError> {
        let ask = Ask::new(KmsOperation::RetireGrant);
        let request = self.request_context(caller, Some(key), &key.arn, &ask, None);
        let identity = crate::authz::identity_decision(caller.identity_policies(), &request);
        let denial = |why| {
            KmsError::AccessDenied(crate::authz::message(
                caller.principal_arn(),
                "RetireGrant",
                Some(&key.arn),
                why,
            ))
        };
        if !caller.is_root() && matches!(identity, keyward_policy::Decision::ExplicitDeny(_)) {
            return Err(denial(Denial::ExplicitInIdentityPolicy));
        }
        let named = |principal: &str| self.names_caller(principal, caller, &request);
        let is_retiring = grant.retiring.as_deref().is_some_and(named);
        let is_grantee =
            grant.operations.iter().any(|op| op == "RetireGrant") && named(&grant.grantee);
        let accounts = [
            Some(grant.key_account.clone()),
            principal_account(&grant.grantee),
            grant.retiring.as_deref().and_then(principal_account),
        ];
        let in_an_account = accounts
            .iter()
            .flatten()
            .any(|account| *account == caller.account_id());
        let delegated = in_an_account
            && (caller.is_root() || matches!(identity, keyward_policy::Decision::Allow(_)));
        if is_retiring || is_grantee || delegated {
            Ok(())
        } else {
            Err(denial(Denial::NoIdentityPolicyAllows))
        }
    }

    pub fn revoke_grant(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        grant_id: Option<String>,
        dry_run: Option<bool>,
    ) -> Result<(), KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.required("grantId", &grant_id);
        v.length("grantId", grant_id.as_deref(), 1, 128);
        v.finish()?;
        let writer = self.lock_writer();
        let key = self.resolve_for(
            caller,
            key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            KeyOperation::ReadOrDetach,
            Ask::new(KmsOperation::RevokeGrant),
        )?;
        let grant = self.grant_on(&key, grant_id.as_deref().unwrap_or_default())?;
        finish_dry_run(dry_run)?;
        self.commit(&writer, vec![Change::DeleteGrant(grant.grant_id.clone())])
    }

    /// The grant `grant_id` of `key`.
    fn grant_on(&self, key: &Key, grant_id: &str) -> Result<std::sync::Arc<Grant>, KmsError> {
        if !is_grant_id(grant_id) {
            return Err(KmsError::InvalidGrantId(format!(
                "Invalid grant ID: {grant_id}"
            )));
        }
        self.read()
            .grants
            .get(grant_id)
            .filter(|g| g.key_id == key.key_id)
            .cloned()
            .ok_or_else(|| {
                KmsError::NotFound(format!(
                    "Grant {grant_id} does not exist for key {}.",
                    key.arn
                ))
            })
    }
}

/// Grant ids keyward issues: 64 lowercase hex digits.
fn is_grant_id(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn grant_id_bytes(grant_id: &str) -> Result<[u8; 32], KmsError> {
    let bytes = hex::decode(grant_id)
        .map_err(|_| crate::InternalError::Inconsistent(format!("grant id {grant_id}")))?;
    bytes
        .try_into()
        .map_err(|_| crate::InternalError::Inconsistent(format!("grant id {grant_id}")).into())
}

/// The account of an IAM/STS principal ARN.
fn principal_account(principal: &str) -> Option<String> {
    let mut parts = principal.strip_prefix("arn:")?.splitn(5, ':');
    parts.next()?;
    parts.next()?;
    parts.next()?;
    Some(parts.next()?.to_string()).filter(|a| !a.is_empty())
}
