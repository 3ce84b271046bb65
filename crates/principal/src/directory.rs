//! The directory a domain asks whether a principal named in a policy exists.

use keyward_policy::PrincipalName;

/// Answers whether a principal named in a key policy or a grant exists.
///
/// AWS refuses a key policy naming a user or role that does not exist
/// ("Policy contains a statement with one or more invalid principals.").
/// The identity records live in the identity domain, so other domains ask.
pub trait PrincipalDirectory: Send + Sync {
    fn exists(&self, name: &PrincipalName) -> bool;
}

/// The directory of a domain that knows no identities: every name exists.
/// Used by tests and by embeddings without IAM.
pub struct AnyPrincipal;

impl PrincipalDirectory for AnyPrincipal {
    fn exists(&self, _name: &PrincipalName) -> bool {
        true
    }
}
