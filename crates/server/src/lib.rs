//! HTTP for keyward: every AWS service at one endpoint, through one
//! request pipeline.
//!
//! Thin by design. The pipeline (`pipeline.rs`) reads, authenticates, lets
//! the protocol (`protocol/`) name the operation, runs the call in the
//! service it is for (`service.rs`: each service registers its signing
//! names, protocol and handlers), makes the call's events durable (`audit/`
//! writes them from the call's typed facts) and encodes the answer. It is
//! the only crate that knows HTTP and the AWS wire shapes.
//!
//! Services: KMS (`kms_api/`), IAM and STS (`identity_api.rs`, `iam_api/`,
//! `sts_api/`), CloudTrail (`cloudtrail_api/`). Around them: `/health`,
//! `/metrics`, the `--dev` clock (`dev.rs`) and due background work
//! (`background.rs`).
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod audit;
pub mod auth;
mod background;
pub mod cloudtrail_api;
mod dev;
pub mod error;
mod iam_api;
mod identity_api;
pub mod kms_api;
pub mod metrics;
mod pipeline;
mod protocol;
mod service;
mod state;
mod sts_api;

use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;

pub use auth::Authenticator;
pub use background::run_background;
pub use state::{AppState, DEFAULT_REQUEST_TIMEOUT, MAX_BODY_BYTES};

/// The router: `/health`, the dev-only clock, and every other request as an
/// AWS API call (AWS routes on headers, not paths). `/metrics` is not here:
/// it names keys and accounts, so it has a listener of its own
/// ([`metrics_app`]).
pub fn app(state: Arc<AppState>) -> Router {
    let mut router = Router::new().route("/health", get(health));
    if state.auth.dev() {
        router = router.route("/keyward/dev/advance-clock", post(dev::advance_clock));
    }
    router.fallback(pipeline::aws_request).with_state(state)
}

/// The metrics listener's router: `/metrics` and `/health`.
pub fn metrics_app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/health", get(health))
        .with_state(state)
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
