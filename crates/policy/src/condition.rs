//! The `Condition` element: operators, their values, and how a block is decided.
//!
//! Rules relied on:
//! - Operators and what they compare:
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>.
//!   Operator names are case-sensitive (AWS refuses `stringEquals` with
//!   "Invalid Condition type"); key names are not.
//! - "If the key that you specify in a policy condition is not present in the
//!   request context, the values do not match and the condition is false. If the
//!   policy condition requires that the key is not matched, such as
//!   StringNotLike or ArnNotLike, and the right key is not present, the condition
//!   is true. This logic applies to all condition operators except ...IfExists
//!   and Null check." (same page).
//! - `...IfExists`: "If the key is not present, evaluate the condition element
//!   as true"; not allowed on `Null` (same page).
//! - Several operators, and several keys under one operator, are AND'ed; several
//!   values for one key are OR'ed, and NOR'ed for a negated operator:
//!   <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_multi-value-conditions.html>.
//! - `ForAllValues`: true if every request value matches some policy value,
//!   and true when the key is absent or empty. `ForAnyValue`: true if some
//!   request value matches some policy value, false when absent or empty (same
//!   page). A negated operator under a set qualifier asks the per-value question
//!   "matches none of the policy values".
//! - Without a qualifier, a key holding several values is matched if any of
//!   them matches, and a negated operator holds if none does. (AWS says not to
//!   use an unqualified operator on a multivalued key; this is the reading that
//!   keeps `NotX` the exact negation of `X`.)
//! - Policy variables are allowed in string and ARN operators (and `Bool`, per
//!   the operators page) only.

use std::cmp::Ordering;
use std::net::IpAddr;

use base64::Engine as _;
use time::OffsetDateTime;

use crate::context::{ConditionKey, ContextValue, RequestContext};
use crate::date::parse_date;
use crate::error::StatementError;
use crate::ip::IpBlock;
use crate::json::Json;
use crate::matching::{arn_match, glob_match};
use crate::numeric::Decimal;
use crate::variables::Template;

/// A parsed `Condition` element: all clauses must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConditionBlock {
    clauses: Vec<Clause>,
}

impl ConditionBlock {
    /// Adds the keys the clauses test, and those their values' variables
    /// read, to `keys`.
    pub(crate) fn collect_keys(&self, keys: &mut Vec<String>) {
        for clause in &self.clauses {
            keys.push(clause.key.as_str().to_owned());
            for value in &clause.values {
                if let PolicyValue::Text(template) = value {
                    template.collect_keys(keys);
                }
            }
        }
    }
}

/// One operator applied to one key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Clause {
    operator: Operator,
    key: ConditionKey,
    values: Vec<PolicyValue>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Operator {
    kind: OperatorKind,
    qualifier: Option<SetQualifier>,
    if_exists: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OperatorKind {
    /// A comparison, possibly negated (`StringNotEquals` is `StringEquals`, negated).
    Compare { test: Test, negated: bool },
    /// `Null`: whether the key is absent.
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SetQualifier {
    ForAllValues,
    ForAnyValue,
}

/// The positive comparisons every operator is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Test {
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    /// `ArnEquals` and `ArnLike` "behave identically".
    ArnLike,
    Numeric(Ordering, OrEqual),
    Date(Ordering, OrEqual),
    Bool,
    BinaryEquals,
    IpAddress,
}

/// For `Numeric`/`Date` tests: whether equality also satisfies a `<`/`>` test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrEqual {
    No,
    Yes,
}

/// A condition value from the policy, already read as its operator's type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PolicyValue {
    Text(Template),
    Number(Decimal),
    Date(OffsetDateTime),
    Bool(BoolValue),
    Binary(Vec<u8>),
    Ip(IpBlock),
    /// `Null`'s `true` (the key must be absent) or `false` (present).
    Null(bool),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum BoolValue {
    Literal(bool),
    Variable(Template),
}

/// Every operator name AWS documents, without qualifier or `IfExists`.
const OPERATORS: &[(&str, Test, bool)] = &[
    ("StringEquals", Test::StringEquals, false),
    ("StringNotEquals", Test::StringEquals, true),
    (
        "StringEqualsIgnoreCase",
        Test::StringEqualsIgnoreCase,
        false,
    ),
    (
        "StringNotEqualsIgnoreCase",
        Test::StringEqualsIgnoreCase,
        true,
    ),
    ("StringLike", Test::StringLike, false),
    ("StringNotLike", Test::StringLike, true),
    ("ArnEquals", Test::ArnLike, false),
    ("ArnLike", Test::ArnLike, false),
    ("ArnNotEquals", Test::ArnLike, true),
    ("ArnNotLike", Test::ArnLike, true),
    (
        "NumericEquals",
        Test::Numeric(Ordering::Equal, OrEqual::Yes),
        false,
    ),
    (
        "NumericNotEquals",
        Test::Numeric(Ordering::Equal, OrEqual::Yes),
        true,
    ),
    (
        "NumericLessThan",
        Test::Numeric(Ordering::Less, OrEqual::No),
        false,
    ),
    (
        "NumericLessThanEquals",
        Test::Numeric(Ordering::Less, OrEqual::Yes),
        false,
    ),
    (
        "NumericGreaterThan",
        Test::Numeric(Ordering::Greater, OrEqual::No),
        false,
    ),
    (
        "NumericGreaterThanEquals",
        Test::Numeric(Ordering::Greater, OrEqual::Yes),
        false,
    ),
    (
        "DateEquals",
        Test::Date(Ordering::Equal, OrEqual::Yes),
        false,
    ),
    (
        "DateNotEquals",
        Test::Date(Ordering::Equal, OrEqual::Yes),
        true,
    ),
    (
        "DateLessThan",
        Test::Date(Ordering::Less, OrEqual::No),
        false,
    ),
    (
        "DateLessThanEquals",
        Test::Date(Ordering::Less, OrEqual::Yes),
        false,
    ),
    (
        "DateGreaterThan",
        Test::Date(Ordering::Greater, OrEqual::No),
        false,
    ),
    (
        "DateGreaterThanEquals",
        Test::Date(Ordering::Greater, OrEqual::Yes),
        false,
    ),
    ("Bool", Test::Bool, false),
    ("BinaryEquals", Test::BinaryEquals, false),
    ("IpAddress", Test::IpAddress, false),
    ("NotIpAddress", Test::IpAddress, true),
];

impl ConditionBlock {
    pub(crate) fn parse(
        json: &Json,
        variables_enabled: bool,
    ) -> Result<ConditionBlock, StatementError> {
        let Json::Object(operators) = json else {
            return Err(StatementError::InvalidCondition { found: json.kind() });
        };
        let mut clauses = Vec::new();
        for (operator_name, keys) in operators {
            let operator = Operator::parse(operator_name)?;
            let Json::Object(keys) = keys else {
                return Err(StatementError::ConditionOperatorNotObject {
                    operator: operator_name.clone(),
                    found: keys.kind(),
                });
            };
            for (key, values) in keys {
                if !is_condition_key(key) {
                    return Err(StatementError::InvalidConditionKey {
                        operator: operator_name.clone(),
                        key: key.clone(),
                    });
                }
                let values = condition_values(operator_name, key, values)?
                    .into_iter()
                    .map(|value| {
                        PolicyValue::parse(operator.kind, value, variables_enabled).map_err(
                            |expected| StatementError::InvalidConditionValue {
                                operator: operator_name.clone(),
                                key: key.clone(),
                                value: value.to_owned(),
                                expected,
                            },
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                clauses.push(Clause {
                    operator,
                    key: ConditionKey::new(key),
                    values,
                });
            }
        }
        Ok(ConditionBlock { clauses })
    }

    /// Whether every clause holds for `request`.
    pub(crate) fn holds(&self, request: &RequestContext) -> bool {
        self.clauses.iter().all(|clause| clause.holds(request))
    }
}

impl Operator {
    fn parse(name: &str) -> Result<Operator, StatementError> {
        let unknown = || StatementError::UnknownConditionOperator {
            operator: name.to_owned(),
        };
        let (qualifier, rest) = if let Some(rest) = name.strip_prefix("ForAllValues:") {
            (Some(SetQualifier::ForAllValues), rest)
        } else if let Some(rest) = name.strip_prefix("ForAnyValue:") {
            (Some(SetQualifier::ForAnyValue), rest)
        } else {
            (None, name)
        };
        let (base, if_exists) = match rest.strip_suffix("IfExists") {
            Some(base) => (base, true),
            None => (rest, false),
        };
        if base == "Null" {
            if if_exists {
                return Err(StatementError::InvalidNullModifier {
                    modifier: "IfExists",
                });
            }
            if qualifier.is_some() {
                return Err(StatementError::InvalidNullModifier {
                    modifier: "a ForAllValues: or ForAnyValue: qualifier",
                });
            }
            return Ok(Operator {
                kind: OperatorKind::Null,
                qualifier: None,
                if_exists: false,
            });
        }
        let (_, test, negated) = OPERATORS
            .iter()
            .find(|(operator_name, _, _)| *operator_name == base)
            .ok_or_else(unknown)?;
        Ok(Operator {
            kind: OperatorKind::Compare {
                test: *test,
                negated: *negated,
            },
            qualifier,
            if_exists,
        })
    }
}

impl Clause {
    fn holds(&self, request: &RequestContext) -> bool {
        // A key present with no values is as good as absent ("a null data set").
        let request_values = request
            .values(&self.key)
            .filter(|values| !values.is_empty());
        let (test, negated) = match self.operator.kind {
            OperatorKind::Null => {
                let absent = request_values.is_none();
                return self.values.contains(&PolicyValue::Null(absent));
            }
            OperatorKind::Compare { test, negated } => (test, negated),
        };
        let Some(request_values) = request_values else {
            return self.operator.if_exists
                || match self.operator.qualifier {
                    None => negated,
                    Some(SetQualifier::ForAllValues) => true,
                    Some(SetQualifier::ForAnyValue) => false,
                };
        };
        // Per request value: does it match any policy value (OR), negated to
        // "matches none of them" (NOR) for a negated operator.
        let value_passes = |value: &ContextValue| {
            let matched = self
                .values
                .iter()
                .any(|policy_value| test.matches(value, policy_value, request));
            matched != negated
        };
        match self.operator.qualifier {
            Some(SetQualifier::ForAllValues) => request_values.iter().all(value_passes),
            Some(SetQualifier::ForAnyValue) => request_values.iter().any(value_passes),
            None if negated => request_values.iter().all(value_passes),
            None => request_values.iter().any(value_passes),
        }
    }
}

impl Test {
    fn matches(
        self,
        value: &ContextValue,
        policy_value: &PolicyValue,
        request: &RequestContext,
    ) -> bool {
        match (self, policy_value) {
            (Test::StringEquals, PolicyValue::Text(template)) => template
                .resolve_text(request)
                .is_some_and(|expected| value.to_text() == expected),
            (Test::StringEqualsIgnoreCase, PolicyValue::Text(template)) => template
                .resolve_text(request)
                .is_some_and(|expected| value.to_text().to_lowercase() == expected.to_lowercase()),
            (Test::StringLike, PolicyValue::Text(template)) => template
                .resolve_pattern(request)
                .is_some_and(|pattern| glob_match(&pattern, &value.to_text())),
            (Test::ArnLike, PolicyValue::Text(template)) => template
                .resolve_pattern(request)
                .is_some_and(|pattern| arn_match(&pattern, &value.to_text())),
            (Test::Numeric(ordering, or_equal), PolicyValue::Number(expected)) => number_of(value)
                .is_some_and(|actual| compares(actual.cmp(expected), ordering, or_equal)),
            (Test::Date(ordering, or_equal), PolicyValue::Date(expected)) => date_of(value)
                .is_some_and(|actual| compares(actual.cmp(expected), ordering, or_equal)),
            (Test::Bool, PolicyValue::Bool(expected)) => {
                let expected = match expected {
                    BoolValue::Literal(expected) => Some(*expected),
                    BoolValue::Variable(template) => template
                        .resolve_text(request)
                        .and_then(|text| parse_bool(&text)),
                };
                expected.is_some_and(|expected| bool_of(value) == Some(expected))
            }
            (Test::BinaryEquals, PolicyValue::Binary(expected)) => match value {
                ContextValue::Binary(actual) => actual == expected,
                ContextValue::String(text) => base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .is_ok_and(|actual| actual == *expected),
                _ => false,
            },
            (Test::IpAddress, PolicyValue::Ip(block)) => {
                ip_of(value).is_some_and(|address| block.contains(address))
            }
            // Values were parsed for their operator, so other pairs cannot occur.
            _ => false,
        }
    }
}

impl PolicyValue {
    /// Reads a value for `kind`; on failure, says what was expected.
    fn parse(
        kind: OperatorKind,
        text: &str,
        variables_enabled: bool,
    ) -> Result<PolicyValue, &'static str> {
        let template = || {
            Template::parse(text, variables_enabled)
                .map_err(|_| "a string whose ${...} policy variables are well formed")
        };
        let test = match kind {
            OperatorKind::Null => {
                return parse_bool(text)
                    .map(PolicyValue::Null)
                    .ok_or("\"true\" (the key is absent) or \"false\" (the key is present)")
            }
            OperatorKind::Compare { test, .. } => test,
        };
        match test {
            Test::StringEquals
            | Test::StringEqualsIgnoreCase
            | Test::StringLike
            | Test::ArnLike => template().map(PolicyValue::Text),
            Test::Numeric(..) => Decimal::parse(text)
                .map(PolicyValue::Number)
                .ok_or("a decimal number such as 10 or -2.5"),
            Test::Date(..) => parse_date(text)
                .map(PolicyValue::Date)
                .ok_or("an ISO 8601 date such as 2020-01-01T00:00:00Z, or epoch seconds"),
            Test::Bool => match parse_bool(text) {
                Some(literal) => Ok(PolicyValue::Bool(BoolValue::Literal(literal))),
                None => {
                    let template = template()?;
                    if template.has_variables() {
                        Ok(PolicyValue::Bool(BoolValue::Variable(template)))
                    } else {
                        Err("\"true\" or \"false\"")
                    }
                }
            },
            Test::BinaryEquals => base64::engine::general_purpose::STANDARD
                .decode(text)
                .map(PolicyValue::Binary)
                .map_err(|_| "base64-encoded bytes"),
            Test::IpAddress => IpBlock::parse(text)
                .map(PolicyValue::Ip)
                .ok_or("an IPv4 or IPv6 address or CIDR block such as 203.0.113.0/24"),
        }
    }
}

/// A condition key is `prefix:name`; AWS refuses a key without its service prefix.
fn is_condition_key(key: &str) -> bool {
    key.split_once(':')
        .is_some_and(|(prefix, name)| !prefix.is_empty() && !name.is_empty())
}

/// A key's values: a string, number or boolean, or a list of them, as text.
fn condition_values<'a>(
    operator: &str,
    key: &str,
    json: &'a Json,
) -> Result<Vec<&'a str>, StatementError> {
    let scalar = |item: &'a Json| match item {
        Json::String(text) | Json::Number(text) => Ok(text.as_str()),
        Json::Bool(true) => Ok("true"),
        Json::Bool(false) => Ok("false"),
        other => Err(StatementError::InvalidConditionValueType {
            operator: operator.to_owned(),
            key: key.to_owned(),
            found: other.kind(),
        }),
    };
    match json {
        Json::List(items) => items.iter().map(scalar).collect(),
        single => scalar(single).map(|text| vec![text]),
    }
}

fn compares(actual: Ordering, wanted: Ordering, or_equal: OrEqual) -> bool {
    actual == wanted || (or_equal == OrEqual::Yes && actual == Ordering::Equal)
}

/// Booleans are "true" and "false", in any letter case.
fn parse_bool(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn number_of(value: &ContextValue) -> Option<Decimal> {
    match value {
        ContextValue::Integer(number) => Decimal::parse(&number.to_string()),
        ContextValue::String(text) => Decimal::parse(text),
        _ => None,
    }
}

fn date_of(value: &ContextValue) -> Option<OffsetDateTime> {
    match value {
        ContextValue::Date(date) => Some(*date),
        ContextValue::Integer(seconds) => OffsetDateTime::from_unix_timestamp(*seconds).ok(),
        ContextValue::String(text) => parse_date(text),
        _ => None,
    }
}

fn bool_of(value: &ContextValue) -> Option<bool> {
    match value {
        ContextValue::Bool(flag) => Some(*flag),
        ContextValue::String(text) => parse_bool(text),
        _ => None,
    }
}

fn ip_of(value: &ContextValue) -> Option<IpAddr> {
    match value {
        ContextValue::Ip(address) => Some(*address),
        ContextValue::String(text) => text.parse().ok(),
        _ => None,
    }
}
