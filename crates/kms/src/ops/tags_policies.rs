//! TagResource, UntagResource, ListResourceTags; GetKeyPolicy, PutKeyPolicy,
//! ListKeyPolicies; the checks a new key policy must pass.

use std::collections::BTreeMap;
use std::sync::Arc;

use keyward_policy::{Policy, PolicyError, PrincipalName, StatementError};

use crate::authz::{Ask, Outcome};
use crate::ids::Accepts;
use crate::ops::check_key_id;
use crate::paging::{decode_marker, limit, page};
use crate::state::KeyOperation;
use crate::validate::Violations;
use crate::KmsOperation;
use crate::{Caller, Kms, KmsError, Page, PageRequest, Tag};

/// AWS: 50 tags per key.
const MAX_TAGS: usize = 50;
use crate::key::{parse_key_policy, MAX_KEY_POLICY_BYTES};
const POLICY_NAME: &str = "default";

/// Model constraints and AWS's tag rules for a `Tags` list; returns the pairs.
pub(crate) fn check_tags(
    v: &mut Violations,
    tags: &[Tag],
) -> Result<Vec<(String, String)>, KmsError> {
    for (i, tag) in tags.iter().enumerate() {
        let base = format!("tags.{}.member", i + 1);
        v.required(&format!("{base}.tagKey"), &tag.key);
        v.required(&format!("{base}.tagValue"), &tag.value);
        v.length(&format!("{base}.tagKey"), tag.key.as_deref(), 1, 128);
        v.length(&format!("{base}.tagValue"), tag.value.as_deref(), 0, 256);
    }
    if !v.is_empty() {
        return Ok(Vec::new());
    }
    let mut seen = std::collections::BTreeSet::new();
    let mut pairs = Vec::with_capacity(tags.len());
    for tag in tags {
        let key = tag.key.clone().unwrap_or_default();
        if key.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")) {
            return Err(KmsError::Tag(
                "Tags beginning with aws: are reserved".into(),
            ));
        }
        if !seen.insert(key.clone()) {
            return Err(KmsError::Tag("Duplicate tag keys".into()));
        }
        pairs.push((key, tag.value.clone().unwrap_or_default()));
    }
    Ok(pairs)
}

/// Adds or overwrites `new` on `existing`, enforcing the 50-tag limit.
pub(crate) fn merge_tags(
    existing: &BTreeMap<String, String>,
    new: Vec<(String, String)>,
) -> Result<BTreeMap<String, String>, KmsError> {
    let mut merged = existing.clone();
    merged.extend(new);
    if merged.len() > MAX_TAGS {
        return Err(KmsError::Tag("Too many tags".into()));
    }
    Ok(merged)
}

/// MalformedPolicyDocumentException's message for a key policy the policy
/// language refuses: AWS KMS's own text where it is known, else the policy
/// crate's reason, which names the statement and what it lacks.
///
/// Statement shape, as AWS KMS checks it in CreateKey and PutKeyPolicy:
/// every statement needs `Effect` and a principal ("Policy contains a
/// statement with no principal." is AWS's answer); since August 18, 2025 it
/// also needs `Action` or `NotAction` and `Resource` or `NotResource` (the
/// AWS Health notice to KMS customers, quoted in
/// <https://github.com/ministryofjustice/analytical-platform/issues/7691>:
/// such requests "will be rejected with MalformedPolicyDocumentException
/// error"). AWS publishes no message text for those, so ours says which
/// statement lacks which element. Stored policies with such statements still
/// load; the statements never apply (`keyward_policy`, statement.rs).
fn malformed_key_policy_message(error: &PolicyError) -> String {
    match error {
        PolicyError::Statement {
            reason: StatementError::MissingPrincipal,
            ..
        } => "Policy contains a statement with no principal.".into(),
        other => other.to_string(),
    }
}

impl Kms {
    /// Everything a new key policy must pass, in AWS's order: the 32 KB
    /// quota (LimitExceededException), the policy language
    /// (MalformedPolicyDocumentException saying what is wrong), principals
    /// that exist, and — unless bypassed — the lockout safety check: the
    /// new policy must still let the caller call PutKeyPolicy on the key,
    /// counting the caller's IAM policies when the policy allows the
    /// account (reference/kms-api.md §8.3).
    pub(crate) fn check_key_policy(
        &self,
        caller: &Caller,
        text: &str,
        key_arn: &str,
        key_account: &str,
        bypass_lockout_check: bool,
    ) -> Result<Policy, KmsError> {
        if text.len() > MAX_KEY_POLICY_BYTES {
            return Err(KmsError::LimitExceeded(format!(
                "The key policy document is {} bytes; the limit is {MAX_KEY_POLICY_BYTES} bytes.",
                text.len()
            )));
        }
        let policy = parse_key_policy(text)
            .and_then(|policy| policy.require_complete_statements().map(|()| policy))
            .map_err(|e| KmsError::MalformedPolicyDocument(malformed_key_policy_message(&e)))?;
        let unknown = policy
            .named_principals()
            .into_iter()
            .any(|name| match &name {
                PrincipalName::Arn(_) => !self.directory.exists(&name),
                _ => false,
            });
        if unknown {
            return Err(KmsError::MalformedPolicyDocument(
                "Policy contains a statement with one or more invalid principals.".into(),
            ));
        }
        if !bypass_lockout_check {
            let ask = Ask::new(KmsOperation::PutKeyPolicy)
                .with("kms:BypassPolicyLockoutSafetyCheck", false);
            let request = self.request_context(caller, None, key_arn, &ask, Some(&policy));
            if self.policy_outcome(caller, &policy, key_account, &request) != Outcome::Allowed {
                return Err(KmsError::MalformedPolicyDocument(
                    "The new key policy will not allow you to update the key policy in the future."
                        .into(),
                ));
            }
        }
        Ok(policy)
    }
}

fn check_policy_name(v: &mut Violations, policy_name: Option<&str>) {
    v.length("policyName", policy_name, 1, 128);
}

fn require_default_policy_name(policy_name: Option<&str>) -> Result<(), KmsError> {
    match policy_name {
        None | Some(POLICY_NAME) => Ok(()),
        Some(other) => Err(KmsError::NotFound(format!(
            "No such policy exists: {other}. The only key policy name is default."
        ))),
    }
}

impl Kms {
    pub fn tag_resource(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        tags: Option<Vec<Tag>>,
    ) -> Result<(), KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.required("tags", &tags);
        let pairs = check_tags(&mut v, tags.as_deref().unwrap_or_default())?;
        v.finish()?;
        let ask = Ask::new(KmsOperation::TagResource).with_request_tags(&pairs);
        self.update_key(
            caller,
            key_id.as_deref().unwrap_or_default(),
            KeyOperation::Manage,
            ask,
            |key, _| {
                key.tags = merge_tags(&key.tags, pairs)?;
                Ok(())
            },
        )
    }

    pub fn untag_resource(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        tag_keys: Option<Vec<String>>,
    ) -> Result<(), KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        v.required("tagKeys", &tag_keys);
        for (i, tag_key) in tag_keys.iter().flatten().enumerate() {
            v.length(&format!("tagKeys.{}.member", i + 1), Some(tag_key), 1, 128);
        }
        v.finish()?;
        let ask = Ask::new(KmsOperation::UntagResource)
            .with_all("aws:TagKeys", tag_keys.iter().flatten().cloned());
        self.update_key(
            caller,
            key_id.as_deref().unwrap_or_default(),
            KeyOperation::Manage,
            ask,
            |key, _| {
                for tag_key in tag_keys.iter().flatten() {
                    key.tags.remove(tag_key);
                }
                Ok(())
            },
        )
    }

    pub fn list_resource_tags(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        request: PageRequest,
    ) -> Result<Page<(String, String)>, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        let limit = limit(&request, 50, 50, &mut v);
        v.finish()?;
        let start = decode_marker(&request)?;
        let key = self.resolve_for(
            caller,
            key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            KeyOperation::ReadOrDetach,
            Ask::new(KmsOperation::ListResourceTags),
        )?;
        let tags: Vec<(String, String)> = key
            .tags
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(page(tags, start.as_deref(), limit, |(k, _)| k.clone()))
    }

    pub fn get_key_policy(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        policy_name: Option<String>,
    ) -> Result<(String, &'static str), KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        check_policy_name(&mut v, policy_name.as_deref());
        v.finish()?;
        let key = self.resolve_for(
            caller,
            key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            KeyOperation::ReadOrDetach,
            Ask::new(KmsOperation::GetKeyPolicy),
        )?;
        require_default_policy_name(policy_name.as_deref())?;
        Ok((key.policy.clone(), POLICY_NAME))
    }

    pub fn put_key_policy(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        policy_name: Option<String>,
        policy: Option<String>,
        bypass_policy_lockout_safety_check: Option<bool>,
    ) -> Result<(), KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        check_policy_name(&mut v, policy_name.as_deref());
        v.required("policy", &policy);
        v.length("policy", policy.as_deref(), 1, 131_072);
        v.finish()?;
        let policy = policy.unwrap_or_default();
        require_default_policy_name(policy_name.as_deref())?;
        let bypass = bypass_policy_lockout_safety_check == Some(true);
        self.update_key(
            caller,
            key_id.as_deref().unwrap_or_default(),
            KeyOperation::ReadOrDetach,
            Ask::new(KmsOperation::PutKeyPolicy).with("kms:BypassPolicyLockoutSafetyCheck", bypass),
            |key, _| {
                let parsed =
                    self.check_key_policy(caller, &policy, &key.arn, &key.account_id, bypass)?;
                key.policy = policy;
                key.key_policy = Arc::new(parsed);
                key.policy_unreadable = false;
                Ok(())
            },
        )
    }

    pub fn list_key_policies(
        &self,
        caller: &Caller,
        key_id: Option<String>,
        request: PageRequest,
    ) -> Result<Page<String>, KmsError> {
        let mut v = Violations::new();
        check_key_id(&mut v, "keyId", &key_id);
        let limit = limit(&request, 100, 1000, &mut v);
        v.finish()?;
        let start = decode_marker(&request)?;
        self.resolve_for(
            caller,
            key_id.as_deref().unwrap_or_default(),
            Accepts::KeyOnly,
            KeyOperation::ReadOrDetach,
            Ask::new(KmsOperation::ListKeyPolicies),
        )?;
        Ok(page(
            vec![POLICY_NAME.to_string()],
            start.as_deref(),
            limit,
            Clone::clone,
        ))
    }
}
