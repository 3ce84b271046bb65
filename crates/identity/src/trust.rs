//! Role trust policies: parsed as resource policies whose resource is the
//! role itself.
//!
//! A trust policy's statements name no `Resource` ("the resource is the role
//! the trust policy is attached to";
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html>
//! notes trust policies do not use it, and IAM refuses one that does with
//! "Has prohibited field Resource"). `keyward_policy` treats a statement
//! without `Resource` as applying to no resource, so for evaluation each
//! statement gets `"Resource": "*"`; the author's text is kept unchanged for
//! GetRole. The document is validated as written first, so error messages
//! refer to what the author sent.

use keyward_policy::{Policy, PolicyKind};

use crate::documents::{malformed, PARSE_LIMIT_BYTES};
use crate::error::IdentityError;

/// Validates `text` as a trust policy and returns the policy to evaluate.
pub(crate) fn parse_trust_policy(text: &str) -> Result<Policy, IdentityError> {
    Policy::parse(text, PolicyKind::Resource, PARSE_LIMIT_BYTES).map_err(|e| malformed(&e))?;
    let mut document: serde_json::Value = serde_json::from_str(text)
        .map_err(|_| IdentityError::MalformedPolicyDocument("Syntax errors in policy.".into()))?;
    let statements: Vec<&mut serde_json::Value> = match document.get_mut("Statement") {
        Some(serde_json::Value::Array(list)) => list.iter_mut().collect(),
        Some(single) => vec![single],
        None => Vec::new(),
    };
    for statement in statements {
        if let serde_json::Value::Object(members) = statement {
            if members.contains_key("Resource") || members.contains_key("NotResource") {
                return Err(IdentityError::MalformedPolicyDocument(
                    "Has prohibited field Resource".into(),
                ));
            }
            members.insert("Resource".into(), serde_json::Value::String("*".into()));
        }
    }
    Policy::parse(
        &document.to_string(),
        PolicyKind::Resource,
        PARSE_LIMIT_BYTES,
    )
    .map_err(|e| malformed(&e))
}
