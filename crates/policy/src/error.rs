//! Why a policy document was refused.
//!
//! Every message names the element, the offending value and what was expected,
//! because callers return it verbatim to the policy's author (AWS services answer
//! `MalformedPolicyDocumentException` with such a message). Problems inside one
//! statement are a [`StatementError`], wrapped with the statement's position so
//! that the outer [`PolicyError`] stays a short list of categories.

use std::fmt;

use thiserror::Error;

/// A policy document that could not be accepted.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// The document exceeds the caller's size limit (AWS key policies: 32 KB).
    #[error("the policy document is {size} bytes long, more than the limit of {limit} bytes")]
    TooLarge { size: usize, limit: usize },
    /// The text is not JSON, or an object repeats a key.
    #[error("the policy document is not valid JSON: {source}")]
    InvalidJson {
        #[source]
        source: serde_json::Error,
    },
    #[error("the policy document must be a JSON object, not {found}")]
    NotAnObject { found: JsonKind },
    #[error("unknown policy element \"{element}\"; a policy has only Version, Id and Statement")]
    UnknownElement { element: String },
    #[error("Version must be \"2012-10-17\" or \"2008-10-17\", not \"{found}\"")]
    UnsupportedVersion { found: String },
    #[error("{element} must be a string, not {found}")]
    NotAString {
        element: &'static str,
        found: JsonKind,
    },
    #[error("the policy document has no Statement element")]
    MissingStatement,
    #[error("Statement must be an object or a list of objects, not {found}")]
    InvalidStatementList { found: JsonKind },
    #[error("Statement must not be an empty list")]
    EmptyStatementList,
    /// IAM requires statement IDs to be unique within an identity policy.
    #[error("the Sid \"{sid}\" is used by more than one statement; statement IDs must be unique within an identity policy")]
    DuplicateSid { sid: String },
    #[error("{at}: {reason}")]
    Statement {
        at: StatementLocation,
        reason: StatementError,
    },
}

/// Where a statement sits in the document, for messages: `Statement[2] (Sid "X")`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatementLocation {
    /// Zero-based position in the `Statement` list (0 when it is a lone object).
    pub index: usize,
    pub sid: Option<String>,
}

/// What is wrong inside one statement.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum StatementError {
    #[error("a statement must be a JSON object, not {found}")]
    NotAnObject { found: JsonKind },
    #[error("unknown statement element \"{element}\"; a statement has only Sid, Effect, Principal, NotPrincipal, Action, NotAction, Resource, NotResource and Condition")]
    UnknownElement { element: String },
    #[error("{element} must be a string, not {found}")]
    NotAString {
        element: &'static str,
        found: JsonKind,
    },
    #[error("{element} must be a string or a list of strings, not {found}")]
    NotAStringOrList {
        element: &'static str,
        found: JsonKind,
    },
    #[error("{element} must not be an empty list")]
    EmptyList { element: &'static str },
    #[error("the Sid \"{sid}\" has characters other than ASCII letters and digits, which an identity policy does not allow")]
    InvalidSid { sid: String },
    #[error("the statement has no Effect; it must be \"Allow\" or \"Deny\"")]
    MissingEffect,
    #[error("Effect must be \"Allow\" or \"Deny\" (case-sensitive), not \"{found}\"")]
    InvalidEffect { found: String },
    #[error("{first} and {second} cannot both appear in one statement")]
    Conflicting {
        first: &'static str,
        second: &'static str,
    },
    #[error("the statement has neither Action nor NotAction")]
    MissingAction,
    #[error("the statement has neither Resource nor NotResource")]
    MissingResource,
    #[error("a resource policy statement must name a Principal or NotPrincipal")]
    MissingPrincipal,
    #[error("an identity policy must not have a {element} element: its principal is the identity it is attached to")]
    PrincipalInIdentityPolicy { element: &'static str },
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html>:
    /// "NotPrincipal must be used with "Effect":"Deny"".
    #[error("NotPrincipal can only be used with \"Effect\": \"Deny\"")]
    NotPrincipalWithAllow,
    #[error(
        "{element} must be \"*\" or an object such as {{\"AWS\": \"111122223333\"}}, not {found}"
    )]
    InvalidPrincipalElement {
        element: &'static str,
        found: JsonKind,
    },
    #[error("{element} must not be an empty object")]
    EmptyPrincipalElement { element: &'static str },
    #[error("unknown principal type \"{principal_type}\"; expected AWS, Service or Federated")]
    UnknownPrincipalType { principal_type: String },
    #[error("invalid {principal_type} principal \"{value}\": {reason}")]
    InvalidPrincipal {
        principal_type: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("invalid action \"{action}\": an action is \"*\" or a service prefix and a name, as in \"kms:Decrypt\"")]
    InvalidAction { action: String },
    #[error(
        "invalid resource \"{resource}\": a resource is \"*\" or an ARN beginning with \"arn:\""
    )]
    InvalidResource { resource: String },
    #[error("Condition must be an object that maps condition operators to {{key: value}} objects, not {found}")]
    InvalidCondition { found: JsonKind },
    #[error("unknown condition operator \"{operator}\" (operator names are case-sensitive)")]
    UnknownConditionOperator { operator: String },
    #[error("the Null condition operator cannot take {modifier}")]
    InvalidNullModifier { modifier: &'static str },
    #[error("condition operator {operator} must map to an object of condition keys, not {found}")]
    ConditionOperatorNotObject { operator: String, found: JsonKind },
    #[error("invalid condition key \"{key}\" under {operator}: a key has a service prefix, as in \"aws:SourceIp\"")]
    InvalidConditionKey { operator: String, key: String },
    #[error("condition {operator} {{\"{key}\": ...}}: values must be strings, numbers or booleans, or a list of them, not {found}")]
    InvalidConditionValueType {
        operator: String,
        key: String,
        found: JsonKind,
    },
    #[error("condition {operator} {{\"{key}\": \"{value}\"}}: the value must be {expected}")]
    InvalidConditionValue {
        operator: String,
        key: String,
        value: String,
        expected: &'static str,
    },
    #[error("invalid policy variable in \"{value}\": {reason}")]
    InvalidPolicyVariable { value: String, reason: &'static str },
}

/// The JSON type of a value that had the wrong one, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonKind {
    Null,
    Boolean,
    Number,
    String,
    List,
    Object,
}

impl fmt::Display for StatementLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Statement[{}]", self.index)?;
        match &self.sid {
            Some(sid) => write!(f, " (Sid \"{sid}\")"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for JsonKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            JsonKind::Null => "null",
            JsonKind::Boolean => "a boolean",
            JsonKind::Number => "a number",
            JsonKind::String => "a string",
            JsonKind::List => "a list",
            JsonKind::Object => "an object",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every variant prints a message that names what is wrong.
    #[test]
    fn every_variant_has_a_message() {
        let statement_errors = [
            StatementError::NotAnObject {
                found: JsonKind::Null,
            },
            StatementError::UnknownElement {
                element: "Foo".into(),
            },
            StatementError::NotAString {
                element: "Sid",
                found: JsonKind::Number,
            },
            StatementError::NotAStringOrList {
                element: "Action",
                found: JsonKind::Object,
            },
            StatementError::EmptyList {
                element: "Resource",
            },
            StatementError::InvalidSid { sid: "a b".into() },
            StatementError::MissingEffect,
            StatementError::InvalidEffect {
                found: "allow".into(),
            },
            StatementError::Conflicting {
                first: "Action",
                second: "NotAction",
            },
            StatementError::MissingAction,
            StatementError::MissingResource,
            StatementError::MissingPrincipal,
            StatementError::PrincipalInIdentityPolicy {
                element: "Principal",
            },
            StatementError::NotPrincipalWithAllow,
            StatementError::InvalidPrincipalElement {
                element: "Principal",
                found: JsonKind::List,
            },
            StatementError::EmptyPrincipalElement {
                element: "Principal",
            },
            StatementError::UnknownPrincipalType {
                principal_type: "aws".into(),
            },
            StatementError::InvalidPrincipal {
                principal_type: "AWS",
                value: "x".into(),
                reason: "bad",
            },
            StatementError::InvalidAction { action: "x".into() },
            StatementError::InvalidResource {
                resource: "x".into(),
            },
            StatementError::InvalidCondition {
                found: JsonKind::String,
            },
            StatementError::UnknownConditionOperator {
                operator: "X".into(),
            },
            StatementError::InvalidNullModifier {
                modifier: "IfExists",
            },
            StatementError::ConditionOperatorNotObject {
                operator: "X".into(),
                found: JsonKind::Boolean,
            },
            StatementError::InvalidConditionKey {
                operator: "X".into(),
                key: "k".into(),
            },
            StatementError::InvalidConditionValueType {
                operator: "X".into(),
                key: "k".into(),
                found: JsonKind::Null,
            },
            StatementError::InvalidConditionValue {
                operator: "X".into(),
                key: "k".into(),
                value: "v".into(),
                expected: "a number",
            },
            StatementError::InvalidPolicyVariable {
                value: "${".into(),
                reason: "unclosed",
            },
        ];
        for reason in statement_errors {
            let error = PolicyError::Statement {
                at: StatementLocation {
                    index: 2,
                    sid: Some("S".into()),
                },
                reason,
            };
            let message = error.to_string();
            assert!(
                message.starts_with("Statement[2] (Sid \"S\"): "),
                "{message}"
            );
            assert!(
                message.len() > "Statement[2] (Sid \"S\"): ".len() + 10,
                "{message}"
            );
        }
        let json_error = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let policy_errors = [
            PolicyError::TooLarge { size: 2, limit: 1 },
            PolicyError::InvalidJson { source: json_error },
            PolicyError::NotAnObject {
                found: JsonKind::List,
            },
            PolicyError::UnknownElement {
                element: "Foo".into(),
            },
            PolicyError::UnsupportedVersion { found: "1".into() },
            PolicyError::NotAString {
                element: "Id",
                found: JsonKind::Number,
            },
            PolicyError::MissingStatement,
            PolicyError::InvalidStatementList {
                found: JsonKind::String,
            },
            PolicyError::EmptyStatementList,
            PolicyError::DuplicateSid { sid: "A".into() },
        ];
        for error in policy_errors {
            assert!(error.to_string().len() > 20, "{error}");
        }
    }
}
