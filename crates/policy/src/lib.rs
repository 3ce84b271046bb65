//! AWS IAM policy documents, pure: parse, validate, and evaluate against a
//! request, with no I/O, no clock and no global state.
//!
//! ```
//! use keyward_policy::{combine, Decision, Policy, PolicyKind, RequestContext, RequestPrincipal, Verdict};
//!
//! let key_policy = Policy::parse(
//!     r#"{"Version": "2012-10-17", "Statement": [{
//!         "Sid": "Enable IAM User Permissions", "Effect": "Allow",
//!         "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
//!         "Action": "kms:*", "Resource": "*",
//!         "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}"#,
//!     PolicyKind::Resource,
//!     32_768,
//! )?;
//! let alice = RequestPrincipal::User {
//!     account_id: "111122223333".into(),
//!     arn: "arn:aws:iam::111122223333:user/alice".into(),
//! };
//! let request = RequestContext::new(alice, "kms:Decrypt", "arn:aws:kms:us-east-1:111122223333:key/k")
//!     .with_value("aws:SecureTransport", true);
//! let decision = key_policy.evaluate(&request);
//! assert!(matches!(&decision, Decision::Allow(statement) if statement.index == 0));
//! assert!(matches!(combine([&decision]), Verdict::Allowed { policy: 0, .. }));
//! # Ok::<(), keyward_policy::PolicyError>(())
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
pub use principal::{PrincipalMatching, PrincipalName};
