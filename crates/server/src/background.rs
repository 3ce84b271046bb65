//! What keyward does by itself: deletions whose waiting period ended and
//! scheduled rotations, run on a timer (and by the `--dev` clock), and
//! recorded in the trail as the AWS service events AWS records for them.

use std::sync::Arc;

use keyward_kms::{DueWork, Kms};

use crate::audit;
use crate::error::ApiError;

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
/// `DeleteKey` / `RotateKey` service events. The change is committed before
/// its events are written, as for API calls; a failed trail write is
/// logged, since there is no caller to refuse.
pub(crate) async fn run_due_work(
    kms: &Arc<Kms>,
    trail: Option<&Arc<keyward_trail::Trail>>,
) -> Result<DueWork, ApiError> {
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
        let now = audit::time_of_ms(kms.clock().now_ms());
        let events = audit::due_work_events(&done, kms.region(), now);
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
