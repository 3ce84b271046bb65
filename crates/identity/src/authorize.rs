//! Whether a caller's identity policies allow an IAM or STS action, and the
//! request context both that and trust policies are evaluated against.
//!
//! IAM's rule for its own API
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>):
//! the root user may do everything in its account; any other principal needs
//! an identity-based policy allowing the action on the resource, and an
//! explicit deny wins. IAM resources have no resource policies, so nothing
//! else can allow a request.

use keyward_policy::{combine, Policy, RequestContext, Verdict};
use keyward_principal::{Caller, RequestContextBuilder};

use crate::error::IdentityError;

/// The request as policies see it: principal, action, resource, and the
/// global condition keys (keyward-principal's builder, the one every service
/// uses) that `policies` read.
pub(crate) fn request_context<'p>(
    caller: &Caller,
    action: &str,
    resource: &str,
    policies: impl IntoIterator<Item = &'p Policy>,
    now_ms: i64,
) -> RequestContext {
    RequestContextBuilder::new(caller, action, resource, policies, now_ms).build()
}

/// What the caller's identity policies say about `context`.
pub(crate) fn identity_verdict(caller: &Caller, context: &RequestContext) -> Verdict {
    let decisions: Vec<_> = caller
        .identity_policies()
        .iter()
        .map(|p| p.evaluate(context))
        .collect();
    combine(decisions.iter())
}

/// Allows `action` on `resource` (an ARN in the caller's account) or answers
/// AccessDenied with AWS's wording.
pub(crate) fn authorize(
    caller: &Caller,
    action: &str,
    resource: &str,
    now_ms: i64,
) -> Result<(), IdentityError> {
    if caller.is_root() {
        return Ok(());
    }
    let policies = caller.identity_policies().iter().map(|p| &**p);
    let context = request_context(caller, action, resource, policies, now_ms);
    match identity_verdict(caller, &context) {
        Verdict::Allowed { .. } => Ok(()),
        Verdict::ExplicitlyDenied { .. } => Err(access_denied(
            caller,
            action,
            resource,
            " with an explicit deny in an identity-based policy",
        )),
        Verdict::ImplicitlyDenied => Err(access_denied(
            caller,
            action,
            resource,
            &format!(" because no identity-based policy allows the {action} action"),
        )),
    }
}

/// "User: ARN is not authorized to perform: ACTION on resource: RESOURCE…",
/// as IAM and STS word it (the reason suffix as AWS added it in 2021:
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html>).
pub(crate) fn access_denied(
    caller: &Caller,
    action: &str,
    resource: &str,
    reason: &str,
) -> IdentityError {
    IdentityError::AccessDenied(format!(
        "User: {} is not authorized to perform: {action} on resource: {resource}{reason}",
        caller.principal_arn()
    ))
}
