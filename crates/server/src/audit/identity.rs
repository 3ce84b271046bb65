//! Who made a call, as CloudTrail's `userIdentity` says it.
//!
//! One function decides the identity of a [`Caller`]: [`identity_view`],
//! borrowed from the caller for the KMS event writer. [`user_identity`] is the
//! same identity as keyward-audit's record type, for the events still built
//! with the typed builders (IAM, STS, CloudTrail).

use keyward_audit::{
    IdentityType, IdentityView, SessionAttributesView, SessionContextView, SessionIssuerView,
    UserIdentity,
};
use keyward_policy::RequestPrincipal;
use keyward_principal::{Caller, ServiceMode};

use super::time_of_ms;

/// `userIdentity` for `caller`, from every field the `Caller` has.
pub fn user_identity(caller: &Caller, access_key_id: Option<&str>) -> UserIdentity {
    UserIdentity::from(&identity_view(caller, access_key_id))
}

/// [`user_identity`], borrowed from the caller.
pub fn identity_view<'a>(caller: &'a Caller, access_key_id: Option<&'a str>) -> IdentityView<'a> {
    let mut identity = match (caller.service_call(), caller.principal()) {
        (Some(call), _) if call.mode() == ServiceMode::AsItself => {
            return IdentityView::aws_service(call.service());
        }
        (_, RequestPrincipal::Account { account_id }) => {
            IdentityView::root(account_id, caller.principal_arn())
        }
        (_, RequestPrincipal::User { account_id, arn }) => IdentityView::iam_user(
            caller.user_id(),
            arn,
            account_id,
            caller.username().unwrap_or_else(|| last_segment(arn)),
        ),
        (
            _,
            RequestPrincipal::AssumedRole {
                account_id,
                role_arn,
                session_arn,
            },
        ) => {
            // `AROA…:session` → the role's own id is the part before the colon.
            let role_id = caller
                .user_id()
                .split_once(':')
                .map_or(caller.user_id(), |(id, _)| id);
            let issuer =
                SessionIssuerView::role(role_id, role_arn, account_id, last_segment(role_arn));
            // AWS writes both attributes for every role session; keyward
            // has no MFA, so a session never is MFA-authenticated.
            let attributes = caller
                .session_issued_ms()
                .map(|issued_ms| SessionAttributesView {
                    creation_date: time_of_ms(issued_ms),
                    mfa_authenticated: false,
                });
            let context = SessionContextView {
                session_issuer: Some(issuer),
                attributes,
            };
            IdentityView::assumed_role(caller.user_id(), session_arn, account_id, context)
        }
        (_, RequestPrincipal::Role { account_id, arn }) => IdentityView {
            identity_type: Some(IdentityType::Role),
            principal_id: Some(caller.user_id()),
            arn: Some(arn),
            account_id: Some(account_id),
            ..IdentityView::default()
        },
        (_, RequestPrincipal::FederatedUser { account_id, arn }) => IdentityView {
            identity_type: Some(IdentityType::FederatedUser),
            principal_id: Some(caller.user_id()),
            arn: Some(arn),
            account_id: Some(account_id),
            ..IdentityView::default()
        },
        (_, RequestPrincipal::Service { name }) => return IdentityView::aws_service(name),
        (_, RequestPrincipal::Federated { .. } | RequestPrincipal::Anonymous) => IdentityView {
            identity_type: Some(IdentityType::Unknown),
            principal_id: Some(caller.user_id()),
            account_id: Some(caller.account_id()),
            ..IdentityView::default()
        },
    };
    if let Some(access_key_id) = access_key_id {
        identity = identity.with_access_key_id(access_key_id);
    }
    if let Some(call) = caller.service_call() {
        if call.mode() == ServiceMode::ForCaller {
            identity = identity.with_invoked_by(call.service());
        }
    }
    identity
}

/// The part of an ARN after its last `/` (a user's, role's or key's name or id).
pub(super) fn last_segment(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
