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
//!
//! The values live in the `metrics` crate's atomic handles, registered with
//! a `metrics-exporter-prometheus` recorder of our own (not the process-wide
//! one), which renders the text. Recording takes no lock: the handles of a
//! label set are found in a table read through `ArcSwap`, counters are
//! atomics, and a histogram sample goes into the exporter's lock-free bucket,
//! folded into the buckets when `/metrics` is read or by the upkeep thread
//! every [`UPKEEP_INTERVAL`]. Only the first request of a new label set takes
//! a mutex, to add it.

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use metrics::{Counter, Histogram, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Most label sets kept per metric; later new ones are folded into `other`.
pub const MAX_SERIES: usize = 2000;

/// How often histogram samples not yet rendered are folded into buckets, so
/// that a server nobody scrapes keeps a bounded number of them.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

const REQUESTS: &str = "keyward_requests_total";
const REQUEST_DURATION: &str = "keyward_request_duration_seconds";
const DISABLED_KEY_USES: &str = "keyward_disabled_key_use_total";
const REQUEST_LABELS: [&str; 3] = ["service", "operation", "outcome"];
const DISABLED_KEY_LABELS: [&str; 1] = ["key_arn"];

const METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

/// The server's counters.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: Arc<PrometheusHandle>,
    requests: SeriesTable<RequestSeries>,
    disabled_key_uses: SeriesTable<Counter>,
}

/// The handles of one `{service, operation, outcome}`.
#[derive(Clone)]
struct RequestSeries {
    count: Counter,
    duration: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// New metrics, and their upkeep thread (which ends once they are dropped).
    pub fn new() -> Self {
        let builder = match PrometheusBuilder::new().set_buckets(BUCKETS) {
            Ok(builder) => builder,
            // Refused only for an empty list of buckets.
            Err(error) => {
                debug_assert!(false, "latency buckets refused: {error}");
                PrometheusBuilder::new()
            }
        };
        let recorder = builder.build_recorder();
        recorder.describe_counter(
            REQUESTS.into(),
            None,
            "API requests by operation and outcome.".into(),
        );
        recorder.describe_histogram(
            REQUEST_DURATION.into(),
            None,
            "API request latency by operation and outcome.".into(),
        );
        recorder.describe_counter(
            DISABLED_KEY_USES.into(),
            None,
            "Attempts to use a disabled or pending-deletion key.".into(),
        );
        let handle = Arc::new(recorder.handle());
        start_upkeep(&handle);
        Metrics {
            recorder,
            handle,
            requests: SeriesTable::new(),
            disabled_key_uses: SeriesTable::new(),
        }
    }

    /// Counts one finished request.
    pub fn observe(&self, service: &str, operation: &str, outcome: &str, elapsed: Duration) {
        self.requests.record(
            &[service, operation, outcome],
            |labels| RequestSeries {
                count: self
                    .recorder
                    .register_counter(&key(REQUESTS, &REQUEST_LABELS, labels), &METADATA),
                duration: self
                    .recorder
                    .register_histogram(&key(REQUEST_DURATION, &REQUEST_LABELS, labels), &METADATA),
            },
            |series| {
                series.count.increment(1);
                series.duration.record(elapsed.as_secs_f64());
            },
        );
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
        self.disabled_key_uses.record(
            &[key_arn],
            |labels| {
                self.recorder.register_counter(
                    &key(DISABLED_KEY_USES, &DISABLED_KEY_LABELS, labels),
                    &METADATA,
                )
            },
            |uses| uses.increment(1),
        );
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        self.handle.render()
    }
}

/// The metric `name` with `values` for the label `names`.
fn key(name: &'static str, names: &[&'static str], values: &[&str]) -> Key {
    let labels: Vec<Label> = names
        .iter()
        .zip(values)
        .map(|(name, value)| Label::new(*name, (*value).to_owned()))
        .collect();
    Key::from_parts(name, labels)
}

/// Folds histogram samples into buckets every [`UPKEEP_INTERVAL`] while
/// `handle` is alive.
fn start_upkeep(handle: &Arc<PrometheusHandle>) {
    let handle = Arc::downgrade(handle);
    let started = std::thread::Builder::new()
        .name("keyward-metrics".into())
        .spawn(move || loop {
            std::thread::sleep(UPKEEP_INTERVAL);
            match handle.upgrade() {
                Some(handle) => handle.run_upkeep(),
                None => return,
            }
        });
    if let Err(error) = started {
        tracing::warn!(%error, "no metrics upkeep thread: latency samples are folded only when /metrics is read");
    }
}

/// The handles of each label set, read without a lock. A new label set is
/// added under `adding`, by copying the table: it holds at most
/// [`MAX_SERIES`] sets plus `other`, each added once.
struct SeriesTable<H> {
    current: ArcSwap<Table<H>>,
    adding: Mutex<()>,
    hasher: RandomState,
}

#[derive(Clone)]
struct Table<H> {
    /// Label sets by the hash of their values (`SeriesTable::hasher`).
    /// (Shared, so that copying the table copies no label values.)
    by_hash: HashMap<u64, Vec<Arc<Series<H>>>>,
    len: usize,
    /// The handles every label set beyond [`MAX_SERIES`] shares.
    other: Option<H>,
}

/// One label set's values and handles.
struct Series<H> {
    values: Box<[String]>,
    handles: H,
}

impl<H: Clone> SeriesTable<H> {
    fn new() -> Self {
        SeriesTable {
            current: ArcSwap::from_pointee(Table {
                by_hash: HashMap::new(),
                len: 0,
                other: None,
            }),
            adding: Mutex::new(()),
            hasher: RandomState::new(),
        }
    }

    /// Calls `record` with the handles of `labels`: those made by `make` for
    /// it the first time, or, once [`MAX_SERIES`] sets exist, those of the
    /// set whose every value is `other`.
    fn record(&self, labels: &[&str], make: impl FnOnce(&[&str]) -> H, record: impl FnOnce(&H)) {
        let hash = self.hasher.hash_one(labels);
        {
            let table = self.current.load();
            if let Some(handles) = table.find(hash, labels).or(table.overflow()) {
                record(handles);
                return;
            }
        }
        record(&self.add(hash, labels, make));
    }

    fn add(&self, hash: u64, labels: &[&str], make: impl FnOnce(&[&str]) -> H) -> H {
        let _adding = self.adding.lock().unwrap_or_else(|p| p.into_inner());
        let table = self.current.load_full();
        if let Some(handles) = table.find(hash, labels).or(table.overflow()) {
            return handles.clone();
        }
        let mut next = Table::clone(&table);
        let handles = if next.len < MAX_SERIES {
            let handles = make(labels);
            let values = labels.iter().map(|value| (*value).to_owned()).collect();
            next.by_hash.entry(hash).or_default().push(Arc::new(Series {
                values,
                handles: handles.clone(),
            }));
            next.len += 1;
            handles
        } else {
            let other = vec!["other"; labels.len()];
            next.other.get_or_insert_with(|| make(&other)).clone()
        };
        self.current.store(Arc::new(next));
        handles
    }
}

impl<H> Table<H> {
    fn find(&self, hash: u64, labels: &[&str]) -> Option<&H> {
        self.by_hash
            .get(&hash)?
            .iter()
            .find(|series| {
                series
                    .values
                    .iter()
                    .map(String::as_str)
                    .eq(labels.iter().copied())
            })
            .map(|series| &series.handles)
    }

    /// The `other` handles, once the table is full.
    fn overflow(&self) -> Option<&H> {
        self.other.as_ref().filter(|_| self.len >= MAX_SERIES)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

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
    fn label_sets_past_the_cap_share_the_other_series() {
        let series = SeriesTable::<Arc<AtomicU64>>::new();
        let made = AtomicU64::new(0);
        let count = |labels: &[&str]| {
            series.record(
                labels,
                |_| {
                    made.fetch_add(1, Ordering::Relaxed);
                    Arc::default()
                },
                |uses| {
                    uses.fetch_add(1, Ordering::Relaxed);
                },
            )
        };
        for i in 0..MAX_SERIES {
            count(&["kms", &format!("Op{i}")]);
        }
        // Known sets keep their own series; new ones all go to `other`.
        count(&["kms", "Op0"]);
        for i in 0..10 {
            count(&["kms", &format!("New{i}")]);
        }
        assert_eq!(made.load(Ordering::Relaxed), MAX_SERIES as u64 + 1);
        let uses = |labels: &[&str]| {
            let table = series.current.load();
            let hash = series.hasher.hash_one(labels);
            table
                .find(hash, labels)
                .map(|uses| uses.load(Ordering::Relaxed))
        };
        assert_eq!(uses(&["kms", "Op0"]), Some(2));
        assert_eq!(uses(&["kms", "Op1"]), Some(1));
        assert_eq!(uses(&["kms", "New0"]), None);
        let table = series.current.load();
        assert_eq!(table.len, MAX_SERIES);
        let other = table
            .other
            .as_ref()
            .map(|uses| uses.load(Ordering::Relaxed));
        assert_eq!(other, Some(10));
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
