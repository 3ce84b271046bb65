//! The `Principal` and `NotPrincipal` elements: parsing and matching.
//!
//! Rules relied on, from
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html>:
//! - `"*"` and `{"AWS": "*"}` are equivalent and match everyone, anonymous
//!   callers included.
//! - `"123456789012"` and `arn:aws:iam::123456789012:root` "behave the same
//!   way": they delegate to the whole account, not just its root user.
//! - "You cannot use a wildcard to match part of a principal name or ARN."
//! - A role ARN in a resource policy grants to the role's sessions.
//!
//! We model a caller as the set of identities it holds — a role session holds
//! its session ARN, its role's ARN and its account — and a `Principal` element
//! matches when it names any of them. `NotPrincipal` matches when the element
//! fails to name at least one of them. That is why AWS tells authors of
//! `"Effect": "Deny"` + `NotPrincipal` to list "the ARN for a role and the ARN
//! for the account containing that role" as well as the session
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html>).
//!
//! ARNs compare case-sensitively ("the user name part of the ARN is case
//! sensitive"). Partitions are not compared: an account ID is the same account
//! in `arn:aws` and `arn:aws-cn` spellings. Whether a named principal exists is
//! the caller's business (see [`crate::Policy::named_principals`]).

use crate::context::RequestPrincipal;
use crate::error::StatementError;
use crate::json::Json;

/// How a resource policy's `Principal` element is matched against the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalMatching {
    /// Every identity the caller holds, its account included: AWS's general
    /// rule, under which naming an account names all its principals.
    AnyIdentity,
    /// The caller's own ARNs or service name only, not its account (for the
    /// root user, its account *is* its own identity). A KMS key policy needs
    /// this: a statement naming the account does not allow a user by itself,
    /// it lets the account's IAM policies decide.
    OwnIdentities,
}

/// A principal named in a policy, for callers that must check it exists.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PrincipalName {
    /// `"*"` or `{"AWS": "*"}`.
    Everyone,
    /// A 12-digit account ID, from either the bare or the `:root` ARN form.
    Account(String),
    /// A user, role, assumed-role session or federated-user ARN.
    Arn(String),
    Service(String),
    Federated(String),
}

/// A parsed `Principal` or `NotPrincipal` element: any of these names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrincipalSet {
    names: Vec<PrincipalName>,
}

/// One identity a caller holds.
#[derive(Debug, Clone, Copy)]
enum Identity<'a> {
    Account(&'a str),
    Arn(&'a str),
    Service(&'a str),
    Federated(&'a str),
    Anonymous,
}

impl PrincipalSet {
    pub(crate) fn parse(
        element: &'static str,
        json: &Json,
    ) -> Result<PrincipalSet, StatementError> {
        let members = match json {
            Json::String(star) if star == "*" => {
                return Ok(PrincipalSet {
                    names: vec![PrincipalName::Everyone],
                })
            }
            Json::Object(members) => members,
            other => {
                return Err(StatementError::InvalidPrincipalElement {
                    element,
                    found: other.kind(),
                })
            }
        };
        if members.is_empty() {
            return Err(StatementError::EmptyPrincipalElement { element });
        }
        let mut names = Vec::new();
        for (principal_type, values) in members {
            let parse_one: fn(&str) -> Result<PrincipalName, StatementError> =
                match principal_type.as_str() {
                    "AWS" => parse_aws,
                    "Service" => parse_service,
                    "Federated" => parse_federated,
                    _ => {
                        return Err(StatementError::UnknownPrincipalType {
                            principal_type: principal_type.clone(),
                        })
                    }
                };
            for value in string_or_list(element, values)? {
                names.push(parse_one(value)?);
            }
        }
        Ok(PrincipalSet { names })
    }

    pub(crate) fn names(&self) -> &[PrincipalName] {
        &self.names
    }

    /// `Principal`: the set names at least one identity of the caller.
    pub(crate) fn matches_any_identity(
        &self,
        principal: &RequestPrincipal,
        matching: PrincipalMatching,
    ) -> bool {
        identities(principal, matching)
            .iter()
            .any(|identity| self.names_identity(*identity))
    }

    /// `NotPrincipal`: at least one identity of the caller is not named.
    pub(crate) fn misses_some_identity(
        &self,
        principal: &RequestPrincipal,
        matching: PrincipalMatching,
    ) -> bool {
        identities(principal, matching)
            .iter()
            .any(|identity| !self.names_identity(*identity))
    }

    fn names_identity(&self, identity: Identity<'_>) -> bool {
        self.names.iter().any(|name| match (name, identity) {
            (PrincipalName::Everyone, _) => true,
            (PrincipalName::Account(named), Identity::Account(held)) => named == held,
            (PrincipalName::Arn(named), Identity::Arn(held)) => named == held,
            (PrincipalName::Service(named), Identity::Service(held)) => named == held,
            (PrincipalName::Federated(named), Identity::Federated(held)) => named == held,
            _ => false,
        })
    }
}

/// The identities a caller holds: at most three, kept on the stack because
/// they are listed for every statement of every policy evaluated.
struct Held<'a> {
    items: [Identity<'a>; 3],
    len: usize,
}

impl<'a> Held<'a> {
    fn iter(&self) -> impl Iterator<Item = &Identity<'a>> {
        self.items.iter().take(self.len)
    }
}

fn identities(principal: &RequestPrincipal, matching: PrincipalMatching) -> Held<'_> {
    let all = all_identities(principal);
    if matching == PrincipalMatching::AnyIdentity
        || matches!(principal, RequestPrincipal::Account { .. })
    {
        return all;
    }
    let mut own = Held {
        items: [Identity::Anonymous; 3],
        len: 0,
    };
    for identity in all.iter() {
        if !matches!(identity, Identity::Account(_)) {
            own.items[own.len] = *identity;
            own.len += 1;
        }
    }
    own
}

fn all_identities(principal: &RequestPrincipal) -> Held<'_> {
    let none = Identity::Anonymous;
    let (items, len) = match principal {
        RequestPrincipal::Account { account_id } => {
            ([Identity::Account(account_id), none, none], 1)
        }
        RequestPrincipal::User { account_id, arn }
        | RequestPrincipal::Role { account_id, arn }
        | RequestPrincipal::FederatedUser { account_id, arn } => {
            ([Identity::Arn(arn), Identity::Account(account_id), none], 2)
        }
        RequestPrincipal::AssumedRole {
            account_id,
            role_arn,
            session_arn,
        } => (
            [
                Identity::Arn(session_arn),
                Identity::Arn(role_arn),
                Identity::Account(account_id),
            ],
            3,
        ),
        RequestPrincipal::Service { name } => ([Identity::Service(name), none, none], 1),
        RequestPrincipal::Federated { provider } => {
            ([Identity::Federated(provider), none, none], 1)
        }
        RequestPrincipal::Anonymous => ([none, none, none], 1),
    };
    Held { items, len }
}

fn string_or_list<'a>(
    element: &'static str,
    json: &'a Json,
) -> Result<Vec<&'a str>, StatementError> {
    match json {
        Json::String(value) => Ok(vec![value.as_str()]),
        Json::List(items) if items.is_empty() => Err(StatementError::EmptyList { element }),
        Json::List(items) => items
            .iter()
            .map(|item| match item {
                Json::String(value) => Ok(value.as_str()),
                other => Err(StatementError::NotAStringOrList {
                    element,
                    found: other.kind(),
                }),
            })
            .collect(),
        other => Err(StatementError::NotAStringOrList {
            element,
            found: other.kind(),
        }),
    }
}

fn invalid(principal_type: &'static str, value: &str, reason: &'static str) -> StatementError {
    StatementError::InvalidPrincipal {
        principal_type,
        value: value.to_owned(),
        reason,
    }
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

fn parse_aws(value: &str) -> Result<PrincipalName, StatementError> {
    if value == "*" {
        return Ok(PrincipalName::Everyone);
    }
    if value.contains(['*', '?']) {
        return Err(invalid(
            "AWS",
            value,
            "a wildcard cannot match part of a principal ARN",
        ));
    }
    if is_account_id(value) {
        return Ok(PrincipalName::Account(value.to_owned()));
    }
    // arn:PARTITION:SERVICE::ACCOUNT:RESOURCE
    let mut segments = value.splitn(6, ':');
    let (Some("arn"), Some(partition), Some(service), Some(""), Some(account_id), Some(resource)) = (
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
        segments.next(),
    ) else {
        return Err(invalid(
            "AWS",
            value,
            "expected \"*\", a 12-digit account ID, or an IAM or STS ARN such as arn:aws:iam::111122223333:root",
        ));
    };
    if partition.is_empty() {
        return Err(invalid("AWS", value, "the ARN has no partition"));
    }
    if !is_account_id(account_id) {
        return Err(invalid(
            "AWS",
            value,
            "the ARN's account is not a 12-digit account ID",
        ));
    }
    let well_formed = match service {
        "iam" if resource == "root" => return Ok(PrincipalName::Account(account_id.to_owned())),
        "iam" => ["user/", "role/"].iter().any(|kind| {
            resource
                .strip_prefix(kind)
                .is_some_and(|name| !name.is_empty())
        }),
        // assumed-role/ROLE/SESSION or federated-user/NAME.
        "sts" => match resource.split_once('/') {
            Some(("assumed-role", rest)) => rest
                .split_once('/')
                .is_some_and(|(role, session)| !role.is_empty() && !session.is_empty()),
            Some(("federated-user", name)) => !name.is_empty(),
            _ => false,
        },
        _ => false,
    };
    if !well_formed {
        return Err(invalid(
            "AWS",
            value,
            "expected an account root, user or role ARN (iam) or an assumed-role or federated-user ARN (sts)",
        ));
    }
    Ok(PrincipalName::Arn(value.to_owned()))
}

fn parse_service(value: &str) -> Result<PrincipalName, StatementError> {
    if value.is_empty() || value.contains(['*', '?']) || value.contains(char::is_whitespace) {
        return Err(invalid(
            "Service",
            value,
            "expected a service principal name such as logs.amazonaws.com, without wildcards",
        ));
    }
    Ok(PrincipalName::Service(value.to_owned()))
}

fn parse_federated(value: &str) -> Result<PrincipalName, StatementError> {
    if value.is_empty() || value.contains(['*', '?']) {
        return Err(invalid(
            "Federated",
            value,
            "expected an identity provider such as cognito-identity.amazonaws.com or a SAML provider ARN, without wildcards",
        ));
    }
    Ok(PrincipalName::Federated(value.to_owned()))
}
