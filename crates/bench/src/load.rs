//! One measured phase: N workers, each with its own connection, sending one
//! request at a time for a warm-up and then a fixed window.
//!
//! Closed loop on purpose: each worker sends its next request as soon as the
//! previous answer is read, the way a service calling KMS from N threads
//! behaves. A request counts when it both started and finished inside the
//! window, so ops/s is exactly "completions in the window / window length".
//! Every non-200 answer and transport error counts as an error, warm-up
//! included; the run fails if there is any.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;

use crate::args::Operation;
use crate::client::{read_body_into, Connection};
use crate::host::{own_cpu_time, process_cpu_time};
use crate::signer::Signer;
use crate::stats::{summarize, Summary};
use crate::target::Target;
use crate::workload::Workload;

/// Samples reserved per worker up front so the hot loop rarely reallocates.
const RESERVED_SAMPLES: usize = 64 * 1024;
/// Both GenerateDataKey and Decrypt answer with the (base64) plaintext data
/// key. Checking for the member, not only for status 200, guards the figures
/// against a server or proxy that answers 200 without doing the work.
/// (moto puts a space after the colon, keyward doesn't: match the name only.)
const SUCCESS_MARKER: &[u8] = b"\"Plaintext\"";

/// The outcome of one phase.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub target: String,
    pub operation: Operation,
    pub concurrency: usize,
    pub summary: Summary,
    pub errors: u64,
    pub first_error: Option<String>,
    pub reconnects: u64,
    /// Server CPU over the window, in cores (1.0 = one core busy), if known.
    pub server_cores: Option<f64>,
    /// This load generator's CPU over the window, in cores.
    pub client_cores: Option<f64>,
    /// Which of `--rounds` this was (from 1).
    pub round: usize,
}

/// Phase timing shared by all workers.
#[derive(Clone, Copy)]
pub struct Window {
    pub warmup: Duration,
    pub duration: Duration,
}

#[derive(Default)]
struct WorkerReport {
    latencies_ns: Vec<u64>,
    errors: u64,
    first_error: Option<String>,
    reconnects: u64,
}

/// Runs `operation` against `target` with `concurrency` workers.
pub async fn measure(
    target: &Target,
    workload: &Workload,
    operation: Operation,
    concurrency: usize,
    window: Window,
) -> anyhow::Result<Measurement> {
    // Connect everyone first so the handshakes are not in the measurement.
    let mut connections = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        connections.push(Connection::open(target.addr).await?);
    }
    let signer = Signer::new(target)?;
    let bodies: Arc<[Bytes]> = workload.bodies(operation).into();
    let begin = Instant::now();
    let start = begin + window.warmup;
    let end = start + window.duration;
    let workers: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(index, connection)| {
            tokio::spawn(worker(
                connection,
                signer.clone(),
                operation.x_amz_target(),
                Arc::clone(&bodies),
                index,
                (start, end),
            ))
        })
        .collect();

    tokio::time::sleep_until(start.into()).await;
    // Only a server started here has a pid we know.
    let server_cpu = || target.pid.and_then(process_cpu_time);
    let server_before = server_cpu();
    let client_before = own_cpu_time();
    tokio::time::sleep_until(end.into()).await;
    let server_after = server_cpu();
    let client_after = own_cpu_time();

    let mut latencies_ns = Vec::new();
    let (mut errors, mut reconnects, mut first_error) = (0, 0, None);
    for worker in workers {
        let report = worker.await?;
        latencies_ns.extend_from_slice(&report.latencies_ns);
        errors += report.errors;
        reconnects += report.reconnects;
        first_error = first_error.or(report.first_error);
    }
    let cores = |before: Option<Duration>, after: Option<Duration>| {
        Some((after? - before?).as_secs_f64() / window.duration.as_secs_f64())
    };
    Ok(Measurement {
        target: target.name.clone(),
        operation,
        concurrency,
        summary: summarize(&mut latencies_ns, window.duration),
        errors,
        first_error,
        reconnects,
        server_cores: cores(server_before, server_after),
        client_cores: cores(client_before, client_after),
        round: 1,
    })
}

async fn worker(
    mut connection: Connection,
    mut signer: Signer,
    x_amz_target: &'static str,
    bodies: Arc<[Bytes]>,
    offset: usize,
    (start, end): (Instant, Instant),
) -> WorkerReport {
    let mut report = WorkerReport {
        latencies_ns: Vec::with_capacity(RESERVED_SAMPLES),
        ..WorkerReport::default()
    };
    let mut answer = Vec::with_capacity(1024);
    // Workers start at different ciphertexts so Decrypt load is spread.
    for body in bodies.iter().cycle().skip(offset) {
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        let outcome = exchange(
            &mut connection,
            &mut signer,
            x_amz_target,
            body,
            &mut answer,
        )
        .await;
        let done = Instant::now();
        match outcome {
            Ok(()) => {
                if sent >= start && done <= end {
                    report.latencies_ns.push((done - sent).as_nanos() as u64);
                }
            }
            Err(Failure::Status(message)) => {
                report.errors += 1;
                report.first_error.get_or_insert(message);
            }
            Err(Failure::Transport(error)) => {
                // The connection is unusable and retrying in a tight loop
                // would only spin; the error already fails the run.
                report.errors += 1;
                report.first_error.get_or_insert(format!("{error:#}"));
                break;
            }
        }
    }
    report.reconnects = connection.reconnects;
    report
}

enum Failure {
    /// The server answered, but not with 200.
    Status(String),
    Transport(anyhow::Error),
}

/// One request and its answer, read into `answer`.
async fn exchange(
    connection: &mut Connection,
    signer: &mut Signer,
    x_amz_target: &'static str,
    body: &Bytes,
    answer: &mut Vec<u8>,
) -> Result<(), Failure> {
    let request = signer
        .request(x_amz_target, body)
        .map_err(Failure::Transport)?;
    let response = connection.send(request).await.map_err(Failure::Transport)?;
    let status = response.status();
    read_body_into(response.into_body(), answer)
        .await
        .map_err(Failure::Transport)?;
    if status == StatusCode::OK && contains(answer, SUCCESS_MARKER) {
        return Ok(());
    }
    Err(Failure::Status(format!(
        "HTTP {status}: {}",
        String::from_utf8_lossy(answer)
    )))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_marker_matches_compact_json() {
        let answer = br#"{"CiphertextBlob":"AQID","KeyId":"arn:...","Plaintext":"AAAA"}"#;
        assert!(contains(answer, SUCCESS_MARKER));
        assert!(contains(br#"{"Plaintext": "AAAA"}"#, SUCCESS_MARKER));
        assert!(!contains(
            br#"{"__type":"NotFoundException"}"#,
            SUCCESS_MARKER
        ));
    }
}
