//! Who makes a request, and what its transport says about it.
//!
//! The identity domain builds a [`Caller`] from verified credentials
//! ([`Caller::root`], [`Caller::user`], [`Caller::role_session`]); the server
//! adds the transport facts ([`Caller::with_transport`]). Services inside
//! keyward build theirs with [`Caller::service`] (the service acts as itself,
//! matched by `"Principal": {"Service": ...}`) or [`Caller::via_service`] (the
//! service forwards an operator's request, with the operator's permissions
//! and `kms:ViaService` set). Both need a [`ServicePrincipal`], which is made
//! only from a `&'static str`, so nothing read from a request can make a
//! caller pose as a service; the fields are private for the same reason.

use std::net::IpAddr;
use std::sync::Arc;

use keyward_policy::{Policy, RequestPrincipal};

/// Who makes a request; see the module comment.
#[derive(Debug, Clone)]
pub struct Caller {
    account_id: String,
    principal_arn: String,
    principal: RequestPrincipal,
    user_id: String,
    username: Option<String>,
    identity_policies: Vec<Arc<Policy>>,
    source_ip: Option<IpAddr>,
    secure_transport: bool,
    service_call: Option<ServiceCall>,
    session_issued_ms: Option<i64>,
}

/// A service principal inside keyward (`kinesisanalytics.amazonaws.com`): the
/// capability to act as that service, or to forward a caller's request
/// through it.
///
/// Made only from a `&'static str`, i.e. a name written in keyward's code:
/// no value read from a request can become one. The HTTP edge
/// (`keyward-server`) never makes one; only the services' own crates do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServicePrincipal {
    name: &'static str,
}

impl ServicePrincipal {
    /// The service principal `name`, e.g. `emr-serverless.amazonaws.com`.
    pub const fn new(name: &'static str) -> ServicePrincipal {
        ServicePrincipal { name }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// A service inside keyward calling another service (KMS) for a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCall {
    service: &'static str,
    mode: ServiceMode,
    source_arn: Option<String>,
    source_account: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceMode {
    /// The service is the principal (`userIdentity.type` `AWSService`).
    AsItself,
    /// The service forwards an operator's request; the operator is the
    /// principal, `kms:ViaService` names the service, and the audit record
    /// names it in `invokedBy`.
    ForCaller,
}

impl Caller {
    fn new(
        account_id: &str,
        principal_arn: String,
        principal: RequestPrincipal,
        user_id: String,
    ) -> Caller {
        Caller {
            account_id: account_id.to_string(),
            principal_arn,
            principal,
            user_id,
            username: None,
            identity_policies: Vec::new(),
            source_ip: None,
            secure_transport: false,
            service_call: None,
            session_issued_ms: None,
        }
    }

    /// The root user of `account_id`.
    pub fn root(account_id: &str) -> Caller {
        Caller::new(
            account_id,
            format!("arn:aws:iam::{account_id}:root"),
            RequestPrincipal::Account {
                account_id: account_id.to_string(),
            },
            account_id.to_string(),
        )
    }

    /// The IAM user `username` (`user_arn`, unique id `user_id`: `AIDA…`)
    /// with its identity policies.
    pub fn user(
        account_id: &str,
        user_arn: &str,
        user_id: &str,
        username: &str,
        identity_policies: Vec<Arc<Policy>>,
    ) -> Caller {
        let mut caller = Caller::new(
            account_id,
            user_arn.to_string(),
            RequestPrincipal::User {
                account_id: account_id.to_string(),
                arn: user_arn.to_string(),
            },
            user_id.to_string(),
        );
        caller.username = Some(username.to_string());
        caller.identity_policies = identity_policies;
        caller
    }

    /// A session of the role `role_arn` (`session_arn` is its
    /// `assumed-role/…` ARN, `user_id` is `AROA…:session`), issued at
    /// `issued_ms`, with the role's identity policies.
    pub fn role_session(
        account_id: &str,
        role_arn: &str,
        session_arn: &str,
        user_id: &str,
        identity_policies: Vec<Arc<Policy>>,
        issued_ms: i64,
    ) -> Caller {
        let mut caller = Caller::new(
            account_id,
            session_arn.to_string(),
            RequestPrincipal::AssumedRole {
                account_id: account_id.to_string(),
                role_arn: role_arn.to_string(),
                session_arn: session_arn.to_string(),
            },
            user_id.to_string(),
        );
        caller.identity_policies = identity_policies;
        caller.session_issued_ms = Some(issued_ms);
        caller
    }

    /// `service` acting as itself in `source_account`, for `source_arn`
    /// (`aws:SourceAccount`, `aws:SourceArn`).
    pub fn service(
        service: ServicePrincipal,
        source_account: &str,
        source_arn: Option<&str>,
    ) -> Caller {
        let mut caller = Caller::new(
            source_account,
            service.name.to_string(),
            RequestPrincipal::Service {
                name: service.name.to_string(),
            },
            service.name.to_string(),
        );
        caller.secure_transport = true;
        caller.service_call = Some(ServiceCall {
            service: service.name,
            mode: ServiceMode::AsItself,
            source_arn: source_arn.map(str::to_string),
            source_account: Some(source_account.to_string()),
        });
        caller
    }

    /// This caller's request, forwarded by `service` for `source_arn`.
    #[must_use]
    pub fn via_service(mut self, service: ServicePrincipal, source_arn: Option<&str>) -> Caller {
        self.service_call = Some(ServiceCall {
            service: service.name,
            mode: ServiceMode::ForCaller,
            source_arn: source_arn.map(str::to_string),
            source_account: Some(self.account_id.clone()),
        });
        self
    }

    /// Completes the caller with what the transport says: `aws:SourceIp`
    /// (the peer address, when known) and `aws:SecureTransport`.
    #[must_use]
    pub fn with_transport(mut self, source_ip: Option<IpAddr>, secure_transport: bool) -> Caller {
        self.source_ip = source_ip;
        self.secure_transport = secure_transport;
        self
    }

    /// The account the caller belongs to (for a service principal, the
    /// account it acts in: its `aws:SourceAccount`). A bare key ID or alias
    /// name is looked up in this account.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    /// The ARN AccessDenied messages and audit records name: the root ARN, a
    /// user ARN, or an `assumed-role` session ARN; a service's name.
    pub fn principal_arn(&self) -> &str {
        &self.principal_arn
    }

    /// The principal policies match.
    pub fn principal(&self) -> &RequestPrincipal {
        &self.principal
    }

    /// `aws:userid`: the account ID for root, `AIDA…` for users,
    /// `AROA…:session` for role sessions.
    pub fn user_id(&self) -> &str {
        &self.user_id
    }

    /// `aws:username`, for IAM users only.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// The identity-based policies of the principal (a user's inline
    /// policies, or the assumed role's). Not consulted for the root user,
    /// whom IAM allows everything in its own account.
    pub fn identity_policies(&self) -> &[Arc<Policy>] {
        &self.identity_policies
    }

    /// `aws:SourceIp`, when the request came over the network.
    pub fn source_ip(&self) -> Option<IpAddr> {
        self.source_ip
    }

    /// `aws:SecureTransport`: whether the request came over TLS.
    pub fn secure_transport(&self) -> bool {
        self.secure_transport
    }

    /// The service inside keyward that makes or forwards this call.
    pub fn service_call(&self) -> Option<&ServiceCall> {
        self.service_call.as_ref()
    }

    /// When a role session's credentials were issued (epoch ms): CloudTrail's
    /// `sessionContext.attributes.creationDate`. `None` for long-term keys.
    pub fn session_issued_ms(&self) -> Option<i64> {
        self.session_issued_ms
    }

    /// Whether a service inside keyward forwards this caller's request
    /// (`kms:GrantIsForAWSResource`, `invokedBy`).
    pub fn is_acting_through_a_service(&self) -> bool {
        self.service_call
            .as_ref()
            .is_some_and(|call| call.mode == ServiceMode::ForCaller)
    }

    /// Whether the caller is the root user of its account.
    pub fn is_root(&self) -> bool {
        matches!(self.principal, RequestPrincipal::Account { .. })
    }
}

impl ServiceCall {
    /// The service principal, e.g. `emr-serverless.amazonaws.com`.
    pub fn service(&self) -> &'static str {
        self.service
    }

    pub fn mode(&self) -> ServiceMode {
        self.mode
    }

    /// `aws:SourceArn`: the resource the call is made for.
    pub fn source_arn(&self) -> Option<&str> {
        self.source_arn.as_deref()
    }

    /// `aws:SourceAccount`: the account owning that resource.
    pub fn source_account(&self) -> Option<&str> {
        self.source_account.as_deref()
    }

    /// The `kms:ViaService` value: `<service>.<region>.amazonaws.com`.
    pub fn via_service_value(&self, region: &str) -> String {
        let name = self
            .service
            .strip_suffix(".amazonaws.com")
            .unwrap_or(self.service);
        format!("{name}.{region}.amazonaws.com")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAMING: ServicePrincipal = ServicePrincipal::new("kinesisanalytics.amazonaws.com");

    #[test]
    fn a_forwarded_call_keeps_the_operator_as_principal() {
        let operator = Caller::root("111122223333").via_service(STREAMING, Some("arn:app"));
        assert!(operator.is_root());
        assert!(operator.is_acting_through_a_service());
        let call = operator.service_call().unwrap();
        assert_eq!(call.source_account(), Some("111122223333"));
        assert_eq!(
            call.via_service_value("eu-west-1"),
            "kinesisanalytics.eu-west-1.amazonaws.com"
        );
    }

    #[test]
    fn a_service_acting_as_itself_is_its_own_principal() {
        let service = Caller::service(STREAMING, "111122223333", Some("arn:app"));
        assert_eq!(service.principal_arn(), "kinesisanalytics.amazonaws.com");
        assert!(!service.is_acting_through_a_service());
        assert!(matches!(
            service.principal(),
            RequestPrincipal::Service { name } if name == "kinesisanalytics.amazonaws.com"
        ));
        assert_eq!(
            service.service_call().unwrap().mode(),
            ServiceMode::AsItself
        );
    }
}
