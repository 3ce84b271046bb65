//! The KMS rule for combining a key policy, identity policies and grants,
//! as a pure function of decisions already made.
//!
//! From <https://docs.aws.amazon.com/kms/latest/developerguide/determining-access.html>
//! and the key-policy pages (reference/kms-api.md §8.2):
//! - an explicit `Deny` in the key policy or an identity policy wins;
//! - otherwise the request is allowed when the key policy allows the
//!   principal by name, or allows the principal's account *and* an identity
//!   policy of the principal allows the request, or a grant allows it;
//! - a key policy does not trust its own account implicitly: naming
//!   `arn:aws:iam::ACCT:root` is what lets IAM policies count;
//! - cross-account, the key policy must allow the external account or
//!   principal *and* the caller's identity policy must allow the request;
//! - the root user needs no identity policy in its own account, nor for
//!   reaching into another one (IAM allows it everything of its own).

use keyward_policy::Decision;

/// What the caller is, as far as combining decisions goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallerKind {
    /// The account's root user: identity is implicitly allowed.
    Root,
    /// A user, a role session: identity policies must allow.
    Principal,
    /// A service principal acting as itself: only the key policy can allow.
    Service,
}

/// The decisions one request collected.
#[derive(Debug, Clone)]
pub(crate) struct Decisions {
    /// The key policy, principals matched by every identity the caller
    /// holds (its account included).
    pub key_policy: Decision,
    /// The key policy, principals matched by the caller's own ARN only.
    pub key_policy_by_name: Decision,
    /// The key policy asked as the caller's account
    /// (`arn:aws:iam::ACCT:root`): does it delegate to IAM?
    pub key_policy_for_account: Decision,
    /// The caller's identity policies together (deny wins, then allow).
    pub identity: Decision,
    pub same_account: bool,
}

/// Why a request was refused, for AccessDeniedException's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial {
    ExplicitInResourcePolicy,
    ExplicitInIdentityPolicy,
    NoResourcePolicyAllows,
    NoIdentityPolicyAllows,
}

/// The outcome before grants are consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Allowed,
    /// Grants cannot help (an explicit deny).
    Denied(Denial),
    /// Denied by the policies; a grant may still allow.
    NotAllowed(Denial),
}

fn allows(decision: &Decision) -> bool {
    matches!(decision, Decision::Allow(_))
}

/// Combines key-policy and identity-policy decisions as KMS does.
pub(crate) fn decide(kind: CallerKind, d: &Decisions) -> Outcome {
    if matches!(d.key_policy, Decision::ExplicitDeny(_)) {
        return Outcome::Denied(Denial::ExplicitInResourcePolicy);
    }
    if kind == CallerKind::Principal && matches!(d.identity, Decision::ExplicitDeny(_)) {
        return Outcome::Denied(Denial::ExplicitInIdentityPolicy);
    }
    let identity_allows = match kind {
        CallerKind::Root => true,
        CallerKind::Principal => allows(&d.identity),
        CallerKind::Service => false,
    };
    let allowed = match kind {
        // A service is allowed by name (`{"Service": ...}`) or not at all.
        CallerKind::Service => allows(&d.key_policy),
        // Root is its account: any statement naming the account names root.
        CallerKind::Root => allows(&d.key_policy),
        CallerKind::Principal if d.same_account => {
            allows(&d.key_policy_by_name) || (allows(&d.key_policy_for_account) && identity_allows)
        }
        CallerKind::Principal => allows(&d.key_policy) && identity_allows,
    };
    if allowed {
        return Outcome::Allowed;
    }
    // Name the missing half: the key policy let the account (or the caller)
    // in, so it is the identity policy that is missing; otherwise the key
    // policy is.
    let key_policy_opened =
        allows(&d.key_policy_for_account) || (!d.same_account && allows(&d.key_policy));
    if kind == CallerKind::Principal && key_policy_opened && !identity_allows {
        Outcome::NotAllowed(Denial::NoIdentityPolicyAllows)
    } else {
        Outcome::NotAllowed(Denial::NoResourcePolicyAllows)
    }
}

/// An action without a key resource (CreateKey, ListKeys, …) is decided by
/// IAM alone: the root user may, anyone else needs an identity policy.
pub(crate) fn decide_identity_only(kind: CallerKind, identity: &Decision) -> Outcome {
    match (kind, identity) {
        (CallerKind::Principal, Decision::ExplicitDeny(_)) => {
            Outcome::Denied(Denial::ExplicitInIdentityPolicy)
        }
        (CallerKind::Root, _) | (CallerKind::Principal, Decision::Allow(_)) => Outcome::Allowed,
        _ => Outcome::NotAllowed(Denial::NoIdentityPolicyAllows),
    }
}

/// AWS's AccessDeniedException text.
pub(crate) fn message(
    principal_arn: &str,
    action: &str,
    resource: Option<&str>,
    why: Denial,
) -> String {
    let on = resource
        .map(|arn| format!(" on resource: {arn}"))
        .unwrap_or_default();
    let because = match why {
        Denial::ExplicitInResourcePolicy => {
            "with an explicit deny in a resource-based policy".to_string()
        }
        Denial::ExplicitInIdentityPolicy => {
            "with an explicit deny in an identity-based policy".to_string()
        }
        Denial::NoResourcePolicyAllows => {
            format!("because no resource-based policy allows the kms:{action} action")
        }
        Denial::NoIdentityPolicyAllows => {
            format!("because no identity-based policy allows the kms:{action} action")
        }
    };
    format!("User: {principal_arn} is not authorized to perform: kms:{action}{on} {because}")
}

#[cfg(test)]
mod tests {
    use keyward_policy::StatementRef;

    use super::*;

    fn allow() -> Decision {
        Decision::Allow(StatementRef {
            index: 0,
            sid: None,
        })
    }
    fn deny() -> Decision {
        Decision::ExplicitDeny(StatementRef {
            index: 0,
            sid: None,
        })
    }
    fn none() -> Decision {
        Decision::NotApplicable
    }

    fn decisions(
        key_policy: Decision,
        by_name: Decision,
        for_account: Decision,
        identity: Decision,
        same_account: bool,
    ) -> Decisions {
        Decisions {
            key_policy,
            key_policy_by_name: by_name,
            key_policy_for_account: for_account,
            identity,
            same_account,
        }
    }

    use CallerKind::*;
    use Denial::*;

    /// Each row: caller kind, the four decisions, same account, outcome.
    #[test]
    fn the_kms_combining_rule() {
        let rows: Vec<(CallerKind, Decisions, Outcome)> = vec![
            // Default key policy (allows the account), user with an identity policy.
            (
                Principal,
                decisions(allow(), none(), allow(), allow(), true),
                Outcome::Allowed,
            ),
            // ... without one: the identity half is missing.
            (
                Principal,
                decisions(allow(), none(), allow(), none(), true),
                Outcome::NotAllowed(NoIdentityPolicyAllows),
            ),
            // Key policy names the user: no identity policy needed.
            (
                Principal,
                decisions(allow(), allow(), none(), none(), true),
                Outcome::Allowed,
            ),
            // Key policy names neither: identity policy alone is not enough.
            (
                Principal,
                decisions(none(), none(), none(), allow(), true),
                Outcome::NotAllowed(NoResourcePolicyAllows),
            ),
            // Explicit deny anywhere wins.
            (
                Principal,
                decisions(deny(), allow(), allow(), allow(), true),
                Outcome::Denied(ExplicitInResourcePolicy),
            ),
            (
                Principal,
                decisions(allow(), allow(), allow(), deny(), true),
                Outcome::Denied(ExplicitInIdentityPolicy),
            ),
            // Root: the account statement is enough, identity implicit.
            (
                Root,
                decisions(allow(), allow(), allow(), none(), true),
                Outcome::Allowed,
            ),
            (
                Root,
                decisions(none(), none(), none(), none(), true),
                Outcome::NotAllowed(NoResourcePolicyAllows),
            ),
            (
                Root,
                decisions(deny(), none(), allow(), none(), true),
                Outcome::Denied(ExplicitInResourcePolicy),
            ),
            // Cross-account: the key policy names the other account, and IAM there allows.
            (
                Principal,
                decisions(allow(), none(), allow(), allow(), false),
                Outcome::Allowed,
            ),
            (
                Principal,
                decisions(allow(), none(), allow(), none(), false),
                Outcome::NotAllowed(NoIdentityPolicyAllows),
            ),
            // Cross-account, key policy names the external user: IAM must still allow.
            (
                Principal,
                decisions(allow(), allow(), none(), none(), false),
                Outcome::NotAllowed(NoIdentityPolicyAllows),
            ),
            (
                Principal,
                decisions(allow(), allow(), none(), allow(), false),
                Outcome::Allowed,
            ),
            (
                Principal,
                decisions(none(), none(), none(), allow(), false),
                Outcome::NotAllowed(NoResourcePolicyAllows),
            ),
            // Cross-account root.
            (
                Root,
                decisions(allow(), allow(), allow(), none(), false),
                Outcome::Allowed,
            ),
            (
                Root,
                decisions(none(), none(), none(), none(), false),
                Outcome::NotAllowed(NoResourcePolicyAllows),
            ),
            // A service principal: by the key policy alone.
            (
                Service,
                decisions(allow(), allow(), none(), none(), true),
                Outcome::Allowed,
            ),
            (
                Service,
                decisions(none(), none(), none(), allow(), true),
                Outcome::NotAllowed(NoResourcePolicyAllows),
            ),
        ];
        for (i, (kind, d, expected)) in rows.into_iter().enumerate() {
            assert_eq!(decide(kind, &d), expected, "row {i}: {kind:?} {d:?}");
        }
    }

    #[test]
    fn identity_only_actions() {
        assert_eq!(decide_identity_only(Root, &none()), Outcome::Allowed);
        assert_eq!(decide_identity_only(Principal, &allow()), Outcome::Allowed);
        assert_eq!(
            decide_identity_only(Principal, &none()),
            Outcome::NotAllowed(NoIdentityPolicyAllows)
        );
        assert_eq!(
            decide_identity_only(Principal, &deny()),
            Outcome::Denied(ExplicitInIdentityPolicy)
        );
        assert_eq!(
            decide_identity_only(Service, &allow()),
            Outcome::NotAllowed(NoIdentityPolicyAllows)
        );
    }

    #[test]
    fn messages_follow_aws_wording() {
        assert_eq!(
            message("arn:aws:iam::111122223333:user/alice", "Decrypt", Some("arn:aws:kms:us-east-1:111122223333:key/k"), NoResourcePolicyAllows),
            "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:Decrypt on resource: arn:aws:kms:us-east-1:111122223333:key/k because no resource-based policy allows the kms:Decrypt action"
        );
        assert_eq!(
            message("arn:aws:iam::111122223333:user/alice", "CreateKey", None, NoIdentityPolicyAllows),
            "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: kms:CreateKey because no identity-based policy allows the kms:CreateKey action"
        );
        assert_eq!(
            message("arn:aws:sts::111122223333:assumed-role/ops/s", "PutKeyPolicy", Some("K"), ExplicitInIdentityPolicy),
            "User: arn:aws:sts::111122223333:assumed-role/ops/s is not authorized to perform: kms:PutKeyPolicy on resource: K with an explicit deny in an identity-based policy"
        );
    }
}
