//! Command-line arguments and the TOML config file, resolved into settings.
//! Precedence: command line, then environment, then config file, then defaults.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde::Deserialize;

/// The documented default address: loopback only, port 7478.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7478";
/// Where `/metrics` is served unless `--metrics-listen` says otherwise.
pub const DEFAULT_METRICS_LISTEN: &str = "127.0.0.1:7479";
pub const DEFAULT_DATA_DIR: &str = "./keyward-data";
/// Size of an audit trail segment file, in MiB. A data directory holds the
/// active segment and a spare written out ahead of time, so it takes twice
/// this at once; the trail's fast appends need the file written out first
/// (keyward-trail `appender.rs`).
pub const DEFAULT_TRAIL_SEGMENT_MIB: u64 = 64;
/// The same for `--dev`, whose data directories are many and short-lived.
pub const DEV_TRAIL_SEGMENT_MIB: u64 = 8;
/// The smallest segment: one event can be a few MiB (a 1 MiB request whose
/// value is also echoed in the error message), and it must fit in a segment.
pub const MIN_TRAIL_SEGMENT_MIB: u64 = 8;
/// The largest segment accepted.
pub const MAX_TRAIL_SEGMENT_MIB: u64 = 4096;

#[derive(Parser)]
#[command(
    name = "keyward",
    version,
    about = "A self-hosted key management service with AWS KMS semantics"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Encrypt a file or stdin into an AWS Encryption SDK message under one
    /// or more KMS keys.
    Encrypt(EncryptArgs),
    /// Decrypt an AWS Encryption SDK message. To a file, plaintext goes to a
    /// temporary file in the destination directory that is renamed onto
    /// OUTPUT only once the whole message (signature included) has verified.
    /// Signed messages (the default suite) are not decrypted to stdout unless
    /// --allow-unverified-stdout is given.
    Decrypt(DecryptArgs),
    /// Operator commands against a running server, signed as the default
    /// account's root user (`keyward admin create-account`).
    Admin(AdminArgs),
    /// Inspect the audit trail of a data directory (the server may be stopped).
    #[command(subcommand)]
    Trail(TrailCommand),
    /// Print a shell completion script for keyward, e.g.
    /// `keyward completions bash > ~/.local/share/bash-completion/completions/keyward`.
    Completions(CompletionsArgs),
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `keyward trail ...`: verification, export and pruning of the audit trail.
#[derive(Subcommand, Debug)]
pub enum TrailCommand {
    /// Check the hash chain and the signed digests. Exits non-zero naming the
    /// first bad position when a record was modified, deleted, reordered or
    /// inserted.
    Verify(TrailVerifyArgs),
    /// Write the trail as CloudTrail log files (gzipped {"Records":[...]})
    /// and digest files, in CloudTrail's AWSLogs/ layout, after verifying it.
    Export(TrailExportArgs),
    /// Delete events older than the retention period (cut at a signed
    /// digest, so the rest stays verifiable). For a stopped server; a running
    /// one prunes by itself (--trail-retention-days).
    Prune(TrailPruneArgs),
    /// Print the public key digests are signed with (PEM), for auditors to
    /// keep and pass to `verify --public-key`.
    PublicKey(TrailDataDirArgs),
}

#[derive(Args, Debug)]
pub struct TrailDataDirArgs {
    /// Data directory of the server (default ./keyward-data).
    #[arg(long, env = "KEYWARD_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
}

#[derive(Args, Debug)]
pub struct TrailVerifyArgs {
    #[command(flatten)]
    pub dir: TrailDataDirArgs,
    /// Trusted public key (PEM or hex) kept outside the data directory;
    /// default: the data directory's trail-public-key.pem.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TrailExportArgs {
    #[command(flatten)]
    pub dir: TrailDataDirArgs,
    /// Directory to write AWSLogs/... into.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Trusted public key (PEM or hex); default: the data directory's.
    #[arg(long, value_name = "FILE")]
    pub public_key: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct TrailPruneArgs {
    #[command(flatten)]
    pub dir: TrailDataDirArgs,
    /// Keep events of the last N days (0: keep only what no digest covers yet).
    #[arg(long, value_name = "DAYS")]
    pub retention_days: u64,
}

/// `keyward admin ...`.
#[derive(Args, Debug)]
pub struct AdminArgs {
    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Create another account with its own root access key, and write that
    /// key as an AWS CLI credentials file (profile `default`, mode 0600).
    CreateAccount(CreateAccountArgs),
}

#[derive(Args, Debug)]
pub struct CreateAccountArgs {
    /// The new account's 12-digit id (default: random).
    #[arg(long)]
    pub account_id: Option<String>,
    /// The running server, http:// or https://.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:7478")]
    pub endpoint_url: String,
    /// The server's data directory, to find `admin-credentials` in.
    #[arg(long, env = "KEYWARD_DATA_DIR", default_value = DEFAULT_DATA_DIR)]
    pub data_dir: PathBuf,
    /// Credentials file of the default account's root user (default
    /// `<data-dir>/admin-credentials`).
    #[arg(long, value_name = "PATH")]
    pub credentials_file: Option<PathBuf>,
    /// Profile in the credentials file.
    #[arg(long, default_value = "default")]
    pub profile: String,
    /// Region written to the new credentials file (default: the admin profile's).
    #[arg(long)]
    pub region: Option<String>,
    /// Where to write the new account's credentials (default
    /// `./account-<ID>-credentials`).
    #[arg(short, long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// PEM certificates to trust for an https:// endpoint.
    #[arg(long, env = "AWS_CA_BUNDLE", value_name = "PATH")]
    pub ca_bundle: Option<PathBuf>,
}

/// Where and as whom to call KMS; unset options are found as the AWS CLI
/// finds them (AWS_* environment variables including AWS_ENDPOINT_URL and
/// AWS_ENDPOINT_URL_KMS, shared config and credentials files).
#[derive(Args, Debug, Clone)]
pub struct KmsClientArgs {
    /// KMS key: key id, key ARN, alias name or alias ARN. Repeat for several
    /// keys (on encrypt the first generates the data key, every key wraps it;
    /// on decrypt any of them may open the message).
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// KMS endpoint, e.g. http://127.0.0.1:7478 for a local keyward.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Profile of the shared config and credentials files.
    #[arg(long, value_name = "PROFILE")]
    pub profile: Option<String>,
    /// Region to sign requests for.
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
    /// Print nothing but errors: no progress bar (drawn only on a terminal
    /// anyway) and no summary lines.
    #[arg(short, long)]
    pub quiet: bool,
}

/// Algorithm suites `keyward encrypt` writes (the committing ones).
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SuiteArg {
    /// 0x0578: AES-256-GCM, HKDF-SHA512, key commitment, ECDSA P-384 (the SDK default).
    #[default]
    #[value(name = "aes256-hkdf-sha512-commit-ecdsa-p384", alias = "0578")]
    CommitEcdsaP384,
    /// 0x0478: AES-256-GCM, HKDF-SHA512, key commitment, no signature (faster).
    #[value(name = "aes256-hkdf-sha512-commit", alias = "0478")]
    Commit,
}

#[derive(Args, Debug)]
pub struct EncryptArgs {
    #[command(flatten)]
    pub client: KmsClientArgs,
    /// Encryption context pair bound to the message; repeat for several.
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub context: Vec<(String, String)>,
    /// Plaintext bytes per frame (1 to 2147483647).
    #[arg(long, value_name = "BYTES", default_value_t = 4096)]
    pub frame_length: u32,
    /// Algorithm suite.
    #[arg(long, value_enum, default_value_t)]
    pub suite: SuiteArg,
    /// Threads that seal frames (default: one per CPU, at most 8; 1 seals
    /// on the thread that reads). The message is the same whatever the count.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Reuse a data key for several files (a directory) for at most this
    /// many seconds, instead of one GenerateDataKey call per file. Files with
    /// the same context and suite share it; stdin is never cached.
    #[arg(long, value_name = "SECONDS", value_parser = parse_positive_seconds)]
    pub cache_max_age: Option<f64>,
    /// With --cache-max-age, at most N messages per data key.
    #[arg(long, value_name = "N", requires = "cache_max_age")]
    pub cache_max_messages: Option<u64>,
    /// With --cache-max-age, at most BYTES of plaintext per data key.
    #[arg(long, value_name = "BYTES", requires = "cache_max_age")]
    pub cache_max_bytes: Option<u64>,
    /// Plaintext file, directory (every file under it, recursively, into
    /// the directory OUTPUT as NAME.encrypted), or - for stdin.
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// Message file, or - for stdout. A file appears only once complete.
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: PathBuf,
    /// Replace an OUTPUT file that already exists (never the input itself).
    #[arg(long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct DecryptArgs {
    #[command(flatten)]
    pub client: KmsClientArgs,
    /// Expected encryption context: the message's context must contain every
    /// given pair with this value. Repeat for several.
    #[arg(long = "context", value_name = "KEY=VALUE", value_parser = parse_pair)]
    pub context: Vec<(String, String)>,
    /// Discovery mode: also try every KMS key named in the message (the
    /// message chooses the key; limit it with --discovery-account).
    #[arg(long)]
    pub discovery: bool,
    /// With --discovery, only keys of this account; repeat for several.
    #[arg(long, value_name = "ACCOUNT", requires = "discovery")]
    pub discovery_account: Vec<String>,
    /// Refuse messages with more encrypted data keys than this.
    #[arg(long, value_name = "N")]
    pub max_encrypted_data_keys: Option<usize>,
    /// Threads that open frames (default: one per CPU, at most 8). Frames
    /// are still verified before they are written, and written in order.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// With OUTPUT -, stream a signed message to stdout before its signature
    /// is verified. If decrypt then fails, everything written must be
    /// discarded. Without it, signed messages to stdout are refused.
    #[arg(long)]
    pub allow_unverified_stdout: bool,
    /// Message file, directory (every file under it, recursively, into the
    /// directory OUTPUT without the .encrypted suffix, or with .decrypted
    /// added), or - for stdin.
    #[arg(value_name = "INPUT")]
    pub input: PathBuf,
    /// Plaintext file, or - for stdout.
    #[arg(short, long, value_name = "OUTPUT")]
    pub output: PathBuf,
    /// Replace an OUTPUT file that already exists (never the input itself).
    #[arg(long)]
    pub force: bool,
}

/// A positive, finite number of seconds.
fn parse_positive_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds < 1e9 => Ok(seconds),
        _ => Err(format!(
            "expected a positive number of seconds, not {text:?}"
        )),
    }
}

/// `KEY=VALUE` with a non-empty key.
fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, not {text:?}")),
    }
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (default 127.0.0.1:7478).
    #[arg(long, env = "KEYWARD_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Address of the Prometheus `/metrics` listener, or `off` (default
    /// 127.0.0.1:7479; when that port is taken, keyward starts without it).
    /// The API listener does not serve metrics: they name keys and accounts.
    /// Off loopback it needs TLS, as the API listener does.
    #[arg(long, env = "KEYWARD_METRICS_LISTEN", value_name = "ADDR|off")]
    pub metrics_listen: Option<String>,
    /// Data directory (default ./keyward-data).
    #[arg(long, env = "KEYWARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// TOML config file with any of: listen, metrics_listen, data_dir, region, account_id, dev,
    /// background_interval_seconds, log_format, tls_cert, tls_key,
    /// request_timeout_seconds, trail_retention_days, trail_digest_interval_seconds,
    /// trail_segment_mib.
    #[arg(long, env = "KEYWARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Region of this endpoint, fixed at first start (default us-east-1).
    #[arg(long, env = "KEYWARD_REGION")]
    pub region: Option<String>,
    /// Id of the default account, fixed at first start (default: random).
    #[arg(long, env = "KEYWARD_ACCOUNT_ID")]
    pub account_id: Option<String>,
    /// Drop-in mode for test suites: any access key is accepted and unknown
    /// ones act as the default account's administrator. Loopback only.
    #[arg(long, env = "KEYWARD_DEV")]
    pub dev: bool,
    /// Seconds between runs of due work (deletions, rotations). Default 60.
    #[arg(long, env = "KEYWARD_BACKGROUND_INTERVAL_SECONDS")]
    pub background_interval_seconds: Option<u64>,
    /// `text` (default) or `json` log lines on stderr.
    #[arg(long, env = "KEYWARD_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Seconds a client has to send a request's headers (also the idle time
    /// of a keep-alive connection) and, separately, its body. Default 30.
    #[arg(long, env = "KEYWARD_REQUEST_TIMEOUT_SECONDS")]
    pub request_timeout_seconds: Option<u64>,
    /// Audit events older than this many days are pruned (at signed digest
    /// boundaries). Default: keep every event.
    #[arg(long, env = "KEYWARD_TRAIL_RETENTION_DAYS")]
    pub trail_retention_days: Option<u64>,
    /// Seconds between signed digests of the audit trail (one is also signed
    /// at shutdown). Default 3600.
    #[arg(long, env = "KEYWARD_TRAIL_DIGEST_INTERVAL_SECONDS")]
    pub trail_digest_interval_seconds: Option<u64>,
    /// MiB per audit trail segment file (8 to 4096). The active segment and
    /// a spare are written out in advance, so the trail takes twice this at
    /// once. Default 64, or 8 with --dev. A data directory may change it: the
    /// next segment has the new size.
    #[arg(long, env = "KEYWARD_TRAIL_SEGMENT_MIB", value_name = "MIB")]
    pub trail_segment_mib: Option<u64>,
    /// BENCHMARK ONLY: run without the audit trail, so that its cost can be
    /// measured. Calls are then not recorded at all; never use it in production.
    #[arg(long, hide = true, env = "KEYWARD_BENCHMARK_ONLY_DISABLE_TRAIL")]
    pub benchmark_only_disable_trail: bool,
    /// PEM certificate chain: serve HTTPS (required off loopback).
    #[arg(long, env = "KEYWARD_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "KEYWARD_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    listen: Option<SocketAddr>,
    metrics_listen: Option<String>,
    data_dir: Option<PathBuf>,
    region: Option<String>,
    account_id: Option<String>,
    dev: Option<bool>,
    background_interval_seconds: Option<u64>,
    log_format: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    request_timeout_seconds: Option<u64>,
    trail_retention_days: Option<u64>,
    trail_digest_interval_seconds: Option<u64>,
    trail_segment_mib: Option<u64>,
}

/// Where `/metrics` is served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricsListen {
    Off,
    /// The default address: a server that finds it taken starts without
    /// metrics (another keyward on the host has it), with a warning.
    Default(SocketAddr),
    /// An address the operator chose: failing to bind it fails the start.
    Explicit(SocketAddr),
}

impl MetricsListen {
    pub fn address(self) -> Option<SocketAddr> {
        match self {
            MetricsListen::Off => None,
            MetricsListen::Default(address) | MetricsListen::Explicit(address) => Some(address),
        }
    }
}

/// Fully resolved settings for `keyward serve`.
#[derive(Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    pub metrics_listen: MetricsListen,
    pub data_dir: PathBuf,
    /// `None`: keep what the data directory has (or the default at first start).
    pub region: Option<String>,
    pub account_id: Option<String>,
    pub dev: bool,
    pub background_interval_seconds: u64,
    pub json_logs: bool,
    /// Certificate and key PEM files; `None` serves plain HTTP.
    pub tls: Option<(PathBuf, PathBuf)>,
    pub request_timeout: std::time::Duration,
    /// `None`: keep every audit event.
    pub trail_retention: Option<std::time::Duration>,
    pub trail_digest_interval: std::time::Duration,
    /// Bytes per trail segment file.
    pub trail_segment_bytes: u64,
    /// The benchmark-only switch; the product always records.
    pub trail_disabled: bool,
}

impl ServeArgs {
    pub fn resolve(self) -> anyhow::Result<Settings> {
        let file = match &self.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading config file {}", path.display()))?;
                toml::from_str::<ConfigFile>(&text)
                    .with_context(|| format!("parsing config file {}", path.display()))?
            }
            None => ConfigFile::default(),
        };
        let listen = match self.listen.or(file.listen) {
            Some(addr) => addr,
            None => DEFAULT_LISTEN.parse().context("default listen address")?,
        };
        let metrics_listen = match self.metrics_listen.or(file.metrics_listen) {
            None => MetricsListen::Default(
                DEFAULT_METRICS_LISTEN
                    .parse()
                    .context("default metrics address")?,
            ),
            Some(text) if text == "off" => MetricsListen::Off,
            Some(text) => MetricsListen::Explicit(text.parse().with_context(|| {
                format!("--metrics-listen must be an address such as 127.0.0.1:7479, or off; not {text:?}")
            })?),
        };
        let log_format = self
            .log_format
            .or(file.log_format)
            .unwrap_or_else(|| "text".into());
        if log_format != "text" && log_format != "json" {
            anyhow::bail!("--log-format must be text or json, not {log_format:?}");
        }
        let dev = self.dev || file.dev.unwrap_or(false);
        let trail_segment_mib =
            self.trail_segment_mib
                .or(file.trail_segment_mib)
                .unwrap_or(if dev {
                    DEV_TRAIL_SEGMENT_MIB
                } else {
                    DEFAULT_TRAIL_SEGMENT_MIB
                });
        if !(MIN_TRAIL_SEGMENT_MIB..=MAX_TRAIL_SEGMENT_MIB).contains(&trail_segment_mib) {
            anyhow::bail!(
                "--trail-segment-mib must be {MIN_TRAIL_SEGMENT_MIB} to {MAX_TRAIL_SEGMENT_MIB}, not {trail_segment_mib}"
            );
        }
        if let Some(account) = self.account_id.as_ref().or(file.account_id.as_ref()) {
            if account.len() != 12 || !account.bytes().all(|b| b.is_ascii_digit()) {
                anyhow::bail!("--account-id must be 12 digits, not {account:?}");
            }
        }
        Ok(Settings {
            listen,
            metrics_listen,
            data_dir: self
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
            region: self.region.or(file.region),
            account_id: self.account_id.or(file.account_id),
            dev,
            background_interval_seconds: self
                .background_interval_seconds
                .or(file.background_interval_seconds)
                .unwrap_or(60)
                .max(1),
            json_logs: log_format == "json",
            request_timeout: std::time::Duration::from_secs(
                self.request_timeout_seconds
                    .or(file.request_timeout_seconds)
                    .unwrap_or(30)
                    .max(1),
            ),
            trail_retention: self
                .trail_retention_days
                .or(file.trail_retention_days)
                .map(|days| std::time::Duration::from_secs(days.saturating_mul(86_400))),
            trail_digest_interval: std::time::Duration::from_secs(
                self.trail_digest_interval_seconds
                    .or(file.trail_digest_interval_seconds)
                    .unwrap_or(3600)
                    .max(1),
            ),
            trail_segment_bytes: trail_segment_mib * 1024 * 1024,
            trail_disabled: self.benchmark_only_disable_trail,
            tls: match (
                self.tls_cert.or(file.tls_cert),
                self.tls_key.or(file.tls_key),
            ) {
                (Some(cert), Some(key)) => Some((cert, key)),
                (None, None) => None,
                _ => anyhow::bail!("TLS needs both a certificate (tls_cert) and a key (tls_key)"),
            },
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ServeArgs {
        let mut argv = vec!["keyward", "serve"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Serve(args) => args,
            _ => panic!("not serve"),
        }
    }

    #[test]
    fn defaults_are_loopback_and_a_local_data_dir() {
        let settings = parse(&[]).resolve().unwrap();
        assert_eq!(settings.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(settings.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(
            (settings.dev, settings.region, settings.tls),
            (false, None, None)
        );
        assert_eq!(
            settings.metrics_listen,
            MetricsListen::Default(DEFAULT_METRICS_LISTEN.parse().unwrap())
        );
    }

    #[test]
    fn metrics_have_their_own_listener_or_none() {
        let settings = parse(&["--metrics-listen", "127.0.0.1:0"])
            .resolve()
            .unwrap();
        assert_eq!(
            settings.metrics_listen,
            MetricsListen::Explicit("127.0.0.1:0".parse().unwrap())
        );
        let settings = parse(&["--metrics-listen", "off"]).resolve().unwrap();
        assert_eq!(settings.metrics_listen, MetricsListen::Off);
        let error = parse(&["--metrics-listen", "nowhere"])
            .resolve()
            .unwrap_err();
        assert!(error.to_string().contains("--metrics-listen"), "{error}");
    }

    #[test]
    fn command_line_wins_over_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("keyward.toml");
        std::fs::write(
            &config,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/var/lib/keyward\"\nregion = \"eu-west-1\"\naccount_id = \"111122223333\"\n",
        )
        .unwrap();
        let settings = parse(&[
            "--config",
            config.to_str().unwrap(),
            "--listen",
            "127.0.0.1:9001",
        ])
        .resolve()
        .unwrap();
        assert_eq!(settings.listen.to_string(), "127.0.0.1:9001");
        assert_eq!(settings.data_dir, PathBuf::from("/var/lib/keyward"));
        assert_eq!(settings.region.as_deref(), Some("eu-west-1"));
        assert_eq!(settings.account_id.as_deref(), Some("111122223333"));
    }

    #[test]
    fn bad_settings_are_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("bad.toml");
        std::fs::write(&config, "listne = \"127.0.0.1:1\"\n").unwrap();
        let error = parse(&["--config", config.to_str().unwrap()])
            .resolve()
            .unwrap_err();
        assert!(format!("{error:#}").contains("unknown field"), "{error:#}");
        let error = parse(&["--account-id", "12"]).resolve().unwrap_err();
        assert!(error.to_string().contains("12 digits"));
        assert!(Cli::try_parse_from(["keyward", "serve", "--tls-cert", "c.pem"]).is_err());
    }

    /// `contrib/keyward.toml` has every config file key, and each is one
    /// keyward reads; `contrib/keyward.service` starts `keyward serve` with it.
    #[test]
    fn the_example_config_file_and_systemd_unit_are_valid() {
        let contrib = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contrib");
        let config = contrib.join("keyward.toml");
        let settings = parse(&["--config", config.to_str().unwrap()])
            .resolve()
            .unwrap();
        assert_eq!(settings.data_dir, PathBuf::from("/var/lib/keyward"));
        assert!(settings.tls.is_some() && !settings.dev);
        assert_eq!(settings.trail_segment_bytes, 64 << 20);
        // Every key of the config file is in the example, set or commented out.
        let text = std::fs::read_to_string(&config).unwrap();
        for key in [
            "listen",
            "metrics_listen",
            "data_dir",
            "region",
            "account_id",
            "dev",
            "background_interval_seconds",
            "log_format",
            "tls_cert",
            "tls_key",
            "request_timeout_seconds",
            "trail_retention_days",
            "trail_digest_interval_seconds",
            "trail_segment_mib",
        ] {
            assert!(
                text.contains(&format!("{key} = ")),
                "{key} is not in the example"
            );
        }
        let unit = std::fs::read_to_string(contrib.join("keyward.service")).unwrap();
        let exec_start = unit
            .lines()
            .find_map(|line| line.strip_prefix("ExecStart="))
            .unwrap();
        let argv: Vec<&str> = exec_start.split_whitespace().collect();
        assert!(argv[0].ends_with("/keyward"), "{exec_start}");
        let Command::Serve(args) = Cli::try_parse_from(argv).unwrap().command else {
            panic!("ExecStart does not run keyward serve")
        };
        assert_eq!(
            args.config,
            Some(PathBuf::from("/etc/keyward/keyward.toml"))
        );
    }

    #[test]
    fn the_trail_segment_size_is_small_for_dev_and_bounded() {
        let mib = |args: &[&str]| parse(args).resolve().map(|s| s.trail_segment_bytes >> 20);
        assert_eq!(mib(&[]).unwrap(), 64);
        assert_eq!(mib(&["--dev"]).unwrap(), 8);
        assert_eq!(mib(&["--dev", "--trail-segment-mib", "32"]).unwrap(), 32);
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("keyward.toml");
        std::fs::write(&config, "trail_segment_mib = 16\n").unwrap();
        assert_eq!(mib(&["--config", config.to_str().unwrap()]).unwrap(), 16);
        for refused in ["7", "4097"] {
            let error = mib(&["--trail-segment-mib", refused]).unwrap_err();
            assert!(error.to_string().contains("8 to 4096"), "{error}");
        }
    }

    #[test]
    fn envelope_commands_parse_repeated_keys_and_context() {
        let cli = Cli::try_parse_from([
            "keyward",
            "encrypt",
            "--key",
            "alias/a",
            "--key",
            "k2",
            "--context",
            "a=b=c",
            "--suite",
            "0478",
            "in.txt",
            "-o",
            "out.bin",
        ])
        .unwrap();
        let Command::Encrypt(args) = cli.command else {
            panic!("not encrypt")
        };
        assert_eq!(args.client.keys, ["alias/a", "k2"]);
        assert_eq!(args.context, [("a".to_owned(), "b=c".to_owned())]);
        assert_eq!(args.suite, SuiteArg::Commit);
        assert_eq!(args.frame_length, 4096);
        assert!(Cli::try_parse_from([
            "keyward",
            "decrypt",
            "--discovery-account",
            "1",
            "i",
            "-o",
            "o"
        ])
        .is_err());
        assert!(Cli::try_parse_from([
            "keyward",
            "decrypt",
            "--key",
            "k",
            "--context",
            "=v",
            "in",
            "-o",
            "out"
        ])
        .is_err());
    }
}
