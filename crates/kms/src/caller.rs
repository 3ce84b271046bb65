//! Who is calling, as authentication established it, and the directory the
//! domain asks whether a named principal exists.
//!
//! The server builds a [`Caller`] from a verified SigV4 request and the
//! identity records (user, role session, root). Services running inside
//! keyward build one with [`Caller::service`] (the service acts as itself,
//! matched by `"Principal": {"Service": ...}`) or [`Caller::via_service`]
//! (the service acts for an operator, with the operator's permissions and
//! `kms:ViaService` set). Neither can be produced from anything in an HTTP
//! request: the server has no code path that sets [`Caller::service_call`],
//! so an outside client cannot claim to be a service.

use std::net::IpAddr;
use std::sync::Arc;

use keyward_policy::{Policy, PrincipalName, RequestPrincipal};

/// Who makes a request, and what the request's transport says about it.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account the caller belongs to (for a service principal, the
    /// account it acts in: its `aws:SourceAccount`). A bare key ID or alias
    /// name is looked up in this account.
    pub account_id: String,
    /// The ARN AccessDenied messages and audit records name: the root ARN,
    /// a user ARN, or an `assumed-role` session ARN; a service's name.
    pub principal_arn: String,
    /// The identity policies are evaluated against.
    pub principal: RequestPrincipal,
    /// `aws:userid`: the account ID for root, `AIDA…` for users,
    /// `AROA…:session` for role sessions.
    pub user_id: String,
    /// `aws:username`, for IAM users only.
    pub username: Option<String>,
    /// The identity-based policies of the principal (a user's inline policies,
    /// or the assumed role's). Not consulted for the root user, whom IAM
    /// allows everything in its own account.
    pub identity_policies: Vec<Arc<Policy>>,
    /// `aws:SourceIp`, when the request came over the network.
    pub source_ip: Option<IpAddr>,
    /// `aws:SecureTransport`: whether the request came over TLS.
    pub secure_transport: bool,
    /// Set only by services inside keyward; see the module comment.
    pub service_call: Option<ServiceCall>,
    /// When a role session's credentials were issued (epoch ms): CloudTrail's
    /// `sessionContext.attributes.creationDate`. `None` for long-term keys.
    pub session_issued_ms: Option<i64>,
}

/// A service inside keyward calling KMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCall {
    /// The service principal, e.g. `emr-serverless.amazonaws.com`.
    pub service: String,
    pub mode: ServiceMode,
    /// `aws:SourceArn`: the resource the call is made for.
    pub source_arn: Option<String>,
    /// `aws:SourceAccount`: the account owning that resource.
    pub source_account: Option<String>,
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
    /// The root user of `account_id`.
    pub fn root(account_id: &str) -> Caller {
        Caller {
            account_id: account_id.to_string(),
            principal_arn: format!("arn:aws:iam::{account_id}:root"),
            principal: RequestPrincipal::Account {
                account_id: account_id.to_string(),
            },
            user_id: account_id.to_string(),
            username: None,
            identity_policies: Vec::new(),
            source_ip: None,
            secure_transport: false,
            service_call: None,
            session_issued_ms: None,
        }
    }

    /// A service principal acting as itself in `source_account`, for `source_arn`.
    pub fn service(service: &str, source_account: &str, source_arn: Option<&str>) -> Caller {
        Caller {
            account_id: source_account.to_string(),
            principal_arn: service.to_string(),
            principal: RequestPrincipal::Service {
                name: service.to_string(),
            },
            user_id: service.to_string(),
            username: None,
            identity_policies: Vec::new(),
            source_ip: None,
            secure_transport: true,
            service_call: Some(ServiceCall {
                service: service.to_string(),
                mode: ServiceMode::AsItself,
                source_arn: source_arn.map(str::to_string),
                source_account: Some(source_account.to_string()),
            }),
            session_issued_ms: None,
        }
    }

    /// This caller's request, forwarded by `service` (a service principal
    /// such as `emr-serverless.amazonaws.com`) for `source_arn`.
    #[must_use]
    pub fn via_service(mut self, service: &str, source_arn: Option<&str>) -> Caller {
        self.service_call = Some(ServiceCall {
            service: service.to_string(),
            mode: ServiceMode::ForCaller,
            source_arn: source_arn.map(str::to_string),
            source_account: Some(self.account_id.clone()),
        });
        self
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
    /// The `kms:ViaService` value: `<service>.<region>.amazonaws.com`.
    pub fn via_service_value(&self, region: &str) -> String {
        let name = self
            .service
            .strip_suffix(".amazonaws.com")
            .unwrap_or(&self.service);
        format!("{name}.{region}.amazonaws.com")
    }
}

/// Answers whether a principal named in a key policy or a grant exists.
///
/// AWS refuses a key policy naming a user or role that does not exist
/// ("Policy contains a statement with one or more invalid principals.").
/// The identity records live outside this crate, so the domain asks.
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
