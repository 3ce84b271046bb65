//! The request a policy is evaluated against: who, which action, which
//! resource, and the condition keys with their values.
//!
//! The caller fills this in; this crate never looks anything up. The current
//! time, for instance, is just the `aws:CurrentTime` value the caller supplies.
//! Condition keys are plain strings here: the crate gives no key a meaning of its
//! own, and does not know which service defines it.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine as _;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// Who is making the request.
///
/// The variants carry what the `Principal` element can name. Matching rules
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html>):
/// the account (`"123456789012"` or `arn:aws:iam::123456789012:root`) matches
/// every principal of that account; an assumed-role session is matched by its
/// session ARN and by its role's ARN; `"*"` matches everyone, anonymous callers
/// included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestPrincipal {
    /// The account's root user.
    Account {
        account_id: String,
    },
    User {
        account_id: String,
        arn: String,
    },
    /// A role acting as itself (rare: most role callers are `AssumedRole`).
    Role {
        account_id: String,
        arn: String,
    },
    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`. `role_arn` is the role's
    /// IAM ARN, with its path, because the session ARN drops the path.
    AssumedRole {
        account_id: String,
        role_arn: String,
        session_arn: String,
    },
    /// `arn:aws:sts::ACCOUNT:federated-user/NAME` (GetFederationToken).
    FederatedUser {
        account_id: String,
        arn: String,
    },
    /// A service principal such as `kinesisanalytics.amazonaws.com`.
    Service {
        name: String,
    },
    /// A caller vouched for by an identity provider
    /// (`cognito-identity.amazonaws.com`, a SAML provider ARN), as matched by
    /// `{"Federated": ...}` in role trust policies.
    Federated {
        provider: String,
    },
    Anonymous,
}

/// The coarse kind of a [`RequestPrincipal`], as `aws:PrincipalType` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    Account,
    User,
    Role,
    AssumedRole,
    FederatedUser,
    Service,
    Federated,
    Anonymous,
}

/// One value of a condition key in the request.
///
/// Operators convert where AWS would: `StringEquals` compares the text form of
/// any value, `NumericLessThan` reads a number from an `Integer` or from text,
/// and so on. A value that cannot be read as the operator's type never matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContextValue {
    String(String),
    Bool(bool),
    Integer(i64),
    Date(OffsetDateTime),
    Ip(IpAddr),
    Binary(Vec<u8>),
}

/// A condition key name, compared without regard to case: "Condition key names
/// are not case-sensitive"
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html>).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct ConditionKey(String);

/// Everything a policy is evaluated against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    principal: RequestPrincipal,
    action: String,
    /// The action in lower case: action names are case-insensitive.
    action_lowercase: String,
    resource: String,
    values: HashMap<ConditionKey, Vec<ContextValue>>,
}

impl RequestPrincipal {
    /// Which variant this is, without its data.
    pub fn kind(&self) -> PrincipalKind {
        match self {
            RequestPrincipal::Account { .. } => PrincipalKind::Account,
            RequestPrincipal::User { .. } => PrincipalKind::User,
            RequestPrincipal::Role { .. } => PrincipalKind::Role,
            RequestPrincipal::AssumedRole { .. } => PrincipalKind::AssumedRole,
            RequestPrincipal::FederatedUser { .. } => PrincipalKind::FederatedUser,
            RequestPrincipal::Service { .. } => PrincipalKind::Service,
            RequestPrincipal::Federated { .. } => PrincipalKind::Federated,
            RequestPrincipal::Anonymous => PrincipalKind::Anonymous,
        }
    }

    /// The account the principal belongs to; services, identity providers and
    /// anonymous callers have none.
    pub fn account_id(&self) -> Option<&str> {
        match self {
            RequestPrincipal::Account { account_id }
            | RequestPrincipal::User { account_id, .. }
            | RequestPrincipal::Role { account_id, .. }
            | RequestPrincipal::AssumedRole { account_id, .. }
            | RequestPrincipal::FederatedUser { account_id, .. } => Some(account_id),
            RequestPrincipal::Service { .. }
            | RequestPrincipal::Federated { .. }
            | RequestPrincipal::Anonymous => None,
        }
    }
}

impl ContextValue {
    /// The value as text, as string operators and policy variables see it.
    pub fn to_text(&self) -> Cow<'_, str> {
        match self {
            ContextValue::String(text) => Cow::Borrowed(text),
            ContextValue::Bool(true) => Cow::Borrowed("true"),
            ContextValue::Bool(false) => Cow::Borrowed("false"),
            ContextValue::Integer(number) => Cow::Owned(number.to_string()),
            ContextValue::Date(date) => Cow::Owned(
                date.format(&Rfc3339)
                    .unwrap_or_else(|_| date.unix_timestamp().to_string()),
            ),
            ContextValue::Ip(address) => Cow::Owned(address.to_string()),
            ContextValue::Binary(bytes) => {
                Cow::Owned(base64::engine::general_purpose::STANDARD.encode(bytes))
            }
        }
    }
}

impl From<&str> for ContextValue {
    fn from(value: &str) -> Self {
        ContextValue::String(value.to_owned())
    }
}

impl From<String> for ContextValue {
    fn from(value: String) -> Self {
        ContextValue::String(value)
    }
}

impl From<bool> for ContextValue {
    fn from(value: bool) -> Self {
        ContextValue::Bool(value)
    }
}

impl From<i64> for ContextValue {
    fn from(value: i64) -> Self {
        ContextValue::Integer(value)
    }
}

impl From<OffsetDateTime> for ContextValue {
    fn from(value: OffsetDateTime) -> Self {
        ContextValue::Date(value)
    }
}

impl From<IpAddr> for ContextValue {
    fn from(value: IpAddr) -> Self {
        ContextValue::Ip(value)
    }
}

impl ConditionKey {
    pub(crate) fn new(name: &str) -> ConditionKey {
        ConditionKey(name.to_lowercase())
    }

    /// The key's name, lower-cased.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl RequestContext {
    /// A request with no condition keys yet. `resource` is the ARN of the
    /// resource acted on.
    pub fn new(
        principal: RequestPrincipal,
        action: impl Into<String>,
        resource: impl Into<String>,
    ) -> RequestContext {
        let action = action.into();
        RequestContext {
            principal,
            action_lowercase: action.to_lowercase(),
            action,
            resource: resource.into(),
            values: HashMap::new(),
        }
    }

    /// Adds one value to a key, making it multivalued if it already had one.
    #[must_use]
    pub fn with_value(mut self, key: &str, value: impl Into<ContextValue>) -> RequestContext {
        self.values
            .entry(ConditionKey::new(key))
            .or_default()
            .push(value.into());
        self
    }

    /// Sets all the values of a key. An empty list is a key that is present
    /// with no value, which every operator treats as absent (`Null` says true,
    /// `ForAllValues` says true, `ForAnyValue` says false).
    #[must_use]
    pub fn with_values<V: Into<ContextValue>>(
        mut self,
        key: &str,
        values: impl IntoIterator<Item = V>,
    ) -> RequestContext {
        self.set_values(key, values);
        self
    }

    /// Like [`RequestContext::with_values`], in place.
    pub fn set_values<V: Into<ContextValue>>(
        &mut self,
        key: &str,
        values: impl IntoIterator<Item = V>,
    ) {
        self.values.insert(
            ConditionKey::new(key),
            values.into_iter().map(Into::into).collect(),
        );
    }

    /// Who makes the request.
    pub fn principal(&self) -> &RequestPrincipal {
        &self.principal
    }

    /// The action as given, such as `kms:Decrypt`.
    pub fn action(&self) -> &str {
        &self.action
    }

    /// The ARN of the resource acted on.
    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// The values of a condition key, looked up without regard to case.
    pub fn values_of(&self, key: &str) -> Option<&[ContextValue]> {
        self.values(&ConditionKey::new(key))
    }

    pub(crate) fn values(&self, key: &ConditionKey) -> Option<&[ContextValue]> {
        self.values.get(key).map(Vec::as_slice)
    }

    pub(crate) fn action_lowercase(&self) -> &str {
        &self.action_lowercase
    }
}
