//! Policy variables: `${aws:username}` in `Resource` and in condition values.
//!
//! Rules relied on, from
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html>:
//! - Variables exist only in version `2012-10-17`; in `2008-10-17` (and when
//!   `Version` is missing) `${aws:username}` is literal text.
//! - `${*}`, `${?}` and `${$}` stand for a literal `*`, `?` and `$`.
//! - `${key, 'default'}` supplies a value when the key is absent.
//! - A key with no value makes the pattern that uses it match nothing ("the
//!   resource that includes a policy variable with no value will not match any
//!   resource"; for conditions, `StringEquals` does not match and
//!   `StringNotEquals` does).
//! - Only single-valued keys can be variables; we treat a key holding more than
//!   one value like an absent one.
//!
//! A substituted value is always literal text: a user named `*` must not turn a
//! `StringLike` pattern into a wildcard.

use std::borrow::Cow;

use crate::context::{ConditionKey, RequestContext};
use crate::error::StatementError;
use crate::matching::{glob_tokens, GlobToken};

/// A policy string that may contain variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Template {
    /// The text as written.
    source: String,
    parts: Vec<TemplatePart>,
    has_variables: bool,
    /// The wildcard pattern, compiled once, when there are no variables.
    static_pattern: Vec<GlobToken>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum TemplatePart {
    /// Text as written: `*` and `?` in it are wildcards where the operator allows them.
    Text(String),
    /// `${*}`, `${?}`, `${$}`: always literal.
    Escaped(char),
    Variable {
        key: ConditionKey,
        default: Option<String>,
    },
}

impl Template {
    /// Adds the keys this template's variables read to `keys`.
    pub(crate) fn collect_keys(&self, keys: &mut Vec<String>) {
        for part in &self.parts {
            if let TemplatePart::Variable { key, .. } = part {
                keys.push(key.as_str().to_owned());
            }
        }
    }

    /// Reads `text`, recognising variables only if `variables_enabled` (policy
    /// version `2012-10-17`).
    pub(crate) fn parse(text: &str, variables_enabled: bool) -> Result<Template, StatementError> {
        if !variables_enabled || !text.contains("${") {
            return Ok(Template::literal(text));
        }
        let invalid = |reason| StatementError::InvalidPolicyVariable {
            value: text.to_owned(),
            reason,
        };
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some((before, after_open)) = rest.split_once("${") {
            if !before.is_empty() {
                parts.push(TemplatePart::Text(before.to_owned()));
            }
            let Some((inner, after_close)) = after_open.split_once('}') else {
                return Err(invalid("\"${\" is not closed by \"}\""));
            };
            parts.push(parse_variable(inner).map_err(invalid)?);
            rest = after_close;
        }
        if !rest.is_empty() {
            parts.push(TemplatePart::Text(rest.to_owned()));
        }
        let has_variables = parts.iter().any(|part| {
            matches!(
                part,
                TemplatePart::Variable { .. } | TemplatePart::Escaped(_)
            )
        });
        if !has_variables {
            return Ok(Template::literal(text));
        }
        Ok(Template {
            source: text.to_owned(),
            parts,
            has_variables,
            static_pattern: Vec::new(),
        })
    }

    fn literal(text: &str) -> Template {
        Template {
            source: text.to_owned(),
            parts: vec![TemplatePart::Text(text.to_owned())],
            has_variables: false,
            static_pattern: glob_tokens(text),
        }
    }

    /// The text with variables substituted, or `None` if a variable has no value.
    pub(crate) fn resolve_text<'a>(&'a self, request: &RequestContext) -> Option<Cow<'a, str>> {
        if !self.has_variables {
            return Some(Cow::Borrowed(&self.source));
        }
        let mut out = String::with_capacity(self.source.len());
        for part in &self.parts {
            match part {
                TemplatePart::Text(text) => out.push_str(text),
                TemplatePart::Escaped(c) => out.push(*c),
                TemplatePart::Variable { key, default } => {
                    out.push_str(&variable_value(key, default.as_deref(), request)?)
                }
            }
        }
        Some(Cow::Owned(out))
    }

    /// A wildcard pattern with variables substituted, or `None` if a variable
    /// has no value. `*` and `?` written in the text are wildcards; escaped and
    /// substituted ones are literal.
    pub(crate) fn resolve_pattern(&self, request: &RequestContext) -> Option<Cow<'_, [GlobToken]>> {
        if !self.has_variables {
            return Some(Cow::Borrowed(&self.static_pattern));
        }
        let mut tokens = Vec::with_capacity(self.source.len());
        for part in &self.parts {
            match part {
                TemplatePart::Text(text) => tokens.extend(glob_tokens(text)),
                TemplatePart::Escaped(c) => tokens.push(GlobToken::Literal(*c)),
                TemplatePart::Variable { key, default } => {
                    let value = variable_value(key, default.as_deref(), request)?;
                    tokens.extend(value.chars().map(GlobToken::Literal));
                }
            }
        }
        Some(Cow::Owned(tokens))
    }

    pub(crate) fn has_variables(&self) -> bool {
        self.has_variables
    }
}

/// Parses the inside of `${...}`.
fn parse_variable(inner: &str) -> Result<TemplatePart, &'static str> {
    match inner {
        "*" => return Ok(TemplatePart::Escaped('*')),
        "?" => return Ok(TemplatePart::Escaped('?')),
        "$" => return Ok(TemplatePart::Escaped('$')),
        _ => {}
    }
    let (key, default) = match inner.split_once(',') {
        None => (inner.trim(), None),
        Some((key, default)) => {
            let default = default.trim();
            let Some(quoted) = default
                .strip_prefix('\'')
                .and_then(|d| d.strip_suffix('\''))
            else {
                return Err("a default value must be in single quotes, as in ${aws:PrincipalTag/team, 'none'}");
            };
            (key.trim(), Some(quoted.to_owned()))
        }
    };
    if key.is_empty() {
        return Err("\"${}\" names no condition key");
    }
    if !key.contains(':') {
        return Err(
            "a variable names a condition key with a service prefix, as in ${aws:username}",
        );
    }
    Ok(TemplatePart::Variable {
        key: ConditionKey::new(key),
        default,
    })
}

fn variable_value<'a>(
    key: &ConditionKey,
    default: Option<&'a str>,
    request: &'a RequestContext,
) -> Option<Cow<'a, str>> {
    match request.values(key) {
        Some([single]) => Some(single.to_text()),
        Some([]) | None => default.map(Cow::Borrowed),
        // A multivalued key cannot be a policy variable.
        Some(_) => None,
    }
}
