//! The results as Markdown tables (ready for BENCHMARKS.md) and as JSON.

use std::fmt::Write as _;
use std::time::Duration;

use serde_json::{json, Value};

use crate::args::Plan;
use crate::host::Machine;
use crate::load::Measurement;

/// The full report: machine, settings, one row per phase, then keyward vs.
/// the peer side by side when both were measured.
pub fn markdown(machine: &Machine, plan: &Plan, results: &[Measurement]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Machine: {} CPUs ({}), {:.1} GiB RAM, {}, Linux {}",
        machine.cpus, machine.cpu_model, machine.memory_gib, machine.os, machine.kernel
    );
    let _ = writeln!(
        out,
        "Each phase: {} s warm-up, {} s measured; client runtime with {} threads; \
         every request freshly SigV4-signed; one keep-alive HTTP/1.1 connection per worker.\n",
        plan.warmup.as_secs_f64(),
        plan.duration.as_secs_f64(),
        plan.client_threads
    );
    out.push_str(
        "| server | operation | concurrency | ops/s | p50 ms | p99 ms | max ms | errors | server CPU (cores) | client CPU (cores) |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.target,
            m.operation.aws_name(),
            m.concurrency,
            thousands(m.summary.ops_per_sec),
            millis(m.summary.p50),
            millis(m.summary.p99),
            millis(m.summary.max),
            m.errors,
            cores(m.server_cores),
            cores(m.client_cores),
        );
    }
    let mut servers: Vec<&str> = Vec::new();
    for m in results {
        if !servers.contains(&m.target.as_str()) {
            servers.push(&m.target);
        }
    }
    for server in servers {
        let reconnects: u64 = results
            .iter()
            .filter(|m| m.target == server)
            .map(|m| m.reconnects)
            .sum();
        if reconnects > 0 {
            let _ = writeln!(
                out,
                "\n{server} closed the connection after {reconnects} responses; the client \
                 reconnected, and that time counts in the latency of the request that needed it."
            );
        }
    }
    let comparison = side_by_side(results);
    if !comparison.is_empty() {
        out.push('\n');
        out.push_str(&comparison);
    }
    out
}

/// keyward next to the peer for each (operation, concurrency) both ran.
fn side_by_side(results: &[Measurement]) -> String {
    let mut out = String::new();
    for keyward in results.iter().filter(|m| m.target == "keyward") {
        let Some(peer) = results.iter().find(|m| {
            m.target != "keyward"
                && m.operation == keyward.operation
                && m.concurrency == keyward.concurrency
        }) else {
            continue;
        };
        if out.is_empty() {
            let _ = writeln!(
                out,
                "| operation | concurrency | keyward ops/s | {peer} ops/s | ratio | keyward p99 ms | {peer} p99 ms |\n\
                 |---|---:|---:|---:|---:|---:|---:|",
                peer = peer.target
            );
        }
        let ratio = if peer.summary.ops_per_sec > 0.0 {
            format!(
                "{:.1}×",
                keyward.summary.ops_per_sec / peer.summary.ops_per_sec
            )
        } else {
            "—".into()
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            keyward.operation.aws_name(),
            keyward.concurrency,
            thousands(keyward.summary.ops_per_sec),
            thousands(peer.summary.ops_per_sec),
            ratio,
            millis(keyward.summary.p99),
            millis(peer.summary.p99),
        );
    }
    out
}

pub fn json(machine: &Machine, plan: &Plan, results: &[Measurement]) -> Value {
    json!({
        "machine": {
            "cpus": machine.cpus,
            "cpu_model": machine.cpu_model,
            "memory_gib": machine.memory_gib,
            "os": machine.os,
            "kernel": machine.kernel,
        },
        "warmup_seconds": plan.warmup.as_secs_f64(),
        "duration_seconds": plan.duration.as_secs_f64(),
        "client_threads": plan.client_threads,
        "results": results.iter().map(|m| json!({
            "server": m.target,
            "operation": m.operation.aws_name(),
            "concurrency": m.concurrency,
            "requests": m.summary.requests,
            "ops_per_sec": m.summary.ops_per_sec,
            "p50_ms": m.summary.p50.as_secs_f64() * 1e3,
            "p99_ms": m.summary.p99.as_secs_f64() * 1e3,
            "max_ms": m.summary.max.as_secs_f64() * 1e3,
            "errors": m.errors,
            "first_error": m.first_error,
            "reconnects": m.reconnects,
            "server_cpu_cores": m.server_cores,
            "client_cpu_cores": m.client_cores,
        })).collect::<Vec<_>>(),
    })
}

/// One progress line per finished phase, for stderr.
pub fn progress(m: &Measurement) -> String {
    format!(
        "{:8} {:16} c={:<3} {:>9} ops/s  p50 {} ms  p99 {} ms  errors {}",
        m.target,
        m.operation.aws_name(),
        m.concurrency,
        thousands(m.summary.ops_per_sec),
        millis(m.summary.p50),
        millis(m.summary.p99),
        m.errors
    )
}

fn millis(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.1}")
    }
}

fn cores(c: Option<f64>) -> String {
    c.map_or_else(|| "—".into(), |c| format!("{c:.2}"))
}

/// `12345.6` as `12,346`.
fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1234.0), "1,234");
        assert_eq!(thousands(1234567.0), "1,234,567");
    }
}
