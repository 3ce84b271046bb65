//! Grants: the in-memory record, its stored document, constraints, and the
//! grant token.
//!
//! A grant allows (never denies) its grantee the listed operations on one
//! key, optionally only for requests whose encryption context satisfies its
//! constraints (reference/kms-api.md §7, from
//! <https://docs.aws.amazon.com/kms/latest/developerguide/grants.html>).
//! keyward is strongly consistent, so a grant works as soon as CreateGrant
//! returns and its token is only ever needed for RetireGrant.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::{Context, InternalError};

/// The document kind grants are stored under.
pub(crate) const GRANT_DOCUMENT: &str = "grant";

/// Operations a grant may list (the `GrantOperation` enum of the model).
pub(crate) const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// Operations a symmetric encryption key cannot perform, so a grant for
/// them is refused (AWS: "ValidationException" for operations the key type
/// does not support).
pub(crate) const NOT_FOR_SYMMETRIC_KEYS: &[&str] = &[
    "Sign",
    "Verify",
    "GetPublicKey",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantConstraints {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_subset: Option<Context>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_context_equals: Option<Context>,
}

/// One grant, as kept in memory and (through serde) as a stored document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Grant {
    pub grant_id: String,
    pub key_id: String,
    /// The account owning the key (and the grant).
    pub key_account: String,
    pub name: Option<String>,
    pub created_ms: i64,
    pub grantee: String,
    pub retiring: Option<String>,
    /// In the order the request listed them, without duplicates.
    pub operations: Vec<String>,
    pub constraints: Option<GrantConstraints>,
    /// `arn:aws:iam::ACCOUNT:root` of the account whose principal created it.
    pub issuing_account: String,
}

impl GrantConstraints {
    /// Whether a request with `context` satisfies both constraints (an
    /// absent constraint holds).
    pub fn hold(&self, context: Option<&Context>) -> bool {
        let empty = Context::new();
        let context = context.unwrap_or(&empty);
        let subset_holds = self
            .encryption_context_subset
            .as_ref()
            .is_none_or(|subset| subset.iter().all(|(k, v)| context.get(k) == Some(v)));
        let equals_holds = self
            .encryption_context_equals
            .as_ref()
            .is_none_or(|equals| equals == context);
        subset_holds && equals_holds
    }

    /// Whether every request these constraints allow is also allowed by
    /// `parent`: a grant issued through a grant may narrow, never widen
    /// (add Subset pairs, turn Subset into Equals, never the reverse).
    pub fn at_least_as_strict_as(&self, parent: &GrantConstraints) -> bool {
        let pairs_cover = |narrower: &Context, wider: &Context| {
            wider.iter().all(|(k, v)| narrower.get(k) == Some(v))
        };
        let subset_ok = match &parent.encryption_context_subset {
            None => true,
            Some(parent_subset) => {
                self.encryption_context_equals
                    .as_ref()
                    .is_some_and(|equals| pairs_cover(equals, parent_subset))
                    || self
                        .encryption_context_subset
                        .as_ref()
                        .is_some_and(|subset| pairs_cover(subset, parent_subset))
            }
        };
        let equals_ok = match &parent.encryption_context_equals {
            None => true,
            Some(parent_equals) => self.encryption_context_equals.as_ref() == Some(parent_equals),
        };
        subset_ok && equals_ok
    }

    /// `kms:GrantConstraintType` values.
    pub fn types(&self) -> Vec<&'static str> {
        let mut types = Vec::new();
        if self.encryption_context_subset.is_some() {
            types.push("EncryptionContextSubset");
        }
        if self.encryption_context_equals.is_some() {
            types.push("EncryptionContextEquals");
        }
        types
    }
}

impl Grant {
    pub fn constraints_hold(&self, context: Option<&Context>) -> bool {
        self.constraints
            .as_ref()
            .is_none_or(|constraints| constraints.hold(context))
    }

    pub fn to_document(&self) -> Result<String, InternalError> {
        serde_json::to_string(self)
            .map_err(|e| InternalError::Inconsistent(format!("grant {}: {e}", self.grant_id)))
    }

    pub fn from_document(id: &str, doc: &str) -> Result<Grant, InternalError> {
        serde_json::from_str(doc)
            .map_err(|e| InternalError::Inconsistent(format!("grant {id}: {e}")))
    }

    /// Whether a new request asks for exactly this grant (Name idempotency:
    /// "identical parameters and the same Name").
    pub fn same_request(&self, other: &Grant) -> bool {
        let sorted = |ops: &Vec<String>| {
            let mut ops = ops.clone();
            ops.sort();
            ops
        };
        self.name.is_some()
            && self.name == other.name
            && self.key_id == other.key_id
            && self.grantee == other.grantee
            && self.retiring == other.retiring
            && sorted(&self.operations) == sorted(&other.operations)
            && self.constraints == other.constraints
    }
}

const TOKEN_PREFIX: &[u8; 5] = b"kwgt1";
const TOKEN_LEN: usize = TOKEN_PREFIX.len() + 32 + 16 + 16;

/// A grant token: not secret (AWS: "not a secret"), it names the grant and
/// its key; a fresh nonce makes each CreateGrant's token different, as AWS's.
pub(crate) fn grant_token(
    grant_id_bytes: &[u8; 32],
    key_id: &[u8; 16],
    nonce: &[u8; 16],
) -> String {
    let mut bytes = Vec::with_capacity(TOKEN_LEN);
    bytes.extend_from_slice(TOKEN_PREFIX);
    bytes.extend_from_slice(grant_id_bytes);
    bytes.extend_from_slice(key_id);
    bytes.extend_from_slice(nonce);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What a grant token names: (grant id, key id), or `None` if it is not one
/// of ours.
pub(crate) fn parse_grant_token(token: &str) -> Option<(String, String)> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    if bytes.len() != TOKEN_LEN || !bytes.starts_with(TOKEN_PREFIX) {
        return None;
    }
    let rest = &bytes[TOKEN_PREFIX.len()..];
    let grant_id = hex::encode(&rest[..32]);
    let key_id = uuid::Uuid::from_slice(&rest[32..48]).ok()?.to_string();
    Some((grant_id, key_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> Context {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn subset_and_equals_constraints() {
        let subset = GrantConstraints {
            encryption_context_subset: Some(ctx(&[("app", "a")])),
            encryption_context_equals: None,
        };
        assert!(subset.hold(Some(&ctx(&[("app", "a")]))));
        assert!(subset.hold(Some(&ctx(&[("app", "a"), ("extra", "x")]))));
        assert!(!subset.hold(Some(&ctx(&[("app", "b")]))));
        assert!(!subset.hold(Some(&ctx(&[("APP", "a")]))));
        assert!(!subset.hold(None));
        let equals = GrantConstraints {
            encryption_context_subset: None,
            encryption_context_equals: Some(ctx(&[("app", "a")])),
        };
        assert!(equals.hold(Some(&ctx(&[("app", "a")]))));
        assert!(!equals.hold(Some(&ctx(&[("app", "a"), ("extra", "x")]))));
        assert!(!equals.hold(Some(&ctx(&[("app", "A")]))));
        assert!(GrantConstraints::default().hold(None));
    }

    #[test]
    fn child_constraints_may_only_narrow() {
        let parent = GrantConstraints {
            encryption_context_subset: Some(ctx(&[("app", "a")])),
            encryption_context_equals: None,
        };
        let more_pairs = GrantConstraints {
            encryption_context_subset: Some(ctx(&[("app", "a"), ("env", "prod")])),
            encryption_context_equals: None,
        };
        let equals = GrantConstraints {
            encryption_context_subset: None,
            encryption_context_equals: Some(ctx(&[("app", "a")])),
        };
        let other = GrantConstraints {
            encryption_context_subset: Some(ctx(&[("app", "b")])),
            encryption_context_equals: None,
        };
        assert!(more_pairs.at_least_as_strict_as(&parent));
        assert!(equals.at_least_as_strict_as(&parent));
        assert!(!other.at_least_as_strict_as(&parent));
        assert!(!GrantConstraints::default().at_least_as_strict_as(&parent));
        // Equals can never become Subset.
        assert!(!parent.at_least_as_strict_as(&equals));
        assert!(equals.at_least_as_strict_as(&equals));
        // No parent constraint: anything goes.
        assert!(GrantConstraints::default().at_least_as_strict_as(&GrantConstraints::default()));
    }

    #[test]
    fn tokens_round_trip_and_reject_anything_else() {
        let key = uuid::Uuid::new_v4();
        let token = grant_token(&[7; 32], key.as_bytes(), &[1; 16]);
        assert_eq!(
            parse_grant_token(&token),
            Some((hex::encode([7u8; 32]), key.to_string()))
        );
        assert_ne!(token, grant_token(&[7; 32], key.as_bytes(), &[2; 16]));
        assert_eq!(parse_grant_token("not-a-token"), None);
        assert_eq!(parse_grant_token(""), None);
        assert_eq!(parse_grant_token(&token[..token.len() - 2]), None);
    }
}
