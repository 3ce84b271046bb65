//! `userIdentity`: who made the request, and through which service.
//!
//! The element is described on
//! <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-user-identity.html>.
//! Its members depend on the identity type (an `IAMUser` has a `userName`, an
//! `AssumedRole` a `sessionContext`, an `AWSService` often only `invokedBy`), and
//! AWS-internal actions such as scheduled key rotation carry no `type` at all
//! (`{"accountId": …, "invokedBy": "AWS Internal"}`, see
//! <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/non-api-aws-service-events.html>).
//! So the type is one flat struct of optional members rather than an enum of
//! shapes: every record AWS writes can be read and written back unchanged.
//!
//! This module only models the element. Deciding which identity a request had
//! is the job of the IAM/SigV4 layer; the constructors below just put the
//! members where CloudTrail puts them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

use crate::event_object::EventObject;
use crate::member::Member;
use crate::time_format::format_event_time;

/// The `userIdentity` element of a record.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserIdentity {
    #[serde(rename = "type", default, skip_serializing_if = "Member::is_absent")]
    pub identity_type: Member<IdentityType>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub principal_id: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub arn: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub account_id: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub access_key_id: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub user_name: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub session_context: Member<SessionContext>,
    /// The AWS service that made the request on the principal's behalf; then
    /// `sourceIPAddress` and `userAgent` name that service too.
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub invoked_by: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub identity_provider: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub credential_id: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub on_behalf_of: Member<EventObject>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub in_scope_of: Member<EventObject>,
}

/// `userIdentity.type`. Names outside the documented list are kept as
/// [`IdentityType::Other`] so that newer records still round-trip.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum IdentityType {
    Root,
    IamUser,
    AssumedRole,
    Role,
    FederatedUser,
    AwsAccount,
    AwsService,
    Unknown,
    SamlUser,
    WebIdentityUser,
    IdentityCenterUser,
    Directory,
    Other(String),
}

/// `userIdentity.sessionContext`, present for temporary credentials.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionContext {
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub session_issuer: Member<SessionIssuer>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub web_id_federation_data: Member<EventObject>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub attributes: Member<SessionAttributes>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub source_identity: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub ec2_role_delivery: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub assumed_root: Member<String>,
}

/// `sessionContext.sessionIssuer`: the role (or user) whose credentials the
/// session was issued from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionIssuer {
    /// `Role`, `Root` or `IAMUser`; a plain string because CloudTrail does not
    /// document a closed list here.
    #[serde(rename = "type", default, skip_serializing_if = "Member::is_absent")]
    pub issuer_type: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub principal_id: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub arn: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub account_id: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub user_name: Member<String>,
}

/// `sessionContext.attributes`. CloudTrail writes `mfaAuthenticated` as the
/// *string* `"true"`/`"false"`, so it stays a string here.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionAttributes {
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub creation_date: Member<String>,
    #[serde(default, skip_serializing_if = "Member::is_absent")]
    pub mfa_authenticated: Member<String>,
}

/// What CloudTrail writes in `invokedBy`, `sourceIPAddress` and `userAgent`
/// for actions the service takes on its own (scheduled rotation, deletion at
/// the end of the waiting period).
pub const AWS_INTERNAL: &str = "AWS Internal";

impl UserIdentity {
    /// The account's root user: `{"type": "Root", "principalId": <account>, "arn", "accountId"}`.
    pub fn root(account_id: impl Into<String>, arn: impl Into<String>) -> Self {
        let account_id = account_id.into();
        UserIdentity {
            identity_type: IdentityType::Root.into(),
            principal_id: Member::Present(account_id.clone()),
            arn: Member::Present(arn.into()),
            account_id: Member::Present(account_id),
            ..UserIdentity::default()
        }
    }

    /// An IAM user signing with its long-term access key.
    pub fn iam_user(
        principal_id: impl Into<String>,
        arn: impl Into<String>,
        account_id: impl Into<String>,
        user_name: impl Into<String>,
    ) -> Self {
        UserIdentity {
            identity_type: IdentityType::IamUser.into(),
            principal_id: Member::Present(principal_id.into()),
            arn: Member::Present(arn.into()),
            account_id: Member::Present(account_id.into()),
            user_name: Member::Present(user_name.into()),
            ..UserIdentity::default()
        }
    }

    /// A role session (`arn:aws:sts::<account>:assumed-role/<role>/<session>`).
    pub fn assumed_role(
        principal_id: impl Into<String>,
        arn: impl Into<String>,
        account_id: impl Into<String>,
        session_context: SessionContext,
    ) -> Self {
        UserIdentity {
            identity_type: IdentityType::AssumedRole.into(),
            principal_id: Member::Present(principal_id.into()),
            arn: Member::Present(arn.into()),
            account_id: Member::Present(account_id.into()),
            session_context: Member::Present(session_context),
            ..UserIdentity::default()
        }
    }

    /// A service acting with its own identity: `{"type": "AWSService", "invokedBy": <service>}`.
    pub fn aws_service(invoked_by: impl Into<String>) -> Self {
        UserIdentity {
            identity_type: IdentityType::AwsService.into(),
            invoked_by: Member::Present(invoked_by.into()),
            ..UserIdentity::default()
        }
    }

    /// The service itself, for actions no caller requested:
    /// `{"accountId": <account>, "invokedBy": "AWS Internal"}` with no `type`.
    pub fn aws_internal(account_id: impl Into<String>) -> Self {
        UserIdentity {
            account_id: Member::Present(account_id.into()),
            invoked_by: Member::Present(AWS_INTERNAL.to_owned()),
            ..UserIdentity::default()
        }
    }

    /// Adds the access key id the request was signed with.
    pub fn with_access_key_id(mut self, access_key_id: impl Into<String>) -> Self {
        self.access_key_id = Member::Present(access_key_id.into());
        self
    }

    /// Records that `service` made the call for this principal.
    pub fn with_invoked_by(mut self, service: impl Into<String>) -> Self {
        self.invoked_by = Member::Present(service.into());
        self
    }
}

impl SessionContext {
    /// The usual context of a role session: its issuer and its attributes.
    pub fn new(session_issuer: SessionIssuer, attributes: SessionAttributes) -> Self {
        SessionContext {
            session_issuer: Member::Present(session_issuer),
            attributes: Member::Present(attributes),
            ..SessionContext::default()
        }
    }
}

impl SessionIssuer {
    /// The role a session was assumed from; `user_name` is the role's name.
    pub fn role(
        principal_id: impl Into<String>,
        arn: impl Into<String>,
        account_id: impl Into<String>,
        role_name: impl Into<String>,
    ) -> Self {
        SessionIssuer {
            issuer_type: Member::Present("Role".to_owned()),
            principal_id: Member::Present(principal_id.into()),
            arn: Member::Present(arn.into()),
            account_id: Member::Present(account_id.into()),
            user_name: Member::Present(role_name.into()),
        }
    }
}

impl SessionAttributes {
    /// When the session's credentials were issued, and whether MFA was used.
    pub fn new(creation_date: OffsetDateTime, mfa_authenticated: bool) -> Self {
        SessionAttributes {
            creation_date: Member::Present(format_event_time(creation_date)),
            mfa_authenticated: Member::Present(mfa_authenticated.to_string()),
        }
    }
}

impl IdentityType {
    /// The name CloudTrail writes.
    pub fn as_str(&self) -> &str {
        match self {
            IdentityType::Root => "Root",
            IdentityType::IamUser => "IAMUser",
            IdentityType::AssumedRole => "AssumedRole",
            IdentityType::Role => "Role",
            IdentityType::FederatedUser => "FederatedUser",
            IdentityType::AwsAccount => "AWSAccount",
            IdentityType::AwsService => "AWSService",
            IdentityType::Unknown => "Unknown",
            IdentityType::SamlUser => "SAMLUser",
            IdentityType::WebIdentityUser => "WebIdentityUser",
            IdentityType::IdentityCenterUser => "IdentityCenterUser",
            IdentityType::Directory => "Directory",
            IdentityType::Other(name) => name,
        }
    }

    /// The type named `name`; unknown names become [`IdentityType::Other`].
    pub fn from_name(name: &str) -> Self {
        match name {
            "Root" => IdentityType::Root,
            "IAMUser" => IdentityType::IamUser,
            "AssumedRole" => IdentityType::AssumedRole,
            "Role" => IdentityType::Role,
            "FederatedUser" => IdentityType::FederatedUser,
            "AWSAccount" => IdentityType::AwsAccount,
            "AWSService" => IdentityType::AwsService,
            "Unknown" => IdentityType::Unknown,
            "SAMLUser" => IdentityType::SamlUser,
            "WebIdentityUser" => IdentityType::WebIdentityUser,
            "IdentityCenterUser" => IdentityType::IdentityCenterUser,
            "Directory" => IdentityType::Directory,
            other => IdentityType::Other(other.to_owned()),
        }
    }
}

impl fmt::Display for IdentityType {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl Serialize for IdentityType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for IdentityType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(IdentityType::from_name(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_identity_type_reads_back_as_itself() {
        for identity_type in [
            IdentityType::Root,
            IdentityType::IamUser,
            IdentityType::AssumedRole,
            IdentityType::Role,
            IdentityType::FederatedUser,
            IdentityType::AwsAccount,
            IdentityType::AwsService,
            IdentityType::Unknown,
            IdentityType::SamlUser,
            IdentityType::WebIdentityUser,
            IdentityType::IdentityCenterUser,
            IdentityType::Directory,
            IdentityType::Other("SomethingNew".to_owned()),
        ] {
            assert_eq!(
                IdentityType::from_name(identity_type.as_str()),
                identity_type
            );
        }
    }

    #[test]
    fn aws_internal_has_no_type() {
        let json = serde_json::to_string(&UserIdentity::aws_internal("111122223333")).unwrap();
        assert_eq!(
            json,
            r#"{"accountId":"111122223333","invokedBy":"AWS Internal"}"#
        );
    }
}
