//! Which principals exist, for key policies, grants and trust policies.
//!
//! AWS refuses a resource policy that names a user or role that does not
//! exist ("Invalid principal in policy"), so the KMS domain asks through
//! [`keyward_principal::PrincipalDirectory`], implemented here over the identity
//! state. The rules:
//! - any 12-digit account id exists (as in AWS, where an account principal
//!   is accepted without proof that the account is in use);
//! - a user or role ARN exists when that user or role exists with exactly
//!   that ARN, path included (names are looked up case-insensitively, as IAM
//!   does, but the ARN must then be spelled as the entity's own);
//! - an assumed-role session ARN exists when its role exists (the session
//!   ARN carries the role's name without its path);
//! - service principals and federated identity providers are accepted;
//! - anything else (federated users, malformed ARNs) does not exist.

use keyward_policy::PrincipalName;
use keyward_principal::PrincipalDirectory;

use crate::names::is_account_id;
use crate::service::{Identities, State};

impl PrincipalDirectory for Identities {
    fn exists(&self, name: &PrincipalName) -> bool {
        principal_exists(&self.read(), name)
    }
}

pub(crate) fn principal_exists(state: &State, name: &PrincipalName) -> bool {
    match name {
        PrincipalName::Everyone | PrincipalName::Service(_) | PrincipalName::Federated(_) => true,
        PrincipalName::Account(account_id) => is_account_id(account_id),
        PrincipalName::Arn(arn) => arn_exists(state, arn),
    }
}

fn arn_exists(state: &State, arn: &str) -> bool {
    let Some(rest) = arn
        .strip_prefix("arn:aws:iam::")
        .or_else(|| arn.strip_prefix("arn:aws:sts::"))
    else {
        return false;
    };
    let Some((account_id, resource)) = rest.split_once(':') else {
        return false;
    };
    if !is_account_id(account_id) {
        return false;
    }
    let is_iam = arn.starts_with("arn:aws:iam::");
    if is_iam && resource == "root" {
        return true;
    }
    let last_segment = |r: &str| r.rsplit('/').next().unwrap_or_default().to_lowercase();
    if is_iam && resource.starts_with("user/") {
        return state
            .users
            .get(&(account_id.to_string(), last_segment(resource)))
            .is_some_and(|user| user.arn == arn);
    }
    if is_iam && resource.starts_with("role/") {
        return state
            .roles
            .get(&(account_id.to_string(), last_segment(resource)))
            .is_some_and(|role| role.arn == arn);
    }
    if !is_iam {
        if let Some(session) = resource.strip_prefix("assumed-role/") {
            let mut parts = session.split('/');
            let (Some(role), Some(session_name), None) = (parts.next(), parts.next(), parts.next())
            else {
                return false;
            };
            return !session_name.is_empty()
                && state
                    .roles
                    .get(&(account_id.to_string(), role.to_lowercase()))
                    .is_some_and(|r| r.name == role);
        }
    }
    false
}
