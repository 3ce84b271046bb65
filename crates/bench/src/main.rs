//! `keyward-bench`: a native load generator for keyward's KMS API.
//!
//! It sends freshly SigV4-signed GenerateDataKey and Decrypt requests over
//! keep-alive HTTP/1.1 at several concurrencies, and measures moto's server
//! the same way in the same run (see BENCHMARKS.md). Native because a Python
//! client tops out far below the server (boto3: about 1,100 calls/s here).
//!
//! `main` only wires the modules together and turns the outcome into an exit
//! code: 0 all good, 1 some request failed, 2 the run itself could not be done.

mod args;
mod client;
mod host;
mod load;
mod report;
mod servers;
mod signer;
mod stats;
mod target;
mod workload;

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use crate::args::{Cli, Plan, TargetSpec};
use crate::host::Machine;
use crate::load::{measure, Measurement, Window};
use crate::servers::{moto_target, spawn_keyward, spawn_moto, Spawned};
use crate::target::Target;
use crate::workload::Workload;

fn main() -> ExitCode {
    match Cli::parse().into_plan().and_then(|plan| run(&plan)) {
        Ok(0) => ExitCode::SUCCESS,
        Ok(errors) => {
            eprintln!("keyward-bench: {errors} requests failed (see the errors column)");
            ExitCode::from(1)
        }
        Err(error) => {
            eprintln!("keyward-bench: {error:#}");
            ExitCode::from(2)
        }
    }
}

/// Runs the plan and returns how many requests failed.
fn run(plan: &Plan) -> anyhow::Result<u64> {
    // Servers are started before the client runtime exists and stopped when
    // `_spawned` drops, after the last phase.
    let mut _spawned: Vec<Spawned> = Vec::new();
    let mut targets: Vec<Target> = Vec::new();
    for spec in &plan.targets {
        let target = match spec {
            TargetSpec::SpawnKeyward(binary) => {
                let spawned = spawn_keyward(binary)?;
                let target = spawned.target.clone();
                _spawned.push(spawned);
                target
            }
            TargetSpec::SpawnBaseline(binary) => {
                let spawned = crate::servers::spawn_keyward_with(binary, "keyward-baseline", &[])?;
                let target = spawned.target.clone();
                _spawned.push(spawned);
                target
            }
            TargetSpec::SpawnMoto(binary) => {
                let spawned = spawn_moto(binary)?;
                let target = spawned.target.clone();
                _spawned.push(spawned);
                target
            }
            TargetSpec::KeywardEndpoint { url, credentials } => {
                Target::from_url("keyward", url, credentials.clone())?
            }
            TargetSpec::MotoEndpoint(url) => moto_target(url)?,
        };
        eprintln!("{}: {} (Host {})", target.name, target.addr, target.host);
        targets.push(target);
    }

    if plan.trail_comparison {
        for spec in &plan.targets {
            if let TargetSpec::SpawnKeyward(binary) = spec {
                let spawned = crate::servers::spawn_keyward_with(
                    binary,
                    "keyward-trail-off",
                    &["--benchmark-only-disable-trail"],
                )?;
                let target = spawned.target.clone();
                _spawned.push(spawned);
                eprintln!("{}: {} (Host {})", target.name, target.addr, target.host);
                targets.push(target);
            }
        }
    }

    if plan.authz_comparison {
        let heavy: Vec<Target> = targets
            .iter()
            .filter(|t| t.name == "keyward")
            .map(|t| Target {
                name: "keyward-10stmt-100grants".into(),
                key_setup: crate::workload::KeySetup::PolicyAndGrants,
                ..t.clone()
            })
            .collect();
        targets.extend(heavy);
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.client_threads)
        .enable_all()
        .build()
        .context("starting the client runtime")?;
    let results = runtime.block_on(measure_all(plan, &targets))?;

    let machine = Machine::describe();
    println!("{}", report::markdown(&machine, plan, &results));
    if let Some(path) = &plan.json {
        let json = serde_json::to_string_pretty(&report::json(&machine, plan, &results))?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    for m in results.iter().filter(|m| m.errors > 0) {
        eprintln!(
            "{} {} c={}: {} errors, first: {}",
            m.target,
            m.operation.aws_name(),
            m.concurrency,
            m.errors,
            m.first_error.as_deref().unwrap_or("?")
        );
    }
    Ok(results.iter().map(|m| m.errors).sum())
}

/// Every (operation, concurrency) phase, the targets taking turns so that any
/// drift in the machine's speed over the run affects them alike. Even rounds
/// measure the targets in reverse order (A B, B A, A B, ...), so that a change
/// in the machine's speed within rounds cannot always favour the same one.
async fn measure_all(plan: &Plan, targets: &[Target]) -> anyhow::Result<Vec<Measurement>> {
    let mut workloads = Vec::with_capacity(targets.len());
    for target in targets {
        let workload = Workload::prepare(target)
            .await
            .with_context(|| format!("preparing {} (CreateKey and data keys)", target.name))?;
        eprintln!("{}: benchmark key {}", target.name, workload.key_id);
        workloads.push(workload);
    }
    let window = Window {
        warmup: plan.warmup,
        duration: plan.duration,
    };
    let mut results = Vec::new();
    for &operation in &plan.operations {
        for &concurrency in &plan.concurrency {
            for round in 1..=plan.rounds {
                for index in round_order(round, targets.len()) {
                    let (target, workload) = (&targets[index], &workloads[index]);
                    let mut m = measure(target, workload, operation, concurrency, window)
                        .await
                        .with_context(|| {
                            format!("{} {} c={concurrency}", target.name, operation.aws_name())
                        })?;
                    m.round = round;
                    eprintln!("{}", report::progress(&m));
                    results.push(m);
                }
            }
        }
    }
    Ok(results)
}

/// The order in which round `round` (from 1) measures `count` targets:
/// as given in odd rounds, reversed in even ones.
fn round_order(round: usize, count: usize) -> Vec<usize> {
    if round.is_multiple_of(2) {
        (0..count).rev().collect()
    } else {
        (0..count).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::round_order;

    #[test]
    fn rounds_alternate_the_order_of_the_targets() {
        assert_eq!(round_order(1, 2), [0, 1]);
        assert_eq!(round_order(2, 2), [1, 0]);
        assert_eq!(round_order(3, 2), [0, 1]);
        assert_eq!(round_order(4, 3), [2, 1, 0]);
        assert_eq!(round_order(2, 1), [0]);
    }
}
