//! The policy document: size limit, top-level elements, the statement list.
//!
//! Rules relied on:
//! - Top-level elements are `Version`, `Id` and `Statement`
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html>).
//! - `Version` is `2012-10-17` or `2008-10-17`; without it, policy variables
//!   "are treated as literal strings"
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html>).
//! - `Statement` is one statement object or a list of them
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_statement.html>).
//! - "In IAM, the Sid value must be unique within a JSON policy", and made of
//!   ASCII letters and digits
//!   (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_sid.html>).
//!   We hold identity policies to that; resource policies may repeat Sids and
//!   use any characters (a KMS key policy's default Sid has spaces).
//!
//! Element names are case-sensitive, as in AWS. The size limit is the caller's
//! (AWS key policies: 32 KB) and counts the bytes of the document as received.

use crate::error::{PolicyError, StatementLocation};
use crate::json::Json;
use crate::principal::PrincipalName;
use crate::statement::{PrincipalMatch, Statement};

/// Whether a document is attached to a resource (and names principals) or to
/// an identity (whose principal is implicit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyKind {
    /// Every statement has `Principal` or `NotPrincipal`.
    Resource,
    /// No statement has `Principal` or `NotPrincipal`.
    Identity,
}

/// The policy language version a document declares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyVersion {
    /// `2012-10-17`: the current language, with policy variables.
    V2012_10_17,
    /// `2008-10-17`, or no `Version` element: `${...}` is literal text.
    V2008_10_17,
}

/// A validated policy document, ready to evaluate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    kind: PolicyKind,
    version: PolicyVersion,
    id: Option<String>,
    pub(crate) statements: Vec<Statement>,
    /// Every condition key the document reads, lower-cased, sorted, once each.
    condition_keys: Vec<String>,
}

impl Policy {
    /// Parses and validates `document` as a policy of `kind`, refusing
    /// documents longer than `max_bytes`.
    pub fn parse(
        document: &str,
        kind: PolicyKind,
        max_bytes: usize,
    ) -> Result<Policy, PolicyError> {
        if document.len() > max_bytes {
            return Err(PolicyError::TooLarge {
                size: document.len(),
                limit: max_bytes,
            });
        }
        let json = Json::parse(document).map_err(|source| PolicyError::InvalidJson { source })?;
        let Json::Object(members) = json else {
            return Err(PolicyError::NotAnObject { found: json.kind() });
        };
        if let Some((unknown, _)) = members
            .iter()
            .find(|(name, _)| !["Version", "Id", "Statement"].contains(&name.as_str()))
        {
            return Err(PolicyError::UnknownElement {
                element: unknown.clone(),
            });
        }
        let element = |name: &str| {
            members
                .iter()
                .find(|(member, _)| member == name)
                .map(|(_, value)| value)
        };

        let version = match element("Version") {
            None => PolicyVersion::V2008_10_17,
            Some(Json::String(version)) if version == "2012-10-17" => PolicyVersion::V2012_10_17,
            Some(Json::String(version)) if version == "2008-10-17" => PolicyVersion::V2008_10_17,
            Some(Json::String(other)) => {
                return Err(PolicyError::UnsupportedVersion {
                    found: other.clone(),
                })
            }
            Some(other) => {
                return Err(PolicyError::NotAString {
                    element: "Version",
                    found: other.kind(),
                })
            }
        };
        let id = match element("Id") {
            None => None,
            Some(Json::String(id)) => Some(id.clone()),
            Some(other) => {
                return Err(PolicyError::NotAString {
                    element: "Id",
                    found: other.kind(),
                })
            }
        };
        let statement_objects: Vec<&Json> = match element("Statement") {
            None => return Err(PolicyError::MissingStatement),
            Some(Json::List(items)) if items.is_empty() => {
                return Err(PolicyError::EmptyStatementList)
            }
            Some(Json::List(items)) => items.iter().collect(),
            Some(single @ Json::Object(_)) => vec![single],
            Some(other) => {
                return Err(PolicyError::InvalidStatementList {
                    found: other.kind(),
                })
            }
        };

        let variables_enabled = version == PolicyVersion::V2012_10_17;
        let mut statements: Vec<Statement> = Vec::with_capacity(statement_objects.len());
        for (index, statement_json) in statement_objects.into_iter().enumerate() {
            let Json::Object(statement_members) = statement_json else {
                return Err(PolicyError::Statement {
                    at: StatementLocation { index, sid: None },
                    reason: crate::error::StatementError::NotAnObject {
                        found: statement_json.kind(),
                    },
                });
            };
            let statement =
                Statement::parse(statement_members, kind, variables_enabled).map_err(|reason| {
                    let sid = statement_members.iter().find_map(|(name, value)| {
                        match (name.as_str(), value) {
                            ("Sid", Json::String(sid)) => Some(sid.clone()),
                            _ => None,
                        }
                    });
                    PolicyError::Statement {
                        at: StatementLocation { index, sid },
                        reason,
                    }
                })?;
            // IAM: "the Sid value must be unique within a JSON policy". Other
            // services' resource policies (S3's, for one) accept repeats.
            let unique_sids = kind == PolicyKind::Identity;
            if let Some(sid) = statement
                .sid
                .as_deref()
                .filter(|sid| unique_sids && !sid.is_empty())
            {
                if statements
                    .iter()
                    .any(|earlier| earlier.sid.as_deref() == Some(sid))
                {
                    return Err(PolicyError::DuplicateSid {
                        sid: sid.to_owned(),
                    });
                }
            }
            statements.push(statement);
        }
        let mut condition_keys = Vec::new();
        for statement in &statements {
            statement.collect_keys(&mut condition_keys);
        }
        condition_keys.sort();
        condition_keys.dedup();
        Ok(Policy {
            kind,
            version,
            id,
            statements,
            condition_keys,
        })
    }

    /// Refuses a document with a statement that names no action
    /// (`Action`/`NotAction`) or no resource (`Resource`/`NotResource`).
    /// [`Policy::parse`] accepts such resource policy statements — they never
    /// apply — so that documents stored when services allowed them still
    /// load; a service that refuses them in new documents checks new ones
    /// with this.
    pub fn require_complete_statements(&self) -> Result<(), PolicyError> {
        for (index, statement) in self.statements.iter().enumerate() {
            if let Some(reason) = statement.incompleteness() {
                return Err(PolicyError::Statement {
                    at: StatementLocation {
                        index,
                        sid: statement.sid.clone(),
                    },
                    reason,
                });
            }
        }
        Ok(())
    }

    /// Every condition key the document reads (in `Condition` elements and
    /// through policy variables), lower-cased, sorted, once each. A caller
    /// that builds request contexts can skip the keys no policy in play
    /// reads: evaluation never looks at them.
    pub fn condition_keys(&self) -> &[String] {
        &self.condition_keys
    }

    /// Whether the document reads `key` (any case). Allocation-free: it is
    /// asked once per candidate key per request.
    pub fn reads_key(&self, key: &str) -> bool {
        if !key.is_ascii() {
            // Keys are stored with Unicode lower-casing; only ASCII takes the fast path.
            return self
                .condition_keys
                .binary_search(&key.to_lowercase())
                .is_ok();
        }
        self.condition_keys
            .binary_search_by(|k| compare_lowercase(k, key))
            .is_ok()
    }

    /// Whether the document reads a key starting with `prefix` (any case),
    /// such as `kms:EncryptionContext:`.
    pub fn reads_key_prefix(&self, prefix: &str) -> bool {
        if !prefix.is_ascii() {
            let prefix = prefix.to_lowercase();
            return self.condition_keys.iter().any(|k| k.starts_with(&prefix));
        }
        let start = self
            .condition_keys
            .partition_point(|k| compare_lowercase(k, prefix) == std::cmp::Ordering::Less);
        self.condition_keys.get(start).is_some_and(|k| {
            k.len() >= prefix.len()
                && k.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
        })
    }

    /// The kind the document was validated as.
    pub fn kind(&self) -> PolicyKind {
        self.kind
    }

    /// The declared language version (`2008-10-17` when `Version` is absent).
    pub fn version(&self) -> PolicyVersion {
        self.version
    }

    /// The optional `Id` element.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// How many statements the document has (a lone statement object counts as one).
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// Every principal the document names in `Principal` or `NotPrincipal`, in
    /// document order and without repeats, so that a caller can check that each
    /// exists before accepting the policy.
    pub fn named_principals(&self) -> Vec<PrincipalName> {
        let mut names: Vec<PrincipalName> = Vec::new();
        for statement in &self.statements {
            let set = match &statement.principal {
                PrincipalMatch::Holder => continue,
                PrincipalMatch::Principal(set) | PrincipalMatch::NotPrincipal(set) => set,
            };
            for name in set.names() {
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        names
    }
}

/// Orders a stored (lower-case) key against `other` as if `other` were
/// lower-cased too.
fn compare_lowercase(stored: &str, other: &str) -> std::cmp::Ordering {
    stored
        .bytes()
        .cmp(other.bytes().map(|b| b.to_ascii_lowercase()))
}
