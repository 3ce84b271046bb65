//! One statement: its elements, how they are validated, and whether the
//! statement applies to a request.
//!
//! Element rules relied on, from
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html>
//! and the pages it links:
//! - `Effect` is `Allow` or `Deny`.
//! - `Action`/`NotAction`: "The prefix and the action name are case
//!   insensitive", with `*` and `?` wildcards
//!   (reference_policies_elements_action.html).
//! - `Resource`/`NotResource`: ARNs with per-segment wildcards, case-sensitive,
//!   policy variables allowed (reference_policies_elements_resource.html).
//! - `X` and `NotX` exclude each other; identity policies have no principal;
//!   resource policies must have one.
//!
//! A resource policy statement missing `Action` or `Resource` parses and
//! never applies: services accepted such statements for years and treat
//! stored ones as ineffective, so documents stored back then must still
//! load. A service that now refuses them in new documents (AWS KMS has since
//! August 2025) asks [`Policy::require_complete_statements`]. An identity
//! policy statement must have both, as IAM requires.
//!
//! [`Policy::require_complete_statements`]: crate::Policy::require_complete_statements

use crate::condition::ConditionBlock;
use crate::context::{RequestContext, RequestPrincipal};
use crate::document::PolicyKind;
use crate::error::StatementError;
use crate::json::Json;
use crate::matching::{arn_match, glob_match, glob_tokens, GlobToken};
use crate::principal::{PrincipalMatching, PrincipalSet};
use crate::variables::Template;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    Allow,
    Deny,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    pub(crate) sid: Option<String>,
    pub(crate) effect: Effect,
    pub(crate) principal: PrincipalMatch,
    /// `None` only in a resource policy statement without `Action`/`NotAction`.
    action: Option<Listed<Vec<Vec<GlobToken>>>>,
    /// `None` only in a resource policy statement without `Resource`/`NotResource`.
    resource: Option<Listed<Vec<Template>>>,
    condition: Option<ConditionBlock>,
}

/// Who a statement is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PrincipalMatch {
    /// Identity policies: the identity the policy is attached to.
    Holder,
    Principal(PrincipalSet),
    NotPrincipal(PrincipalSet),
}

/// `X` (the request must match one entry) or `NotX` (it must match none).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Listed<T> {
    Only(T),
    AllBut(T),
}

/// Statement elements in the order they are read.
const ELEMENTS: &[&str] = &[
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
];

impl Statement {
    /// Reads one statement. `variables_enabled` is true for version `2012-10-17`.
    pub(crate) fn parse(
        members: &[(String, Json)],
        kind: PolicyKind,
        variables_enabled: bool,
    ) -> Result<Statement, StatementError> {
        if let Some((unknown, _)) = members
            .iter()
            .find(|(name, _)| !ELEMENTS.contains(&name.as_str()))
        {
            return Err(StatementError::UnknownElement {
                element: unknown.clone(),
            });
        }
        let element = |name: &str| {
            members
                .iter()
                .find(|(member, _)| member == name)
                .map(|(_, value)| value)
        };

        let sid = match element("Sid") {
            None => None,
            Some(Json::String(sid))
                if kind == PolicyKind::Identity
                    && !sid.bytes().all(|b| b.is_ascii_alphanumeric()) =>
            {
                return Err(StatementError::InvalidSid { sid: sid.clone() })
            }
            Some(Json::String(sid)) => Some(sid.clone()),
            Some(other) => {
                return Err(StatementError::NotAString {
                    element: "Sid",
                    found: other.kind(),
                })
            }
        };
        let effect = match element("Effect") {
            None => return Err(StatementError::MissingEffect),
            Some(Json::String(effect)) if effect == "Allow" => Effect::Allow,
            Some(Json::String(effect)) if effect == "Deny" => Effect::Deny,
            Some(Json::String(other)) => {
                return Err(StatementError::InvalidEffect {
                    found: other.clone(),
                })
            }
            Some(other) => {
                return Err(StatementError::NotAString {
                    element: "Effect",
                    found: other.kind(),
                })
            }
        };

        let principal = match (element("Principal"), element("NotPrincipal"), kind) {
            (Some(_), Some(_), _) => return Err(conflict("Principal", "NotPrincipal")),
            (Some(_), None, PolicyKind::Identity) => {
                return Err(StatementError::PrincipalInIdentityPolicy {
                    element: "Principal",
                })
            }
            (None, Some(_), PolicyKind::Identity) => {
                return Err(StatementError::PrincipalInIdentityPolicy {
                    element: "NotPrincipal",
                })
            }
            (None, None, PolicyKind::Identity) => PrincipalMatch::Holder,
            (None, None, PolicyKind::Resource) => return Err(StatementError::MissingPrincipal),
            (Some(json), None, PolicyKind::Resource) => {
                PrincipalMatch::Principal(PrincipalSet::parse("Principal", json)?)
            }
            (None, Some(json), PolicyKind::Resource) => {
                if effect == Effect::Allow {
                    return Err(StatementError::NotPrincipalWithAllow);
                }
                PrincipalMatch::NotPrincipal(PrincipalSet::parse("NotPrincipal", json)?)
            }
        };

        let action = match (element("Action"), element("NotAction")) {
            (Some(_), Some(_)) => return Err(conflict("Action", "NotAction")),
            (Some(json), None) => Some(Listed::Only(parse_actions("Action", json)?)),
            (None, Some(json)) => Some(Listed::AllBut(parse_actions("NotAction", json)?)),
            (None, None) if kind == PolicyKind::Identity => {
                return Err(StatementError::MissingAction)
            }
            (None, None) => None,
        };

        let resource = match (element("Resource"), element("NotResource")) {
            (Some(_), Some(_)) => return Err(conflict("Resource", "NotResource")),
            (Some(json), None) => Some(Listed::Only(parse_resources(
                "Resource",
                json,
                variables_enabled,
            )?)),
            (None, Some(json)) => Some(Listed::AllBut(parse_resources(
                "NotResource",
                json,
                variables_enabled,
            )?)),
            (None, None) if kind == PolicyKind::Identity => {
                return Err(StatementError::MissingResource)
            }
            (None, None) => None,
        };

        let condition = element("Condition")
            .map(|json| ConditionBlock::parse(json, variables_enabled))
            .transpose()?;

        Ok(Statement {
            sid,
            effect,
            principal,
            action,
            resource,
            condition,
        })
    }

    /// Why the statement is incomplete, when it names no action
    /// (`Action`/`NotAction`) or no resource (`Resource`/`NotResource`).
    /// Only resource policy statements can be, since parsing refuses such
    /// identity policy statements.
    pub(crate) fn incompleteness(&self) -> Option<StatementError> {
        if self.action.is_none() {
            Some(StatementError::MissingAction)
        } else if self.resource.is_none() {
            Some(StatementError::MissingResource)
        } else {
            None
        }
    }

    /// Adds every condition key the statement reads — in `Condition`, and
    /// through variables in `Condition` values and `Resource` — to `keys`.
    pub(crate) fn collect_keys(&self, keys: &mut Vec<String>) {
        if let Some(Listed::Only(templates) | Listed::AllBut(templates)) = &self.resource {
            for template in templates {
                template.collect_keys(keys);
            }
        }
        if let Some(condition) = &self.condition {
            condition.collect_keys(keys);
        }
    }

    /// Whether every element of the statement matches the request.
    pub(crate) fn applies_to(
        &self,
        request: &RequestContext,
        principal: &RequestPrincipal,
        matching: PrincipalMatching,
    ) -> bool {
        self.principal_matches(principal, matching)
            && self.action_matches(request)
            && self.resource_matches(request)
            && self
                .condition
                .as_ref()
                .is_none_or(|condition| condition.holds(request))
    }

    fn principal_matches(&self, principal: &RequestPrincipal, matching: PrincipalMatching) -> bool {
        match &self.principal {
            PrincipalMatch::Holder => true,
            PrincipalMatch::Principal(set) => set.matches_any_identity(principal, matching),
            PrincipalMatch::NotPrincipal(set) => set.misses_some_identity(principal, matching),
        }
    }

    fn action_matches(&self, request: &RequestContext) -> bool {
        let action = request.action_lowercase();
        let any = |patterns: &Vec<Vec<GlobToken>>| {
            patterns.iter().any(|pattern| glob_match(pattern, action))
        };
        match &self.action {
            None => false,
            Some(Listed::Only(patterns)) => any(patterns),
            Some(Listed::AllBut(patterns)) => !any(patterns),
        }
    }

    fn resource_matches(&self, request: &RequestContext) -> bool {
        // A pattern whose variable has no value matches no resource
        // (reference_policies_variables.html, "Policy variables with no value").
        let any = |templates: &Vec<Template>| {
            templates.iter().any(|template| {
                template
                    .resolve_pattern(request)
                    .is_some_and(|pattern| arn_match(&pattern, request.resource()))
            })
        };
        match &self.resource {
            None => false,
            Some(Listed::Only(templates)) => any(templates),
            Some(Listed::AllBut(templates)) => !any(templates),
        }
    }
}

fn conflict(first: &'static str, second: &'static str) -> StatementError {
    StatementError::Conflicting { first, second }
}

fn strings<'a>(element: &'static str, json: &'a Json) -> Result<Vec<&'a str>, StatementError> {
    let not_strings = |found| StatementError::NotAStringOrList { element, found };
    match json {
        Json::String(value) => Ok(vec![value.as_str()]),
        Json::List(items) if items.is_empty() => Err(StatementError::EmptyList { element }),
        Json::List(items) => items
            .iter()
            .map(|item| match item {
                Json::String(value) => Ok(value.as_str()),
                other => Err(not_strings(other.kind())),
            })
            .collect(),
        other => Err(not_strings(other.kind())),
    }
}

/// Actions are `*` or `prefix:name`; the prefix is a service namespace
/// (letters, digits, `-`), the name may use wildcards. Stored in lower case.
fn parse_actions(
    element: &'static str,
    json: &Json,
) -> Result<Vec<Vec<GlobToken>>, StatementError> {
    strings(element, json)?
        .into_iter()
        .map(|action| {
            let well_formed = action == "*"
                || action.split_once(':').is_some_and(|(prefix, name)| {
                    !prefix.is_empty()
                        && prefix
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !name.is_empty()
                        && !name.contains(':')
                });
            if !well_formed {
                return Err(StatementError::InvalidAction {
                    action: action.to_owned(),
                });
            }
            Ok(glob_tokens(&action.to_lowercase()))
        })
        .collect()
}

fn parse_resources(
    element: &'static str,
    json: &Json,
    variables_enabled: bool,
) -> Result<Vec<Template>, StatementError> {
    strings(element, json)?
        .into_iter()
        .map(|resource| {
            if resource != "*" && !resource.starts_with("arn:") {
                return Err(StatementError::InvalidResource {
                    resource: resource.to_owned(),
                });
            }
            Template::parse(resource, variables_enabled)
        })
        .collect()
}
