//! AWS IAM policy documents, pure: parse, validate, and evaluate against a
//! request, with no I/O, no clock and no global state.
//!
//! ```text
//! Policy::parse(json, PolicyKind::Resource, 32_768)?   // or PolicyError, with a precise message
//!     .evaluate(&RequestContext::new(principal, "kms:Decrypt", key_arn)
//!         .with_value("aws:SourceIp", ip))             // -> Decision, naming the statement
//! combine([&key_policy_decision, &identity_decision])  // -> Verdict: deny wins, then allow
//! ```
//!
//! Architecture invariants:
//! - The crate knows the policy language, not any service. Condition keys such
//!   as `kms:EncryptionContext:...` are strings to it, and the caller decides
//!   which policies to evaluate and how to combine them beyond AWS's generic rule.
//! - Time, identities and every condition value come in the [`RequestContext`].
//! - Decisions are returned as data ([`Decision`], [`Verdict`]), never logged.
//! - Domain types are not `Serialize`: the document's JSON is the only format.
//!
//! The AWS semantics relied on are cited in each module, next to the code that
//! implements them.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

// Reading a document.
mod condition;
mod document;
mod error;
mod json;
mod principal;
mod statement;
mod variables;

// Matching values.
mod date;
mod ip;
mod matching;
mod numeric;

// Evaluating a request.
mod context;
mod evaluate;

#[cfg(test)]
mod check;
#[cfg(test)]
mod condition_test;
#[cfg(test)]
mod evaluate_test;
#[cfg(test)]
mod parse_test;
#[cfg(test)]
mod properties_test;

pub use context::{ContextValue, PrincipalKind, RequestContext, RequestPrincipal};
pub use document::{Policy, PolicyKind, PolicyVersion};
pub use error::{JsonKind, PolicyError, StatementError, StatementLocation};
pub use evaluate::{combine, Decision, StatementRef, Verdict};
pub use principal::PrincipalName;
