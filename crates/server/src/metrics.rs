//! `GET /metrics`: Prometheus text exposition (format 0.0.4).
//!
//! - `keyward_requests_total{service,operation,outcome}` and
//!   `keyward_request_duration_seconds{service,operation,outcome}` (a
//!   histogram): every API call, `outcome` being `success` or the AWS error
//!   code, so that a dashboard can tell denials from validation errors.
//! - `keyward_disabled_key_use_total{key_arn}`: attempts to use a key that is
//!   disabled or pending deletion (seeds S-27/S-28: an owner who disabled a
//!   key before deleting it wants to see who still needs it). Each attempt
//!   also logs a warning line.
//!
//! Operation labels are the operation the client named, so they are capped
//! at [`MAX_SERIES`] distinct label sets: a client sending random
//! `X-Amz-Target`s must not grow memory without bound.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Most label sets kept per metric; later new ones are folded into `other`.
pub const MAX_SERIES: usize = 2000;

#[derive(Default)]
struct Series {
    count: u64,
    sum_seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

/// The server's counters.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<HashMap<(String, String, String), Series>>,
    disabled_key_uses: Mutex<HashMap<String, u64>>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one finished request.
    pub fn observe(&self, service: &str, operation: &str, outcome: &str, elapsed: Duration) {
        let mut requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let mut key = (service.to_owned(), operation.to_owned(), outcome.to_owned());
        if !requests.contains_key(&key) && requests.len() >= MAX_SERIES {
            key = ("other".into(), "other".into(), "other".into());
        }
        let series = requests.entry(key).or_default();
        let seconds = elapsed.as_secs_f64();
        series.count += 1;
        series.sum_seconds += seconds;
        for (bucket, bound) in series.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= *bound {
                *bucket += 1;
            }
        }
    }

    /// Counts (and logs) an attempt to use a disabled or pending-deletion key.
    pub fn disabled_key_used(&self, key_arn: &str, operation: &str, state: &str, caller: &str) {
        tracing::warn!(
            key_arn,
            operation,
            key_state = state,
            caller,
            "attempt to use a key that is {state}"
        );
        let mut uses = self
            .disabled_key_uses
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let key = if uses.contains_key(key_arn) || uses.len() < MAX_SERIES {
            key_arn.to_owned()
        } else {
            "other".to_owned()
        };
        *uses.entry(key).or_insert(0) += 1;
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let requests = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let mut keys: Vec<_> = requests.keys().collect();
        keys.sort();
        let _ = writeln!(
            out,
            "# HELP keyward_requests_total API requests by operation and outcome."
        );
        let _ = writeln!(out, "# TYPE keyward_requests_total counter");
        for key in &keys {
            if let Some(series) = requests.get(*key) {
                let _ = writeln!(
                    out,
                    "keyward_requests_total{{{}}} {}",
                    labels(key),
                    series.count
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP keyward_request_duration_seconds API request latency by operation and outcome."
        );
        let _ = writeln!(out, "# TYPE keyward_request_duration_seconds histogram");
        for key in &keys {
            let Some(series) = requests.get(*key) else {
                continue;
            };
            let labels = labels(key);
            for (bucket, bound) in series.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "keyward_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {bucket}"
                );
            }
            let _ = writeln!(
                out,
                "keyward_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                series.count
            );
            let _ = writeln!(
                out,
                "keyward_request_duration_seconds_sum{{{labels}}} {}",
                series.sum_seconds
            );
            let _ = writeln!(
                out,
                "keyward_request_duration_seconds_count{{{labels}}} {}",
                series.count
            );
        }
        drop(requests);
        let uses = self
            .disabled_key_uses
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let mut arns: Vec<_> = uses.iter().collect();
        arns.sort();
        let _ = writeln!(out, "# HELP keyward_disabled_key_use_total Attempts to use a disabled or pending-deletion key.");
        let _ = writeln!(out, "# TYPE keyward_disabled_key_use_total counter");
        for (arn, count) in arns {
            let _ = writeln!(
                out,
                "keyward_disabled_key_use_total{{key_arn=\"{}\"}} {count}",
                escape(arn)
            );
        }
        out
    }
}

fn labels((service, operation, outcome): &(String, String, String)) -> String {
    format!(
        "service=\"{}\",operation=\"{}\",outcome=\"{}\"",
        escape(service),
        escape(operation),
        escape(outcome)
    )
}

/// Label values escape `\`, `"` and newlines (exposition format spec).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_disabled_key_uses() {
        let metrics = Metrics::new();
        metrics.observe("kms", "Encrypt", "success", Duration::from_millis(2));
        metrics.observe("kms", "Encrypt", "success", Duration::from_millis(20));
        metrics.observe(
            "kms",
            "Encrypt",
            "DisabledException",
            Duration::from_millis(1),
        );
        metrics.disabled_key_used(
            "arn:aws:kms:us-east-1:1:key/k",
            "Encrypt",
            "disabled",
            "root",
        );
        let text = metrics.render();
        assert!(text.contains(
            "keyward_requests_total{service=\"kms\",operation=\"Encrypt\",outcome=\"success\"} 2"
        ));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains(
            "keyward_disabled_key_use_total{key_arn=\"arn:aws:kms:us-east-1:1:key/k\"} 1"
        ));
    }

    #[test]
    fn label_sets_are_bounded_and_escaped() {
        let metrics = Metrics::new();
        for i in 0..MAX_SERIES + 10 {
            metrics.observe("kms", &format!("Op\"{i}"), "x", Duration::ZERO);
        }
        let text = metrics.render();
        assert!(text.contains("operation=\"other\""));
        assert!(text.contains("Op\\\"1"));
    }
}
