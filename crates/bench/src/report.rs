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
    if plan.rounds > 1 {
        let _ = writeln!(
            out,
            "{} rounds: every phase was measured {} times, the servers taking turns.\n",
            plan.rounds, plan.rounds
        );
    }
    out.push_str(
        "| server | round | operation | concurrency | ops/s | p50 ms | p99 ms | max ms | errors | server CPU (cores) | client CPU (cores) |\n\
         |---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in results {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            m.target,
            m.round,
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

/// keyward next to the peer for each (operation, concurrency) both ran: the
/// ratio of each round (measured back to back, so comparable even when the
/// machine's speed drifts between rounds) and their median.
fn side_by_side(results: &[Measurement]) -> String {
    let mut out = String::new();
    let mut phases: Vec<(crate::args::Operation, usize)> = Vec::new();
    for m in results.iter().filter(|m| m.target == "keyward") {
        if !phases.contains(&(m.operation, m.concurrency)) {
            phases.push((m.operation, m.concurrency));
        }
    }
    for (operation, concurrency) in phases {
        let phase = |m: &&Measurement| m.operation == operation && m.concurrency == concurrency;
        let ours: Vec<&Measurement> = results
            .iter()
            .filter(phase)
            .filter(|m| m.target == "keyward")
            .collect();
        let Some(peer_name) = results
            .iter()
            .filter(phase)
            .find(|m| m.target != "keyward")
            .map(|m| m.target.as_str())
        else {
            continue;
        };
        let mut ratios = Vec::new();
        let mut rounds = Vec::new();
        for keyward in &ours {
            let Some(peer) = results
                .iter()
                .filter(phase)
                .find(|m| m.target == peer_name && m.round == keyward.round)
            else {
                continue;
            };
            let ratio = (peer.summary.ops_per_sec > 0.0)
                .then(|| keyward.summary.ops_per_sec / peer.summary.ops_per_sec);
            if let Some(ratio) = ratio {
                ratios.push(ratio);
            }
            rounds.push((*keyward, peer, ratio));
        }
        if out.is_empty() {
            let _ = writeln!(
                out,
                "| operation | concurrency | round | keyward ops/s | {peer_name} ops/s | ratio | keyward p99 ms | {peer_name} p99 ms |\n\
                 |---|---:|---:|---:|---:|---:|---:|---:|"
            );
        }
        for (keyward, peer, ratio) in &rounds {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                operation.aws_name(),
                concurrency,
                keyward.round,
                thousands(keyward.summary.ops_per_sec),
                thousands(peer.summary.ops_per_sec),
                ratio.map_or_else(|| "—".into(), |r| format!("{r:.2}×")),
                millis(keyward.summary.p99),
                millis(peer.summary.p99),
            );
        }
        if rounds.len() > 1 {
            if let Some(median) = median(&mut ratios) {
                let _ = writeln!(
                    out,
                    "| {} | {} | median | | | **{median:.2}×** | | |",
                    operation.aws_name(),
                    concurrency,
                );
            }
        }
    }
    out
}

/// The median of `values` (the mean of the middle two for an even count).
fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    })
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
        "rounds": plan.rounds,
        "results": results.iter().map(|m| json!({
            "server": m.target,
            "round": m.round,
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
        "{:8} {:16} c={:<3} round {} {:>9} ops/s  p50 {} ms  p99 {} ms  errors {}",
        m.target,
        m.operation.aws_name(),
        m.concurrency,
        m.round,
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
    use super::{median, thousands};

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [0.9, 0.5, 0.7]), Some(0.7));
        assert_eq!(median(&mut [0.25, 1.0, 0.75, 0.5]), Some(0.625));
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1234.0), "1,234");
        assert_eq!(thousands(1234567.0), "1,234,567");
    }
}
