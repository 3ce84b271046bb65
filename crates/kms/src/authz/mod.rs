//! Authorization of every KMS request: the request context (condition keys
//! with the values KMS gives them), the key policy, the caller's identity
//! policies and the key's grants, combined by [`decide`].
//!
//! Order inside an operation, as AWS: model validation, key resolution,
//! authorization, key state, the work, and DryRun last — so a dry run
//! answers `DryRunOperationException` only if the caller would have been
//! allowed.

mod decide;

use std::sync::Arc;

use keyward_policy::{
    ContextValue, Decision, Policy, PrincipalMatching, RequestContext, RequestPrincipal,
};
use keyward_principal::RequestContextBuilder;

pub(crate) use decide::{
    decide, decide_identity_only, message, CallerKind, Decisions, Denial, Outcome,
};

use crate::grants::Grant;
use crate::key::{Key, KEY_SPEC, KEY_USAGE, ORIGIN};
use crate::{Caller, Context, Kms, KmsError, KmsOperation, ServiceMode};

/// What the account's root user may still do on a key whose stored policy
/// does not parse: see the key and its policy text, and put a valid policy.
const LOCKED_KEY_ACTIONS: &[&str] = &[
    "DescribeKey",
    "GetKeyPolicy",
    "ListKeyPolicies",
    "PutKeyPolicy",
];

/// Grant constraints do not apply to these operations (AWS: "ignored for
/// DescribeKey and RetireGrant"); CreateGrant checks them its own way.
const UNCONSTRAINED_GRANT_OPERATIONS: &[&str] = &["DescribeKey", "RetireGrant", "CreateGrant"];

/// What a request asks to do: the IAM action and the request's own
/// condition keys.
#[derive(Debug, Clone)]
pub(crate) struct Ask {
    /// The operation asking (its row in the operation table).
    pub operation: KmsOperation,
    /// The action without its `kms:` prefix: `Decrypt`, `ReEncryptFrom`.
    pub action: &'static str,
    /// The request's encryption context, for grant constraints.
    pub encryption_context: Option<Context>,
    values: Vec<(String, Vec<ContextValue>)>,
}

impl Ask {
    /// What `operation` asks, with its own IAM action.
    pub(crate) fn new(operation: KmsOperation) -> Ask {
        Ask::for_action(operation, operation.action())
    }

    /// What `operation` asks with another of its actions (ReEncrypt's `ReEncryptTo`).
    pub(crate) fn for_action(operation: KmsOperation, action: &'static str) -> Ask {
        debug_assert!(operation.facts().actions.contains(&action));
        Ask {
            operation,
            action,
            encryption_context: None,
            values: Vec::new(),
        }
    }

    /// Adds a single-valued condition key.
    #[must_use]
    pub(crate) fn with(mut self, key: &str, value: impl Into<ContextValue>) -> Ask {
        self.values.push((key.to_string(), vec![value.into()]));
        self
    }

    /// Adds a multivalued condition key.
    #[must_use]
    pub(crate) fn with_all<V: Into<ContextValue>>(
        mut self,
        key: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Ask {
        self.values.push((
            key.to_string(),
            values.into_iter().map(Into::into).collect(),
        ));
        self
    }

    /// `kms:EncryptionContext:<key>` for each pair and `kms:EncryptionContextKeys`;
    /// the context is kept for grant constraints.
    #[must_use]
    pub(crate) fn with_encryption_context(mut self, context: Option<&Context>) -> Ask {
        let context = context.cloned().unwrap_or_default();
        for (key, value) in &context {
            self.values.push((
                format!("kms:EncryptionContext:{key}"),
                vec![ContextValue::String(value.clone())],
            ));
        }
        self.values.push((
            "kms:EncryptionContextKeys".to_string(),
            context
                .keys()
                .map(|k| ContextValue::String(k.clone()))
                .collect(),
        ));
        self.encryption_context = Some(context);
        self
    }

    /// `kms:EncryptionAlgorithm`, present even when the request took the default.
    #[must_use]
    pub(crate) fn with_algorithm(self, algorithm: Option<&str>) -> Ask {
        let algorithm = algorithm.unwrap_or(crate::ENCRYPTION_ALGORITHM).to_string();
        self.with("kms:EncryptionAlgorithm", algorithm)
    }

    /// `aws:RequestTag/<key>` for each tag and `aws:TagKeys`.
    #[must_use]
    pub(crate) fn with_request_tags(mut self, tags: &[(String, String)]) -> Ask {
        for (key, value) in tags {
            self.values.push((
                format!("aws:RequestTag/{key}"),
                vec![ContextValue::String(value.clone())],
            ));
        }
        self.with_all("aws:TagKeys", tags.iter().map(|(key, _)| key.clone()))
    }

    /// Whether the operation may name another account's key (the table's
    /// account column, kms-api.md §2.10).
    pub(crate) fn allows_cross_account(&self) -> bool {
        self.operation.facts().cross_account
    }
}

fn caller_kind(caller: &Caller) -> CallerKind {
    match caller.principal() {
        RequestPrincipal::Account { .. } => CallerKind::Root,
        RequestPrincipal::Service { .. } => CallerKind::Service,
        _ => CallerKind::Principal,
    }
}

/// The caller's identity policies, together: an explicit deny in any wins,
/// then an allow in any.
pub(crate) fn identity_decision(policies: &[Arc<Policy>], request: &RequestContext) -> Decision {
    let mut allowed = None;
    for policy in policies {
        match policy.evaluate(request) {
            deny @ Decision::ExplicitDeny(_) => return deny,
            allow @ Decision::Allow(_) => {
                allowed.get_or_insert(allow);
            }
            Decision::NotApplicable => {}
        }
    }
    allowed.unwrap_or(Decision::NotApplicable)
}

/// Authorization on a key whose stored policy does not parse (see
/// `key::stored_policy`): it fails closed. Neither policies nor grants
/// count; the account's own root user may describe the key, read its
/// policy text and put a valid policy, and everyone else is refused with a
/// message that says why.
pub(crate) fn authorize_locked(caller: &Caller, key: &Key, action: &str) -> Result<(), KmsError> {
    if caller.is_root()
        && caller.account_id() == key.account_id
        && LOCKED_KEY_ACTIONS.contains(&action)
    {
        return Ok(());
    }
    Err(KmsError::AccessDenied(format!(
        "User: {} is not authorized to perform: kms:{action} on resource: {} because the key policy stored for this key does not parse; only the account's root user can describe the key and replace its policy with PutKeyPolicy",
        caller.principal_arn(), key.arn
    )))
}

impl Kms {
    /// The request context of `ask` by `caller` on `resource` (`key`'s ARN,
    /// or `*` for actions without a key), for evaluating `resource_policy`
    /// and the caller's identity policies: the global condition keys
    /// (keyward-principal's builder, shared with every other service) and
    /// KMS's own, each only when one of those policies reads it.
    pub(crate) fn request_context(
        &self,
        caller: &Caller,
        key: Option<&Key>,
        resource: &str,
        ask: &Ask,
        resource_policy: Option<&Policy>,
    ) -> RequestContext {
        let policies = resource_policy
            .into_iter()
            .chain(caller.identity_policies().iter().map(|p| &**p));
        let mut c = RequestContextBuilder::new(
            caller,
            format!("kms:{}", ask.action),
            resource,
            policies,
            self.clock.now_ms(),
        );
        if let Some(call) = caller.service_call() {
            if call.mode() == ServiceMode::ForCaller {
                c.set("kms:ViaService", || call.via_service_value(&self.region));
            }
        }
        c.set("kms:CallerAccount", || caller.account_id().to_string());
        if let Some(key) = key {
            // Key properties, present on every key-resource operation.
            c.set("kms:KeySpec", || KEY_SPEC);
            c.set("kms:CustomerMasterKeySpec", || KEY_SPEC);
            c.set("kms:KeyUsage", || KEY_USAGE);
            c.set("kms:CustomerMasterKeyUsage", || KEY_USAGE);
            c.set("kms:KeyOrigin", || ORIGIN);
            c.set("kms:MultiRegion", || false);
            if c.reads_prefix("aws:ResourceTag/") {
                for (tag, value) in &key.tags {
                    c.set(&format!("aws:ResourceTag/{tag}"), || value.clone());
                }
            }
            if c.reads("kms:ResourceAliases") {
                c.set_values("kms:ResourceAliases", self.alias_names_of(&key.key_id));
            }
        }
        for (name, values) in &ask.values {
            c.set_values(name, values.iter().cloned());
        }
        c.build()
    }

    /// Authorizes `ask` by `caller` on `key`: key policy, identity policies,
    /// then the key's grants.
    pub(crate) fn authorize(&self, caller: &Caller, key: &Key, ask: &Ask) -> Result<(), KmsError> {
        if key.policy_unreadable {
            return authorize_locked(caller, key, ask.action);
        }
        let request = self.request_context(caller, Some(key), &key.arn, ask, Some(&key.key_policy));
        match self.policy_outcome(caller, &key.key_policy, &key.account_id, &request) {
            Outcome::Allowed => Ok(()),
            Outcome::NotAllowed(_) if self.grant_allows(caller, key, ask, &request).is_some() => {
                Ok(())
            }
            Outcome::NotAllowed(why) | Outcome::Denied(why) => Err(KmsError::AccessDenied(
                message(caller.principal_arn(), ask.action, Some(&key.arn), why),
            )),
        }
    }

    /// The policy half of [`Kms::authorize`], with `policy` standing for the
    /// key policy (the lockout check asks about a policy not yet in place).
    pub(crate) fn policy_outcome(
        &self,
        caller: &Caller,
        policy: &Policy,
        key_account: &str,
        request: &RequestContext,
    ) -> Outcome {
        let kind = caller_kind(caller);
        let account = RequestPrincipal::Account {
            account_id: caller.account_id().to_string(),
        };
        let decisions = Decisions {
            key_policy: policy.evaluate(request),
            key_policy_by_name: policy.evaluate_as(
                request,
                caller.principal(),
                PrincipalMatching::OwnIdentities,
            ),
            key_policy_for_account: if kind == CallerKind::Service {
                Decision::NotApplicable
            } else {
                policy.evaluate_as(request, &account, PrincipalMatching::AnyIdentity)
            },
            identity: identity_decision(caller.identity_policies(), request),
            same_account: caller.account_id() == key_account,
        };
        decide(kind, &decisions)
    }

    /// Authorizes by IAM alone: an action without a key resource (CreateKey,
    /// ListKeys, ListAliases, GenerateRandom, ListRetirableGrants; `resource`
    /// `None`, evaluated against `*`), or the alias half of an alias
    /// operation (`resource` the alias ARN). The root user may; anyone else
    /// needs an identity policy.
    pub(crate) fn authorize_by_iam(
        &self,
        caller: &Caller,
        ask: &Ask,
        resource: Option<&str>,
    ) -> Result<(), KmsError> {
        let request = self.request_context(caller, None, resource.unwrap_or("*"), ask, None);
        let identity = identity_decision(caller.identity_policies(), &request);
        match decide_identity_only(caller_kind(caller), &identity) {
            Outcome::Allowed => Ok(()),
            Outcome::NotAllowed(why) | Outcome::Denied(why) => Err(KmsError::AccessDenied(
                message(caller.principal_arn(), ask.action, resource, why),
            )),
        }
    }

    /// The first grant on `key` that lets `caller` do `ask`.
    pub(crate) fn grant_allows(
        &self,
        caller: &Caller,
        key: &Key,
        ask: &Ask,
        request: &RequestContext,
    ) -> Option<Arc<Grant>> {
        let state = self.read();
        let grants = state.grants_by_key.get(&key.key_id)?;
        grants
            .iter()
            .find(|grant| {
                grant.operations.iter().any(|op| op == ask.action)
                    && self.names_caller(&grant.grantee, caller, request)
                    && (UNCONSTRAINED_GRANT_OPERATIONS.contains(&ask.action)
                        || grant.constraints_hold(ask.encryption_context.as_ref()))
            })
            .cloned()
    }

    /// Whether a grant's grantee (or retiring principal) names the caller:
    /// by ARN, by role (for the role's sessions), by service name; or the
    /// caller's account, whose root may use it and whose other principals
    /// may when their IAM policies allow the request.
    pub(crate) fn names_caller(
        &self,
        grantee: &str,
        caller: &Caller,
        request: &RequestContext,
    ) -> bool {
        if grantee == caller.principal_arn() {
            return true;
        }
        match caller.principal() {
            RequestPrincipal::AssumedRole { role_arn, .. } if grantee == role_arn => return true,
            RequestPrincipal::Service { name } => return grantee == name,
            _ => {}
        }
        grantee == format!("arn:aws:iam::{}:root", caller.account_id())
            && (caller.is_root()
                || matches!(
                    identity_decision(caller.identity_policies(), request),
                    Decision::Allow(_)
                ))
    }
}
