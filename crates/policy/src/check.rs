//! The one helper every evaluation table goes through, and the request builders
//! the tables share.
//!
//! `check(policy_json, request, expected)` parses the policy (as a resource
//! policy if it has a `"Principal"` or `"NotPrincipal"` element, as an identity
//! policy otherwise), evaluates `request`, and compares the decision written as
//! `"allow N"`, `"deny N"` (N = index of the deciding statement) or `"none"`.

use crate::{Decision, Policy, PolicyKind, RequestContext, RequestPrincipal};

pub(crate) const ACCOUNT: &str = "111122223333";
pub(crate) const OTHER_ACCOUNT: &str = "444455556666";
pub(crate) const KEY_ARN: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// The size limit of AWS key policies.
pub(crate) const KEY_POLICY_LIMIT: usize = 32_768;

#[track_caller]
pub(crate) fn check(policy_json: &str, request: RequestContext, expected: &str) {
    let policy = parse(policy_json)
        .unwrap_or_else(|error| panic!("the policy does not parse: {error}\n{policy_json}"));
    let actual = describe(&policy.evaluate(&request));
    assert_eq!(
        actual, expected,
        "\npolicy: {policy_json}\nrequest: {request:#?}"
    );
}

pub(crate) fn parse(policy_json: &str) -> Result<Policy, crate::PolicyError> {
    Policy::parse(policy_json, kind_of(policy_json), KEY_POLICY_LIMIT)
}

pub(crate) fn kind_of(policy_json: &str) -> PolicyKind {
    if policy_json.contains("\"Principal\"") || policy_json.contains("\"NotPrincipal\"") {
        PolicyKind::Resource
    } else {
        PolicyKind::Identity
    }
}

pub(crate) fn describe(decision: &Decision) -> String {
    match decision {
        Decision::ExplicitDeny(statement) => format!("deny {}", statement.index),
        Decision::Allow(statement) => format!("allow {}", statement.index),
        Decision::NotApplicable => "none".to_owned(),
    }
}

/// `alice` in the key's account calls `action` on the test key.
pub(crate) fn alice(action: &str) -> RequestContext {
    RequestContext::new(user(ACCOUNT, "alice"), action, KEY_ARN)
}

/// `principal` calls `kms:Decrypt` on the test key.
pub(crate) fn decrypt_by(principal: RequestPrincipal) -> RequestContext {
    RequestContext::new(principal, "kms:Decrypt", KEY_ARN)
}

pub(crate) fn user(account_id: &str, name: &str) -> RequestPrincipal {
    RequestPrincipal::User {
        account_id: account_id.to_owned(),
        arn: format!("arn:aws:iam::{account_id}:user/{name}"),
    }
}

pub(crate) fn root(account_id: &str) -> RequestPrincipal {
    RequestPrincipal::Account {
        account_id: account_id.to_owned(),
    }
}

/// A session of role `role` (path `/`), named `session`.
pub(crate) fn session(account_id: &str, role: &str, session: &str) -> RequestPrincipal {
    RequestPrincipal::AssumedRole {
        account_id: account_id.to_owned(),
        role_arn: format!("arn:aws:iam::{account_id}:role/{role}"),
        session_arn: format!("arn:aws:sts::{account_id}:assumed-role/{role}/{session}"),
    }
}

pub(crate) fn service(name: &str) -> RequestPrincipal {
    RequestPrincipal::Service {
        name: name.to_owned(),
    }
}
