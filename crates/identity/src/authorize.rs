//! Whether a caller's identity policies allow an IAM or STS action, and the
//! request context both that and trust policies are evaluated against.
//!
//! IAM's rule for its own API
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html>):
//! the root user may do everything in its account; any other principal needs
//! an identity-based policy allowing the action on the resource, and an
//! explicit deny wins. IAM resources have no resource policies, so nothing
//! else can allow a request.

use keyward_kms::Caller;
use keyward_policy::{combine, RequestContext, RequestPrincipal, Verdict};
use time::OffsetDateTime;

use crate::error::IdentityError;

/// The request as policies see it: principal, action, resource, and the
/// global condition keys whose values the caller determines.
pub(crate) fn request_context(
    caller: &Caller,
    action: &str,
    resource: &str,
    now_ms: i64,
) -> RequestContext {
    let principal_arn = match &caller.principal {
        // aws:PrincipalArn of a role session is the role's ARN, not the session's
        // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalarn).
        RequestPrincipal::AssumedRole { role_arn, .. } => role_arn.clone(),
        _ => caller.principal_arn.clone(),
    };
    let principal_type = match &caller.principal {
        RequestPrincipal::Account { .. } => "Account",
        RequestPrincipal::User { .. } => "User",
        RequestPrincipal::AssumedRole { .. } | RequestPrincipal::Role { .. } => "AssumedRole",
        RequestPrincipal::FederatedUser { .. } => "FederatedUser",
        _ => "Anonymous",
    };
    let mut context = RequestContext::new(caller.principal.clone(), action, resource)
        .with_value("aws:PrincipalArn", principal_arn)
        .with_value("aws:PrincipalAccount", caller.account_id.as_str())
        .with_value("aws:PrincipalType", principal_type)
        .with_value("aws:userid", caller.user_id.as_str())
        .with_value("aws:SecureTransport", caller.secure_transport)
        .with_value("aws:EpochTime", now_ms.div_euclid(1000));
    if let Ok(now) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(now_ms) * 1_000_000) {
        context = context.with_value("aws:CurrentTime", now);
    }
    if let Some(username) = &caller.username {
        context = context.with_value("aws:username", username.as_str());
    }
    if let Some(ip) = caller.source_ip {
        context = context.with_value("aws:SourceIp", ip);
    }
    context
}

/// What the caller's identity policies say about `context`.
pub(crate) fn identity_verdict(caller: &Caller, context: &RequestContext) -> Verdict {
    let decisions: Vec<_> = caller
        .identity_policies
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
    let context = request_context(caller, action, resource, now_ms);
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
        caller.principal_arn
    ))
}
