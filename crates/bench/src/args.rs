//! Command-line arguments, validated into a [`Plan`] before anything starts.
//!
//! Parsing only checks; it never spawns or connects, so a typo fails fast
//! instead of after a server has been started.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Parser;

use crate::target::Credentials;

/// Benchmarks SigV4-signed GenerateDataKey and Decrypt over keep-alive HTTP/1.1.
///
/// Targets: a running endpoint (`--endpoint` with `--credentials` or the key
/// flags), a keyward binary started here (`--spawn-keyward`), and optionally
/// a peer: another keyward build (`--spawn-baseline`) or moto's server
/// (`--spawn-moto` or `--moto-endpoint`), all measured identically in the
/// same run.
#[derive(Parser, Debug)]
#[command(name = "keyward-bench", version)]
pub struct Cli {
    /// Start this keyward binary on 127.0.0.1:0 with a fresh temporary data
    /// directory and use its admin credentials.
    #[arg(long, value_name = "PATH", conflicts_with = "endpoint")]
    pub spawn_keyward: Option<PathBuf>,
    /// A running keyward (or other KMS) endpoint, e.g. http://127.0.0.1:7478.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// AWS shared-credentials file for --endpoint (profile `default`), e.g.
    /// keyward-data/admin-credentials.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["access_key_id", "secret_access_key"])]
    pub credentials: Option<PathBuf>,
    /// Access key id for --endpoint.
    #[arg(long, requires = "secret_access_key")]
    pub access_key_id: Option<String>,
    /// Secret access key for --endpoint.
    #[arg(long, requires = "access_key_id")]
    pub secret_access_key: Option<String>,
    /// Region to sign for with --endpoint (default: the credentials file's, else us-east-1).
    #[arg(long)]
    pub region: Option<String>,
    /// Also start this keyward binary (target `keyward-baseline`, with its
    /// own fresh data directory and admin credentials) and measure it as the
    /// peer: two builds compared under the same client, workload and
    /// authentication, round by round.
    #[arg(long, value_name = "PATH")]
    pub spawn_baseline: Option<PathBuf>,
    /// Start moto's server (`moto_server` from a venv with `moto[server]`) as the peer.
    #[arg(long, value_name = "PATH", conflicts_with = "moto_endpoint")]
    pub spawn_moto: Option<PathBuf>,
    /// A running moto server to measure as the peer.
    #[arg(long, value_name = "URL")]
    pub moto_endpoint: Option<String>,
    /// Concurrency levels; one keep-alive connection per concurrent worker.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    pub concurrency: Vec<usize>,
    /// Operations to measure.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "generate-data-key,decrypt"
    )]
    pub operations: Vec<String>,
    /// Measured seconds per (operation, concurrency).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Warm-up seconds before each measurement (not counted).
    #[arg(long, default_value_t = 2.0)]
    pub warmup: f64,
    /// Client runtime worker threads (default: number of CPUs). The client
    /// shares the machine with the server, so more threads only steal from it.
    #[arg(long)]
    pub client_threads: Option<usize>,
    /// Also write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Measure keyward a second time, in the same run, on a key with a
    /// 10-statement key policy and 100 grants (target
    /// `keyward-10stmt-100grants`), to show what authorization costs.
    #[arg(long)]
    pub authz_comparison: bool,
    /// With --spawn-keyward: start a second keyward with the benchmark-only
    /// switch `--benchmark-only-disable-trail` (target `keyward-trail-off`)
    /// and measure both, to show what the durable audit trail costs.
    #[arg(long)]
    pub trail_comparison: bool,
    /// Measure every (operation, concurrency) this many times, the targets
    /// taking turns each round; the comparison then gives each round's
    /// ratio and their median. On a machine whose speed drifts (a shared
    /// VM) only ratios of neighbouring runs compare.
    #[arg(long, default_value_t = 1)]
    pub rounds: usize,
}

/// One operation the load loop can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    GenerateDataKey,
    Decrypt,
}

impl Operation {
    /// The operation name as AWS spells it (also its `X-Amz-Target` suffix).
    pub fn aws_name(self) -> &'static str {
        match self {
            Operation::GenerateDataKey => "GenerateDataKey",
            Operation::Decrypt => "Decrypt",
        }
    }

    /// The `X-Amz-Target` header naming the operation.
    pub fn x_amz_target(self) -> &'static str {
        match self {
            Operation::GenerateDataKey => "TrentService.GenerateDataKey",
            Operation::Decrypt => "TrentService.Decrypt",
        }
    }
}

/// How to reach a server under test.
#[derive(Debug)]
pub enum TargetSpec {
    SpawnKeyward(PathBuf),
    KeywardEndpoint {
        url: String,
        credentials: Credentials,
    },
    /// A second keyward build, measured as the peer `keyward-baseline`.
    SpawnBaseline(PathBuf),
    SpawnMoto(PathBuf),
    MotoEndpoint(String),
}

/// The validated run.
#[derive(Debug)]
pub struct Plan {
    pub targets: Vec<TargetSpec>,
    pub operations: Vec<Operation>,
    pub concurrency: Vec<usize>,
    pub duration: Duration,
    pub warmup: Duration,
    pub client_threads: usize,
    pub json: Option<PathBuf>,
    pub authz_comparison: bool,
    pub trail_comparison: bool,
    pub rounds: usize,
}

impl Cli {
    pub fn into_plan(self) -> anyhow::Result<Plan> {
        // Checked here rather than with clap's `requires`: clap waives a
        // requirement on `--spawn-keyward` when `--endpoint`, which conflicts
        // with it, is given, and the flag would then be silently ignored.
        if self.spawn_keyward.is_none() {
            if self.trail_comparison {
                bail!("--trail-comparison needs --spawn-keyward PATH (it starts a second server from that binary)");
            }
            if self.spawn_baseline.is_some() {
                bail!("--spawn-baseline needs --spawn-keyward PATH (the build to compare with the baseline)");
            }
        }
        let mut targets = Vec::new();
        if let Some(path) = self.spawn_keyward {
            targets.push(TargetSpec::SpawnKeyward(path));
        } else if let Some(url) = self.endpoint {
            let credentials = match (self.credentials, self.access_key_id, self.secret_access_key) {
                (Some(file), _, _) => Credentials::from_file(&file, self.region.as_deref())?,
                (None, Some(access_key_id), Some(secret_access_key)) => Credentials {
                    access_key_id,
                    secret_access_key,
                    region: self.region.unwrap_or_else(|| "us-east-1".into()),
                },
                _ => bail!("--endpoint needs --credentials FILE or --access-key-id and --secret-access-key"),
            };
            targets.push(TargetSpec::KeywardEndpoint { url, credentials });
        }
        if let Some(path) = self.spawn_baseline {
            targets.push(TargetSpec::SpawnBaseline(path));
        }
        if let Some(path) = self.spawn_moto {
            targets.push(TargetSpec::SpawnMoto(path));
        } else if let Some(url) = self.moto_endpoint {
            targets.push(TargetSpec::MotoEndpoint(url));
        }
        if targets.is_empty() {
            bail!("nothing to measure: give --spawn-keyward PATH or --endpoint URL (and optionally --spawn-moto PATH)");
        }
        let operations = self
            .operations
            .iter()
            .map(|name| match name.as_str() {
                "generate-data-key" | "GenerateDataKey" => Ok(Operation::GenerateDataKey),
                "decrypt" | "Decrypt" => Ok(Operation::Decrypt),
                other => bail!("unknown operation {other:?}: use generate-data-key or decrypt"),
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        if self.concurrency.contains(&0) {
            bail!("--concurrency values must be at least 1");
        }
        if self.rounds == 0 {
            bail!("--rounds must be at least 1");
        }
        let duration = seconds(self.duration, "--duration")?;
        if duration.is_zero() {
            bail!("--duration must be positive");
        }
        let client_threads = match self.client_threads {
            Some(0) => bail!("--client-threads must be at least 1"),
            Some(n) => n,
            None => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        };
        Ok(Plan {
            targets,
            operations,
            concurrency: self.concurrency,
            duration,
            warmup: seconds(self.warmup, "--warmup")?,
            client_threads,
            json: self.json,
            authz_comparison: self.authz_comparison,
            trail_comparison: self.trail_comparison,
            rounds: self.rounds,
        })
    }
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("{flag} must be a number of seconds ≥ 0"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::path::Path;

    use super::*;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        let cli =
            Cli::try_parse_from(std::iter::once("keyward-bench").chain(args.iter().copied()))?;
        cli.into_plan()
    }

    #[test]
    fn a_baseline_build_is_measured_as_the_peer_after_keyward() {
        let plan = plan(&[
            "--spawn-keyward",
            "new/keyward",
            "--spawn-baseline",
            "old/keyward",
        ])
        .unwrap();
        assert!(matches!(
            plan.targets.as_slice(),
            [TargetSpec::SpawnKeyward(new), TargetSpec::SpawnBaseline(old)]
                if new == Path::new("new/keyward") && old == Path::new("old/keyward")
        ));
    }

    #[test]
    fn a_trail_comparison_needs_a_keyward_binary_to_start_twice() {
        let error = plan(&[
            "--endpoint",
            "http://127.0.0.1:1",
            "--access-key-id",
            "a",
            "--secret-access-key",
            "b",
            "--trail-comparison",
        ])
        .unwrap_err();
        assert!(error.to_string().contains("--spawn-keyward"), "{error}");
    }

    #[test]
    fn a_baseline_needs_a_keyward_binary_to_compare_with() {
        let error = plan(&[
            "--endpoint",
            "http://127.0.0.1:1",
            "--access-key-id",
            "a",
            "--secret-access-key",
            "b",
            "--spawn-baseline",
            "old/keyward",
        ])
        .unwrap_err();
        assert!(error.to_string().contains("--spawn-keyward"), "{error}");
    }
}
