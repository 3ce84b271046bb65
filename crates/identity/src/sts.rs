//! STS: AssumeRole, GetCallerIdentity, and the stateless session tokens.
//!
//! A session's credentials are not stored anywhere. The session token *is*
//! the session: its access key id, secret, account, role, session name and
//! expiry, serialized and sealed with the root key (`RootKey::wrap_bytes`,
//! AES-256-GCM under a label of its own, so no other wrapped value can be
//! passed off as a token), then base64-encoded. A client cannot forge or
//! alter one without the root key, a restart keeps sessions valid, and
//! nothing has to be cleaned up when they expire. The price: a session
//! cannot be revoked before its expiry except by deleting (or re-creating)
//! its role, which drops its permissions (the role id is checked).
//!
//! AssumeRole is allowed, as AWS decides it
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html>,
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_manage-assume.html>),
//! when no policy denies it explicitly and either
//! - the trust policy names the caller itself (its user, role or session
//!   ARN, or for the root user its account), in the role's own account; or
//! - the trust policy allows the caller's account (`arn:aws:iam::ACCT:root`)
//!   and the caller's identity policies allow `sts:AssumeRole` on the role
//!   (the root user has an implicit allow). Cross-account callers always
//!   need both.
//!
//! A role that does not exist answers AccessDenied, as AWS does, so callers
//! cannot probe for role names.

use std::sync::Arc;

use base64::Engine as _;
use keyward_policy::{Decision, PrincipalMatching, RequestPrincipal, Verdict};
use keyward_principal::Caller;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::authorize::{access_denied, identity_verdict, request_context};
use crate::error::{CredentialError, IdentityError};
use crate::model::{CallerIdentity, Role, SessionCredentials};
use crate::names::{
    access_key_id, assumed_role_arn, check_session_name, parse_role_arn, secret_access_key,
    validation,
};
use crate::service::Identities;

/// Distinguishes our tokens from others (dev mode accepts foreign ones).
const TOKEN_PREFIX: &str = "KWS1";
/// The root-key wrapping label of session tokens; never used for anything else.
const TOKEN_LABEL: &[u8] = b"keyward/sts-session-token/v1";
/// No token we issue is near this long; longer input is refused unread.
const MAX_TOKEN_CHARS: usize = 4096;
const DEFAULT_DURATION_SECONDS: i64 = 3600;
/// "Role chaining limits your AWS CLI or AWS API role session to a maximum of one hour."
const CHAINED_MAX_SECONDS: i64 = 3600;

/// What a session token carries.
#[derive(Serialize, Deserialize)]
struct SessionClaims {
    access_key_id: String,
    secret: Zeroizing<String>,
    account_id: String,
    role_arn: String,
    role_id: String,
    role_name: String,
    session_name: String,
    issued_ms: i64,
    expires_ms: i64,
}

impl Identities {
    /// AssumeRole: temporary credentials for `role_arn` if the trust policy
    /// (and, where needed, the caller's identity policies) allow it.
    pub fn assume_role(
        &self,
        caller: &Caller,
        role_arn: &str,
        role_session_name: &str,
        duration_seconds: Option<i64>,
    ) -> Result<SessionCredentials, IdentityError> {
        self.assume_role_with_external_id(
            caller,
            role_arn,
            role_session_name,
            duration_seconds,
            None,
        )
    }

    /// [`Identities::assume_role`] with the `ExternalId` a trust policy may
    /// require (`"Condition": {"StringEquals": {"sts:ExternalId": …}}`,
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_common-scenarios_third-party.html>).
    pub fn assume_role_with_external_id(
        &self,
        caller: &Caller,
        role_arn: &str,
        role_session_name: &str,
        duration_seconds: Option<i64>,
        external_id: Option<&str>,
    ) -> Result<SessionCredentials, IdentityError> {
        if let Some(external_id) = external_id {
            // externalIdType: 2..1224 characters of [\w+=,.@:\/-].
            let ok = (2..=1224).contains(&external_id.chars().count())
                && external_id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+=,.@:/-".contains(c));
            if !ok {
                return Err(validation(
                    external_id,
                    "externalId",
                    r"satisfy regular expression pattern: [\w+=,.@:\/-]*",
                ));
            }
        }
        if !(20..=2048).contains(&role_arn.len()) {
            return Err(validation(
                role_arn,
                "roleArn",
                if role_arn.len() < 20 {
                    "have length greater than or equal to 20"
                } else {
                    "have length less than or equal to 2048"
                },
            ));
        }
        check_session_name(role_session_name)?;
        let duration = duration_seconds.unwrap_or(DEFAULT_DURATION_SECONDS);
        if duration < 900 {
            return Err(validation(
                &duration.to_string(),
                "durationSeconds",
                "have value greater than or equal to 900",
            ));
        }
        if duration > 43_200 {
            return Err(validation(
                &duration.to_string(),
                "durationSeconds",
                "have value less than or equal to 43200",
            ));
        }
        let parsed = parse_role_arn(role_arn)
            .ok_or_else(|| IdentityError::Validation("Request ARN is invalid".into()))?;
        let now_ms = self.now_ms();
        let denied = || access_denied(caller, "sts:AssumeRole", role_arn, "");
        let role: Arc<Role> = self
            .read()
            .roles
            .get(&(parsed.account_id.clone(), parsed.name.to_lowercase()))
            .filter(|r| r.arn == role_arn)
            .cloned()
            .ok_or_else(denied)?;
        let policies = std::iter::once(&*role.trust_policy)
            .chain(caller.identity_policies().iter().map(|p| &**p));
        let mut context = request_context(caller, "sts:AssumeRole", role_arn, policies, now_ms)
            .with_value("sts:RoleSessionName", role_session_name);
        if let Some(external_id) = external_id {
            context = context.with_value("sts:ExternalId", external_id);
        }
        if !trust_allows(&role, caller, &context) {
            return Err(denied());
        }
        if duration > i64::from(role.max_session_duration) {
            return Err(IdentityError::Validation(
                "The requested DurationSeconds exceeds the MaxSessionDuration set for this role."
                    .into(),
            ));
        }
        let chained = matches!(caller.principal(), RequestPrincipal::AssumedRole { .. });
        if chained && duration_seconds.is_some_and(|d| d > CHAINED_MAX_SECONDS) {
            return Err(IdentityError::Validation(
                "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."
                    .into(),
            ));
        }
        let claims = SessionClaims {
            access_key_id: access_key_id("ASIA")?,
            secret: secret_access_key()?,
            account_id: role.account_id.clone(),
            role_arn: role.arn.clone(),
            role_id: role.role_id.clone(),
            role_name: role.name.clone(),
            session_name: role_session_name.to_string(),
            issued_ms: now_ms,
            expires_ms: now_ms.saturating_add(duration.saturating_mul(1000)),
        };
        let session_token = self.seal_session(&claims)?;
        Ok(SessionCredentials {
            assumed_role_id: format!("{}:{}", role.role_id, role_session_name),
            arn: assumed_role_arn(&role.account_id, &role.name, role_session_name),
            access_key_id: claims.access_key_id,
            secret_access_key: claims.secret,
            session_token,
            expiration_ms: claims.expires_ms,
        })
    }

    /// GetCallerIdentity: needs no permission, as in AWS.
    pub fn get_caller_identity(&self, caller: &Caller) -> CallerIdentity {
        CallerIdentity {
            user_id: caller.user_id().to_string(),
            account: caller.account_id().to_string(),
            arn: caller.principal_arn().to_string(),
        }
    }

    fn seal_session(&self, claims: &SessionClaims) -> Result<String, IdentityError> {
        let json = Zeroizing::new(serde_json::to_vec(claims).map_err(|source| {
            IdentityError::Internal(crate::error::InternalError::Record {
                what: "session claims".into(),
                source,
            })
        })?);
        let sealed = self
            .root_key()
            .wrap_bytes(&json, TOKEN_LABEL)
            .map_err(IdentityError::crypto)?;
        Ok(format!(
            "{TOKEN_PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(sealed)
        ))
    }

    /// Opens a session token presented with `access_key_id`.
    pub(crate) fn open_session(
        &self,
        access_key_id: &str,
        token: &str,
    ) -> Result<(Arc<Zeroizing<String>>, Caller), CredentialError> {
        if token.len() > MAX_TOKEN_CHARS {
            return Err(CredentialError::InvalidSessionToken);
        }
        let sealed = token
            .strip_prefix(TOKEN_PREFIX)
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .ok_or(CredentialError::InvalidSessionToken)?;
        let json = self
            .root_key()
            .unwrap_bytes(&sealed, TOKEN_LABEL)
            .map_err(|_| CredentialError::InvalidSessionToken)?;
        let claims: SessionClaims = serde_json::from_slice(json.expose())
            .map_err(|_| CredentialError::InvalidSessionToken)?;
        if claims.access_key_id != access_key_id {
            return Err(CredentialError::InvalidSessionToken);
        }
        if self.now_ms() >= claims.expires_ms {
            return Err(CredentialError::ExpiredSessionToken);
        }
        // The role's current policies, only if it is still the same role: a
        // deleted role's sessions keep authenticating but are allowed nothing.
        let identity_policies = Identities::owner_policies(
            &self.read().role_policies,
            &claims.account_id,
            &claims.role_name.to_lowercase(),
        );
        let same_role = self
            .read()
            .roles
            .get(&(claims.account_id.clone(), claims.role_name.to_lowercase()))
            .is_some_and(|r| r.role_id == claims.role_id);
        let session_arn =
            assumed_role_arn(&claims.account_id, &claims.role_name, &claims.session_name);
        let caller = Caller::role_session(
            &claims.account_id,
            &claims.role_arn,
            &session_arn,
            &format!("{}:{}", claims.role_id, claims.session_name),
            if same_role {
                identity_policies
            } else {
                Vec::new()
            },
            claims.issued_ms,
        );
        Ok((Arc::new(claims.secret), caller))
    }
}

/// The trust decision described in the module comment.
fn trust_allows(role: &Role, caller: &Caller, context: &keyward_policy::RequestContext) -> bool {
    let trust = &role.trust_policy;
    let direct = trust.evaluate_as(
        context,
        caller.principal(),
        PrincipalMatching::OwnIdentities,
    );
    let any = trust.evaluate_as(context, caller.principal(), PrincipalMatching::AnyIdentity);
    if matches!(direct, Decision::ExplicitDeny(_)) || matches!(any, Decision::ExplicitDeny(_)) {
        return false;
    }
    let identity = if caller.is_root() {
        Verdict::Allowed {
            policy: 0,
            statement: keyward_policy::StatementRef {
                index: 0,
                sid: None,
            },
        }
    } else {
        identity_verdict(caller, context)
    };
    if matches!(identity, Verdict::ExplicitlyDenied { .. }) {
        return false;
    }
    let same_account = caller.account_id() == role.account_id;
    let identity_allows = matches!(identity, Verdict::Allowed { .. });
    let trust_allows_account = matches!(any, Decision::Allow(_));
    (same_account && matches!(direct, Decision::Allow(_)))
        || (trust_allows_account && identity_allows)
}
