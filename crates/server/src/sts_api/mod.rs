//! STS over the Query protocol: AssumeRole and GetCallerIdentity.
//!
//! Shapes from the STS API reference (botocore `sts/2011-06-15`):
//! `AssumeRoleResult` holds `Credentials` (AccessKeyId, SecretAccessKey,
//! SessionToken, Expiration) and `AssumedRoleUser` (AssumedRoleId, Arn);
//! `GetCallerIdentityResult` holds UserId, Account, Arn.
//!
//! AssumeRole honours `ExternalId` (as `sts:ExternalId` in the trust
//! policy's conditions); session tags, `SourceIdentity` and MFA members are
//! ignored; session policies are refused (see below).

use keyward_principal::Caller;

use crate::audit::QueryFacts;
use crate::auth::Authenticator;
use crate::iam_api::response_date;
use crate::protocol::query::xml::{response, timestamp, Xml, STS_NAMESPACE};
use crate::protocol::query::{QueryError, QueryRequest};
use crate::service::Operation;

/// The STS operation table: every action `dispatch` answers, and whether
/// CloudTrail marks its events read-only.
pub(crate) const OPERATIONS: &[Operation] = &[
    Operation::writes("AssumeRole"),
    Operation::reads("GetCallerIdentity"),
];

/// Runs one STS action for `caller`; returns the whole XML response, and
/// notes what its event logs of the result in `facts`.
pub fn dispatch(
    auth: &Authenticator,
    caller: &Caller,
    request: &QueryRequest,
    request_id: &str,
    facts: &mut QueryFacts,
) -> Result<String, QueryError> {
    let identities = auth.identities();
    let mut xml = Xml::new();
    match request.action.as_str() {
        "AssumeRole" => {
            // Session policies narrow a session's permissions; ignoring them
            // would grant more than the caller asked for, so they are refused
            // until the authorization core can intersect them.
            if request.get("Policy").is_some() || request.get("PolicyArns.member.1.arn").is_some() {
                return Err(QueryError::InvalidParameter(
                    "Session policies (Policy, PolicyArns) are not supported by keyward.".into(),
                ));
            }
            let session = identities.assume_role_with_external_id(
                caller,
                request.required("RoleArn", "roleArn")?,
                request.required("RoleSessionName", "roleSessionName")?,
                request.integer("DurationSeconds", "durationSeconds")?,
                request.get("ExternalId"),
            )?;
            xml.open("Credentials")
                .text("AccessKeyId", &session.access_key_id)
                .text("SecretAccessKey", &session.secret_access_key)
                .text("SessionToken", &session.session_token)
                .text("Expiration", &timestamp(session.expiration_ms))
                .close("Credentials")
                .open("AssumedRoleUser")
                .text("AssumedRoleId", &session.assumed_role_id)
                .text("Arn", &session.arn)
                .close("AssumedRoleUser");
            // CloudTrail logs the session's key id and expiry, so later
            // events' `ASIA…` key can be traced to this call; never the
            // secret or the session token.
            facts.respond(serde_json::json!({
                "credentials": {
                    "accessKeyId": session.access_key_id,
                    "expiration": response_date(session.expiration_ms),
                },
                "assumedRoleUser": {
                    "assumedRoleId": session.assumed_role_id,
                    "arn": session.arn,
                }
            }));
        }
        "GetCallerIdentity" => {
            let identity = identities.get_caller_identity(caller);
            xml.text("UserId", &identity.user_id)
                .text("Account", &identity.account)
                .text("Arn", &identity.arn);
        }
        other => return Err(QueryError::InvalidAction(other.to_string())),
    }
    let result = xml.into_string();
    Ok(response(
        &request.action,
        STS_NAMESPACE,
        Some(&result),
        request_id,
    ))
}
