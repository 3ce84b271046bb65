//! Policy documents as IAM receives them: the size checks IAM makes before
//! parsing, and the `MalformedPolicyDocument` wording of a refused one.
//! Shared by inline policies (`policies.rs`), trust policies (`trust.rs`)
//! and the documents read back from the store (`service.rs`).

use keyward_policy::{PolicyError, StatementError};

use crate::error::IdentityError;
use crate::names::validation;

/// Largest policy text the parser is handed; the IAM quotas (which do not
/// count white space) are checked before, in `iam.rs` and `policies.rs`.
pub(crate) const PARSE_LIMIT_BYTES: usize = 131_072;

/// The model's limit on a `PolicyDocument` member, in characters.
const MAX_POLICY_DOCUMENT_CHARS: usize = 131_072;

/// AWS's `MalformedPolicyDocument` message for a refused document. IAM's
/// own wording where we know it; otherwise the policy crate's precise reason.
pub(crate) fn malformed(error: &PolicyError) -> IdentityError {
    let message = match error {
        PolicyError::InvalidJson { .. } | PolicyError::NotAnObject { .. } => {
            "Syntax errors in policy.".to_string()
        }
        PolicyError::Statement {
            reason: StatementError::PrincipalInIdentityPolicy { .. },
            ..
        } => "Policy document should not specify a principal.".to_string(),
        PolicyError::Statement {
            reason: StatementError::MissingPrincipal,
            ..
        } => "Missing required field Principal".to_string(),
        other => other.to_string(),
    };
    IdentityError::MalformedPolicyDocument(message)
}

pub(crate) fn check_policy_document(text: &str, member: &str) -> Result<(), IdentityError> {
    if text.is_empty() {
        return Err(validation(
            text,
            member,
            "have length greater than or equal to 1",
        ));
    }
    if text.chars().count() > MAX_POLICY_DOCUMENT_CHARS {
        return Err(IdentityError::Validation(format!(
            "1 validation error detected: Value at '{member}' failed to satisfy constraint: Member must have length less than or equal to {MAX_POLICY_DOCUMENT_CHARS}"
        )));
    }
    Ok(())
}
