//! Deciding a request: one policy at a time, then all of them together.
//!
//! From <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>:
//! requests are denied by default; "an explicit deny in any policy overrides
//! any allows"; otherwise an applicable allow allows. [`Policy::evaluate`]
//! reports one policy's say, and [`combine`] applies that rule across several.
//! Which policies to combine, and how (a key policy that must first allow the
//! account before identity policies count, for instance), is the caller's
//! business: this module knows no service.
//!
//! Results are data — the decision and the statement that made it — so that a
//! caller can explain a denial or write it to an audit log.

use crate::context::{RequestContext, RequestPrincipal};
use crate::document::Policy;
use crate::principal::PrincipalMatching;
use crate::statement::Effect;

/// One policy's answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A `Deny` statement applies. Reported even if an `Allow` applies too.
    ExplicitDeny(StatementRef),
    /// An `Allow` statement applies and no `Deny` does.
    Allow(StatementRef),
    /// No statement applies.
    NotApplicable,
}

/// The statement behind a decision: the first applicable one of its effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementRef {
    /// Zero-based position in the policy's `Statement` list.
    pub index: usize,
    pub sid: Option<String>,
}

/// The combined answer of several policies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// `policy` is the position of the deciding [`Decision`] in the input.
    ExplicitlyDenied {
        policy: usize,
        statement: StatementRef,
    },
    Allowed {
        policy: usize,
        statement: StatementRef,
    },
    /// Nothing allowed the request: AWS's default deny.
    ImplicitlyDenied,
}

impl Policy {
    /// What this policy says about `request`: explicit deny, allow, or nothing.
    ///
    /// In a resource policy, each statement's `Principal`/`NotPrincipal` must
    /// match the request's principal; an identity policy speaks for the
    /// identity it is attached to and has no principal to match.
    #[must_use]
    pub fn evaluate(&self, request: &RequestContext) -> Decision {
        self.evaluate_as(request, request.principal(), PrincipalMatching::AnyIdentity)
    }

    /// [`Policy::evaluate`] for `principal` instead of the request's own,
    /// matching `Principal` elements as `matching` says. Everything else (the
    /// action, the resource, every condition value) comes from `request`.
    ///
    /// KMS decides a key policy three ways — does it deny this caller, allow
    /// this caller by name, allow the caller's account — and asking
    /// with another principal avoids rebuilding the request for each.
    #[must_use]
    pub fn evaluate_as(
        &self,
        request: &RequestContext,
        principal: &RequestPrincipal,
        matching: PrincipalMatching,
    ) -> Decision {
        let mut first_allow: Option<usize> = None;
        for (index, statement) in self.statements.iter().enumerate() {
            if !statement.applies_to(request, principal, matching) {
                continue;
            }
            match statement.effect {
                Effect::Deny => return Decision::ExplicitDeny(self.statement_ref(index)),
                Effect::Allow => {
                    first_allow.get_or_insert(index);
                }
            }
        }
        match first_allow {
            Some(index) => Decision::Allow(self.statement_ref(index)),
            None => Decision::NotApplicable,
        }
    }

    fn statement_ref(&self, index: usize) -> StatementRef {
        StatementRef {
            index,
            sid: self
                .statements
                .get(index)
                .and_then(|statement| statement.sid.clone()),
        }
    }
}

/// AWS's combining rule: an explicit deny anywhere wins; otherwise the first
/// allow; otherwise an implicit deny.
#[must_use]
pub fn combine<'a>(decisions: impl IntoIterator<Item = &'a Decision>) -> Verdict {
    let mut allowed: Option<Verdict> = None;
    for (policy, decision) in decisions.into_iter().enumerate() {
        match decision {
            Decision::ExplicitDeny(statement) => {
                return Verdict::ExplicitlyDenied {
                    policy,
                    statement: statement.clone(),
                }
            }
            Decision::Allow(statement) if allowed.is_none() => {
                allowed = Some(Verdict::Allowed {
                    policy,
                    statement: statement.clone(),
                });
            }
            Decision::Allow(_) | Decision::NotApplicable => {}
        }
    }
    allowed.unwrap_or(Verdict::ImplicitlyDenied)
}
