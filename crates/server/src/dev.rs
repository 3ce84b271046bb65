//! `--dev` only: the clock endpoint, which moves the service clock forward
//! and runs what fell due (deletions, rotations) before answering, so tests
//! need no sleeps.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::background::run_due_work;
use crate::error::ApiError;
use crate::protocol::json;
use crate::state::AppState;

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AdvanceClock {
    seconds: i64,
}

/// `POST /keyward/dev/advance-clock` with `{"Seconds": N}`.
pub(crate) async fn advance_clock(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<AdvanceClock>(&body) else {
        return json::error(
            &ApiError::Serialization("expected {\"Seconds\": <integer>}".into()).wire(),
        );
    };
    if !state
        .kms
        .clock()
        .advance_ms(request.seconds.saturating_mul(1000))
    {
        return json::error(
            &ApiError::Kms(keyward_kms::KmsError::ValidationMessage(format!(
                "Seconds must be between 0 and {} (ten years).",
                keyward_principal::MAX_ADVANCE_MS / 1000
            )))
            .wire(),
        );
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
        Err(error) => json::error(&error.wire()),
    }
}
