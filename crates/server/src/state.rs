//! What the server serves with: the domains, the authenticator, the trail,
//! the metrics, and the services registered at the endpoint.

use std::sync::Arc;

use keyward_kms::Kms;

use crate::cloudtrail_api::CloudTrailService;
use crate::identity_api::IdentityService;
use crate::kms_api::KmsService;
use crate::metrics::Metrics;
use crate::service::Registry;
use crate::Authenticator;

/// Largest request body accepted. The biggest KMS request is a 131,072-character
/// policy, JSON-escaped; 1 MiB leaves room without letting a client pin memory.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default time a client has to send a request's headers (also the idle time
/// of a keep-alive connection) and, separately, its body: a slow or stalled
/// client must not hold a connection and a task forever.
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What the server serves with.
pub struct AppState {
    pub kms: Arc<Kms>,
    /// Authentication over the identity domain (`auth.identities()`).
    pub auth: Arc<Authenticator>,
    /// Whether requests arrive over TLS (`aws:SecureTransport`).
    pub tls: bool,
    /// How long a client may take to send a request body once its headers arrived.
    pub body_read_timeout: std::time::Duration,
    /// The audit trail every call is recorded in before it is answered.
    /// `None` only under `keyward serve --benchmark-only-disable-trail`.
    pub trail: Option<Arc<keyward_trail::Trail>>,
    /// Request counters for `GET /metrics`.
    pub metrics: Arc<Metrics>,
    pub(crate) services: Registry,
}

impl AppState {
    /// The state of a server over these domains, with every service
    /// registered.
    pub fn new(
        kms: Arc<Kms>,
        auth: Arc<Authenticator>,
        tls: bool,
        body_read_timeout: std::time::Duration,
        trail: Option<Arc<keyward_trail::Trail>>,
        metrics: Arc<Metrics>,
    ) -> AppState {
        let services = Registry::new(
            Arc::new(KmsService::new(Arc::clone(&kms), Arc::clone(&metrics))),
            vec![
                Arc::new(CloudTrailService::new(trail.clone(), Arc::clone(&kms))),
                // STS before IAM: of the two Query services, an unsigned
                // request names STS only by its actions.
                Arc::new(IdentityService::sts(Arc::clone(&auth))),
                Arc::new(IdentityService::iam(Arc::clone(&auth))),
            ],
        );
        AppState {
            kms,
            auth,
            tls,
            body_read_timeout,
            trail,
            metrics,
            services,
        }
    }
}
