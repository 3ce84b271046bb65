//! HTTP for keyward: the AWS wire protocols, authentication, error mapping.
//!
//! Thin by design: decode, authenticate, call the domain, encode. It is the
//! only crate that knows HTTP and the AWS JSON shapes.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod audit_event;
pub mod auth;
pub mod cloudtrail_api;
pub mod error;
pub mod iam_api;
pub mod kms_api;
pub mod metrics;
pub mod query;
pub mod sts_api;

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use keyward_kms::Kms;
use keyward_sigv4::RequestParts;

pub use auth::Authenticator;
use error::ApiError;

/// Largest request body accepted. The biggest KMS request is a 131,072-character
/// policy, JSON-escaped; 1 MiB leaves room without letting a client pin memory.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
const KMS_TARGET_PREFIX: &str = "TrentService.";
/// Default time a client has to send a request's headers (also the idle time
/// of a keep-alive connection) and, separately, its body: a slow or stalled
/// client must not hold a connection and a task forever.
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub struct AppState {
    pub kms: Arc<Kms>,
    /// Authentication over the identity domain (`auth.identities()`).
    pub auth: Authenticator,
    /// Whether requests arrive over TLS (`aws:SecureTransport`).
    pub tls: bool,
    /// How long a client may take to send a request body once its headers arrived.
    pub body_read_timeout: std::time::Duration,
    /// The audit trail every call is recorded in before it is answered.
    /// `None` only under `keyward serve --benchmark-only-disable-trail`.
    pub trail: Option<Arc<keyward_trail::Trail>>,
    /// Request counters for `GET /metrics`.
    pub metrics: Arc<metrics::Metrics>,
}

/// The router: `/health`, the dev-only clock, and every other request as an
/// AWS API call (AWS routes on headers, not paths).
pub fn app(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_text));
    if state.auth.dev() {
        router = router.route("/keyward/dev/advance-clock", post(advance_clock));
    }
    router.fallback(aws_request).with_state(state)
}

async fn health() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        "{\"status\":\"ok\"}",
    )
}

/// `GET /metrics` (see `metrics.rs`).
async fn metrics_text(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AdvanceClock {
    seconds: i64,
}

/// `--dev` only: moves the service clock forward and runs what fell due
/// (deletions, rotations) before answering, so tests need no sleeps.
async fn advance_clock(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<AdvanceClock>(&body) else {
        return ApiError::Serialization("expected {\"Seconds\": <integer>}".into()).into_response();
    };
    if !state
        .kms
        .clock()
        .advance_ms(request.seconds.saturating_mul(1000))
    {
        return ApiError::Kms(keyward_kms::KmsError::ValidationMessage(format!(
            "Seconds must be between 0 and {} (ten years).",
            keyward_principal::MAX_ADVANCE_MS / 1000
        )))
        .into_response();
    }
    match run_due_work(&state.kms, state.trail.as_ref()).await {
        Ok(done) => {
            let ids = |keys: &[keyward_kms::DueKey]| -> Vec<String> {
                keys.iter().map(|k| k.key_id.clone()).collect()
            };
            let body = serde_json::json!({
                "Now": state.kms.clock().now_ms() as f64 / 1000.0,
                "DeletedKeys": ids(&done.deleted_keys),
                "RotatedKeys": ids(&done.rotated_keys),
            });
            (
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn now_epoch_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

async fn aws_request(State(state): State<Arc<AppState>>, request: Request) -> Response {
    let started = Instant::now();
    // From here until its event is queued, the trail's group commit may hold
    // a batch back for this call to join it.
    let in_progress = state.trail.as_ref().map(|trail| trail.begin_call());
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = request.into_parts();
    // IAM and STS speak the Query protocol at the same endpoint (query/mod.rs).
    if query::is_query_request(&parts) {
        // Recorded in the trail before it is answered (audit_event.rs).
        return audit_event::serve_query(&state, parts, body, &request_id, started, in_progress)
            .await;
    }
    let operation = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut call = audit_event::CallInfo::default();
    let mut request_body = Bytes::new();
    let result = match tokio::time::timeout(
        state.body_read_timeout,
        axum::body::to_bytes(body, MAX_BODY_BYTES),
    )
    .await
    {
        Ok(Ok(body)) => {
            request_body = body.clone();
            handle(&state, &parts, &operation, body, &mut call).await
        }
        Ok(Err(_)) => Err(ApiError::BodyTooLarge(MAX_BODY_BYTES)),
        Err(_) => Err(ApiError::BodyTimeout),
    };
    // The call's event is durable before the answer leaves (audit_event::record).
    let result = audit_event::record(
        &state,
        &parts,
        &request_id,
        &operation,
        &call,
        &request_body,
        result,
        started,
        in_progress,
    )
    .await;
    let mut response = match result {
        Ok(Some(json)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
            json,
        )
            .into_response(),
        Ok(None) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/x-amz-json-1.1")],
            Body::empty(),
        )
            .into_response(),
        Err(error) => {
            let wire = error.wire();
            if error.is_server_fault() {
                tracing::error!(request_id, operation, code = wire.code, error = ?error, "request failed");
            } else {
                tracing::debug!(request_id, operation, code = wire.code, "request rejected");
            }
            error.into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    tracing::trace!(
        request_id,
        operation,
        status = response.status().as_u16(),
        elapsed_us = started.elapsed().as_micros() as u64
    );
    response
}

async fn handle(
    state: &Arc<AppState>,
    parts: &axum::http::request::Parts,
    target: &str,
    body: Bytes,
    call: &mut audit_event::CallInfo,
) -> Result<Option<Vec<u8>>, ApiError> {
    let headers = auth::request_headers(parts);
    let signed = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or_default(),
        headers: &headers,
        body: &body,
    };
    if let Some(operation) = target.strip_prefix(cloudtrail_api::TARGET_PREFIX) {
        let caller = state
            .auth
            .authenticate(&signed, &["cloudtrail"], now_epoch_seconds())
            .map_err(|failure| match failure {
                auth::AuthFailure::Signature(e) => ApiError::Auth(e),
                auth::AuthFailure::ExpiredToken => ApiError::ExpiredToken,
            })?;
        let caller = auth::with_transport(state.tls, parts, caller);
        let caller = call
            .authenticated(audit_event::Service::CloudTrail, caller)
            .clone();
        let Some(trail) = state.trail.clone() else {
            return Err(ApiError::NotImplemented(operation.to_string()));
        };
        let operation = operation.to_string();
        let now_ms = state.kms.clock().now_ms();
        return tokio::task::spawn_blocking(move || {
            cloudtrail_api::dispatch(&trail, &caller, &operation, &body, now_ms)
        })
        .await
        .map_err(|e| ApiError::Internal(format!("operation task failed: {e}")))?;
    }
    let caller = state
        .auth
        .authenticate(&signed, &["kms"], now_epoch_seconds())
        .map_err(|failure| match failure {
            auth::AuthFailure::Signature(e) => ApiError::Auth(e),
            auth::AuthFailure::ExpiredToken => ApiError::ExpiredToken,
        })?;
    let caller = auth::with_transport(state.tls, parts, caller);
    // Kept for the call's event; the operations that run inline borrow it.
    let caller = call.authenticated(audit_event::Service::Kms, caller);
    let Some(operation) = target.strip_prefix(KMS_TARGET_PREFIX) else {
        return Err(ApiError::UnknownOperation(if target.is_empty() {
            "Missing X-Amz-Target header: an AWS JSON request must name its operation.".to_string()
        } else {
            format!("Unknown operation: {target}")
        }));
    };
    if kms_api::runs_inline(operation) {
        return kms_api::dispatch(&state.kms, caller, operation, &body);
    }
    let caller = caller.clone();
    let state = Arc::clone(state);
    let operation = operation.to_string();
    tokio::task::spawn_blocking(move || kms_api::dispatch(&state.kms, &caller, &operation, &body))
        .await
        .map_err(|e| ApiError::Internal(format!("operation task failed: {e}")))?
}

/// Runs due background work (deletions, rotations) every `interval`.
pub async fn run_background(
    kms: Arc<Kms>,
    trail: Option<Arc<keyward_trail::Trail>>,
    interval: std::time::Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    loop {
        ticker.tick().await;
        if let Err(error) = run_due_work(&kms, trail.as_ref()).await {
            tracing::error!(error = ?error, "background work failed");
        }
    }
}

/// Runs what fell due, logs it and records it in the audit trail as
/// `DeleteKey` / `RotateKey` service events (audit_event.rs). The change is
/// committed before its events are written, as for API calls; a failed
/// trail write is logged, since there is no caller to refuse.
async fn run_due_work(
    kms: &Arc<Kms>,
    trail: Option<&Arc<keyward_trail::Trail>>,
) -> Result<keyward_kms::DueWork, ApiError> {
    let worker = Arc::clone(kms);
    let done = tokio::task::spawn_blocking(move || worker.run_due_work())
        .await
        .map_err(|e| ApiError::Internal(format!("background task failed: {e}")))?
        .map_err(ApiError::Kms)?;
    for key in &done.deleted_keys {
        tracing::info!(key_arn = %key.arn, "deleted key after its waiting period");
    }
    for key in &done.rotated_keys {
        tracing::info!(key_arn = %key.arn, key_material_id = key.key_material_id.as_deref().unwrap_or(""), "rotated key material automatically");
    }
    if let Some(trail) = trail {
        let now = audit_event::time_of_ms(kms.clock().now_ms());
        let events = audit_event::due_work_events(&done, kms.region(), now);
        if !events.is_empty() {
            let entries: Result<Vec<_>, _> = events.iter().map(keyward_trail::Entry::new).collect();
            let written = match entries {
                Ok(entries) => trail.append(entries).await,
                Err(error) => Err(error),
            };
            if let Err(error) = written {
                tracing::error!(%error, "the service events of due work could not be written to the audit trail");
            }
        }
    }
    Ok(done)
}
