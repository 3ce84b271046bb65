//! The request context every policy evaluation starts from: principal,
//! action, resource and the global condition keys
//! (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>),
//! the same for KMS, IAM/STS, CloudTrail and the compute services. Each
//! domain adds its own service keys (`kms:*`) with [`RequestContextBuilder::set`].
//!
//! Only the keys one of the policies in play reads are filled in: evaluation
//! never looks at the others, and most policies read none, so a hot path
//! does not build twenty values to use none of them.

use keyward_policy::{ContextValue, Policy, RequestContext, RequestPrincipal};
use time::OffsetDateTime;

use crate::{Caller, ServiceMode};

/// A request context under construction; see the module comment.
pub struct RequestContextBuilder<'p> {
    request: RequestContext,
    policies: Vec<&'p Policy>,
}

impl<'p> RequestContextBuilder<'p> {
    /// The context of `action` (`kms:Decrypt`) on `resource` (an ARN, or `*`)
    /// by `caller` at `now_ms`, for evaluating `policies`, with the global
    /// condition keys they read.
    pub fn new(
        caller: &Caller,
        action: impl Into<String>,
        resource: impl Into<String>,
        policies: impl IntoIterator<Item = &'p Policy>,
        now_ms: i64,
    ) -> RequestContextBuilder<'p> {
        let mut builder = RequestContextBuilder {
            request: RequestContext::new(caller.principal().clone(), action, resource),
            policies: policies.into_iter().collect(),
        };
        if builder
            .policies
            .iter()
            .all(|policy| policy.condition_keys().is_empty())
        {
            return builder;
        }
        builder.set_global_keys(caller, now_ms);
        builder
    }

    fn set_global_keys(&mut self, caller: &Caller, now_ms: i64) {
        // aws:PrincipalArn of a role session is its role's ARN, not the session's.
        let principal_arn = match caller.principal() {
            RequestPrincipal::AssumedRole { role_arn, .. } => Some(role_arn.as_str()),
            RequestPrincipal::Service { .. } => None,
            _ => Some(caller.principal_arn()),
        };
        if let Some(arn) = principal_arn {
            self.set("aws:PrincipalArn", || arn.to_string());
            self.set("aws:PrincipalAccount", || caller.account_id().to_string());
        }
        if let Some(kind) = principal_type(caller.principal()) {
            self.set("aws:PrincipalType", || kind);
        }
        let is_service = matches!(caller.principal(), RequestPrincipal::Service { .. });
        self.set("aws:PrincipalIsAWSService", || is_service);
        if let RequestPrincipal::Service { name } = caller.principal() {
            self.set("aws:PrincipalServiceName", || name.clone());
        }
        self.set("aws:userid", || caller.user_id().to_string());
        if let Some(username) = caller.username() {
            self.set("aws:username", || username.to_string());
        }
        // AWS leaves aws:SourceIp out of calls a service makes from its own network.
        if let (Some(ip), None) = (caller.source_ip(), caller.service_call()) {
            self.set("aws:SourceIp", || ip);
        }
        self.set("aws:SecureTransport", || caller.secure_transport());
        let now_s = now_ms.div_euclid(1000);
        if let Ok(now) = OffsetDateTime::from_unix_timestamp(now_s) {
            self.set("aws:CurrentTime", || now);
        }
        self.set("aws:EpochTime", || now_s);
        self.set("aws:ViaAWSService", || caller.service_call().is_some());
        if let Some(call) = caller.service_call() {
            if let Some(arn) = call.source_arn() {
                self.set("aws:SourceArn", || arn.to_string());
            }
            if let Some(account) = call.source_account() {
                self.set("aws:SourceAccount", || account.to_string());
            }
            if call.mode() == ServiceMode::ForCaller {
                self.set("aws:CalledVia", || call.service());
            }
        }
    }

    /// Whether a policy in play reads `key`.
    pub fn reads(&self, key: &str) -> bool {
        self.policies.iter().any(|policy| policy.reads_key(key))
    }

    /// Whether a policy in play reads a key starting with `prefix`
    /// (`aws:ResourceTag/`).
    pub fn reads_prefix(&self, prefix: &str) -> bool {
        self.policies
            .iter()
            .any(|policy| policy.reads_key_prefix(prefix))
    }

    /// Sets single-valued `key`, computing the value only if it is read.
    pub fn set<V: Into<ContextValue>>(&mut self, key: &str, value: impl FnOnce() -> V) {
        if self.reads(key) {
            self.request.set_values(key, [value()]);
        }
    }

    /// Sets multivalued `key` if it is read.
    pub fn set_values<V: Into<ContextValue>>(
        &mut self,
        key: &str,
        values: impl IntoIterator<Item = V>,
    ) {
        if self.reads(key) {
            self.request.set_values(key, values);
        }
    }

    pub fn build(self) -> RequestContext {
        self.request
    }
}

/// The `aws:PrincipalType` value of a principal.
fn principal_type(principal: &RequestPrincipal) -> Option<&'static str> {
    match principal {
        RequestPrincipal::Account { .. } => Some("Account"),
        RequestPrincipal::User { .. } => Some("User"),
        RequestPrincipal::Role { .. } | RequestPrincipal::AssumedRole { .. } => Some("AssumedRole"),
        RequestPrincipal::FederatedUser { .. } => Some("FederatedUser"),
        RequestPrincipal::Anonymous => Some("Anonymous"),
        RequestPrincipal::Service { .. } | RequestPrincipal::Federated { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use keyward_policy::{Decision, PolicyKind};

    use super::*;
    use crate::ServicePrincipal;

    const NOW_MS: i64 = 1_790_000_000_000;

    fn policy(condition: &str) -> Policy {
        let text = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"*","Resource":"*","Condition":{condition}}}]}}"#
        );
        Policy::parse(&text, PolicyKind::Identity, 10_000).unwrap()
    }

    /// Whether `policy` allows the context built for `caller`.
    fn check(caller: &Caller, condition: &str, allowed: bool) {
        let policy = policy(condition);
        let context =
            RequestContextBuilder::new(caller, "kms:Decrypt", "*", [&policy], NOW_MS).build();
        assert_eq!(
            matches!(policy.evaluate(&context), Decision::Allow(_)),
            allowed,
            "{condition} for {caller:?}"
        );
    }

    #[test]
    fn global_condition_keys() {
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7));
        let root = Caller::root("111122223333").with_transport(Some(ip), true);
        let user = Caller::user(
            "111122223333",
            "arn:aws:iam::111122223333:user/alice",
            "AIDAEXAMPLE",
            "alice",
            Vec::new(),
        );
        let session = Caller::role_session(
            "111122223333",
            "arn:aws:iam::111122223333:role/Operator",
            "arn:aws:sts::111122223333:assumed-role/Operator/s1",
            "AROAEXAMPLE:s1",
            Vec::new(),
            NOW_MS,
        );
        let streaming = ServicePrincipal::new("kinesisanalytics.amazonaws.com");
        let service = Caller::service(streaming, "111122223333", Some("arn:app"));
        let forwarded = session.clone().via_service(streaming, Some("arn:app"));
        let cases: &[(&Caller, &str, bool)] = &[
            (
                &root,
                r#"{"IpAddress":{"aws:SourceIp":"192.0.2.0/24"}}"#,
                true,
            ),
            (
                &root,
                r#"{"IpAddress":{"aws:SourceIp":"198.51.100.0/24"}}"#,
                false,
            ),
            (&root, r#"{"Bool":{"aws:SecureTransport":"true"}}"#, true),
            (&user, r#"{"Bool":{"aws:SecureTransport":"true"}}"#, false),
            (
                &root,
                r#"{"StringEquals":{"aws:PrincipalType":"Account"}}"#,
                true,
            ),
            (&user, r#"{"StringEquals":{"aws:username":"alice"}}"#, true),
            (
                &user,
                r#"{"StringEquals":{"aws:userid":"AIDAEXAMPLE"}}"#,
                true,
            ),
            // A session's aws:PrincipalArn is its role's ARN.
            (
                &session,
                r#"{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::111122223333:role/Operator"}}"#,
                true,
            ),
            (
                &session,
                r#"{"StringEquals":{"aws:PrincipalType":"AssumedRole"}}"#,
                true,
            ),
            (&session, r#"{"Bool":{"aws:ViaAWSService":"true"}}"#, false),
            (&forwarded, r#"{"Bool":{"aws:ViaAWSService":"true"}}"#, true),
            (
                &forwarded,
                r#"{"StringEquals":{"aws:CalledVia":"kinesisanalytics.amazonaws.com"}}"#,
                true,
            ),
            (
                &service,
                r#"{"StringEquals":{"aws:SourceArn":"arn:app"}}"#,
                true,
            ),
            (
                &service,
                r#"{"StringEquals":{"aws:SourceAccount":"111122223333"}}"#,
                true,
            ),
            (
                &service,
                r#"{"Bool":{"aws:PrincipalIsAWSService":"true"}}"#,
                true,
            ),
            // A service's own calls carry no aws:SourceIp.
            (&service, r#"{"Null":{"aws:SourceIp":"true"}}"#, true),
            (
                &root,
                r#"{"NumericGreaterThan":{"aws:EpochTime":"1789999999"}}"#,
                true,
            ),
            (
                &root,
                r#"{"DateLessThan":{"aws:CurrentTime":"2026-09-22T00:00:00Z"}}"#,
                true,
            ),
        ];
        for (caller, condition, allowed) in cases {
            check(caller, condition, *allowed);
        }
    }
}
