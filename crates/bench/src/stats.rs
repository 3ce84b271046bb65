//! Latency percentiles and throughput from the recorded samples.
//!
//! Every completed request in the measured window is kept (8 bytes each, a
//! few MB per phase at most), then sorted once: exact percentiles, no
//! histogram bucketing error, and nothing but a `Vec::push` on the hot path.

use std::time::Duration;

/// What one (target, operation, concurrency) phase achieved.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Requests that completed with 200 inside the measured window.
    pub requests: u64,
    pub ops_per_sec: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub max: Duration,
}

/// Summarises `latencies_ns` (sorted in place) over a window of `window`.
pub fn summarize(latencies_ns: &mut [u64], window: Duration) -> Summary {
    latencies_ns.sort_unstable();
    let requests = latencies_ns.len() as u64;
    Summary {
        requests,
        ops_per_sec: requests as f64 / window.as_secs_f64(),
        p50: percentile(latencies_ns, 0.50),
        p99: percentile(latencies_ns, 0.99),
        max: Duration::from_nanos(latencies_ns.last().copied().unwrap_or(0)),
    }
}

/// Nearest-rank percentile of sorted samples: the smallest sample with at
/// least `fraction` of all samples at or below it.
fn percentile(sorted_ns: &[u64], fraction: f64) -> Duration {
    if sorted_ns.is_empty() {
        return Duration::ZERO;
    }
    let rank = (fraction * sorted_ns.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_ns.len()) - 1;
    Duration::from_nanos(sorted_ns.get(index).copied().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<u64> = (1..=100).rev().collect();
        let summary = summarize(&mut samples, Duration::from_secs(2));
        assert_eq!(summary.requests, 100);
        assert_eq!(summary.ops_per_sec, 50.0);
        assert_eq!(summary.p50, Duration::from_nanos(50));
        assert_eq!(summary.p99, Duration::from_nanos(99));
        assert_eq!(summary.max, Duration::from_nanos(100));
    }

    #[test]
    fn empty_and_single() {
        assert_eq!(
            summarize(&mut [], Duration::from_secs(1)).p99,
            Duration::ZERO
        );
        let one = summarize(&mut [7], Duration::from_secs(1));
        assert_eq!(
            (one.p50, one.p99, one.max),
            (
                Duration::from_nanos(7),
                Duration::from_nanos(7),
                Duration::from_nanos(7)
            )
        );
    }
}
