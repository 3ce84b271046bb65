//! Starts the real `keyward` binary for one test and tears it down again.
//!
//! Every `TestServer` owns a fresh temporary data directory and listens on
//! `127.0.0.1:0`; the port is learned from the single readiness line the server
//! prints on stdout, then `/health` is checked once. Nothing here sleeps to
//! synchronise: start-up, SIGTERM and SIGKILL all wait on a real event (a line,
//! a process exit) with a deadline.
//!
//! When a test panics while a server is alive, `Drop` prints the command line,
//! the data directory and everything the server wrote to stdout and stderr
//! (libtest shows it under the failing test) and keeps the data directory.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use aws_sdk_kms::config::retry::RetryConfig;
use aws_sdk_kms::config::timeout::TimeoutConfig;
use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};

use crate::raw_http::{self, RawResponse};

/// The account every test server is started with, so tests can spell ARNs out.
pub const ACCOUNT_ID: &str = "111122223333";
pub const REGION: &str = "us-east-1";

const READY_PREFIX: &str = "keyward listening on ";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound for one SDK call, so a hung server fails the test instead of hanging it.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Clone, Debug)]
pub struct ServerOptions {
    /// `--dev`: any access key is accepted and the dev clock endpoint exists.
    pub dev: bool,
    /// `--account-id`; `None` lets the server pick its default.
    pub account_id: Option<String>,
    /// `--region`; clients built by the harness sign for the same region.
    pub region: String,
    /// More `keyward serve` arguments.
    pub extra_args: Vec<String>,
}

impl ServerOptions {
    /// A production-mode server: every request must carry a valid SigV4 signature.
    pub fn signed() -> Self {
        ServerOptions {
            dev: false,
            account_id: Some(ACCOUNT_ID.to_owned()),
            region: REGION.to_owned(),
            extra_args: Vec::new(),
        }
    }

    /// A `--dev` server, needed for the dev clock.
    pub fn dev() -> Self {
        ServerOptions {
            dev: true,
            account_id: Some(ACCOUNT_ID.to_owned()),
            region: REGION.to_owned(),
            extra_args: Vec::new(),
        }
    }
}

/// Access key pair read from `DIR/admin-credentials`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
}

/// Output a server process has written so far, shared with the reader threads.
type CapturedOutput = Arc<Mutex<String>>;

struct RunningProcess {
    child: Child,
    endpoint: String,
    stdout_reader: JoinHandle<()>,
    stderr_reader: JoinHandle<()>,
}

pub struct TestServer {
    options: ServerOptions,
    /// `None` after the data directory was kept for a failing test, or when
    /// the test owns it (`start_in`).
    data_dir: Option<tempfile::TempDir>,
    data_dir_path: PathBuf,
    process: Option<RunningProcess>,
    command_line: String,
    /// Output of this and all earlier runs on the same data directory.
    stdout: CapturedOutput,
    stderr: CapturedOutput,
    n_starts: usize,
}

impl TestServer {
    /// Starts `keyward serve` on a fresh data directory and waits until it is ready.
    pub async fn start(options: ServerOptions) -> TestServer {
        let data_dir = tempfile::Builder::new()
            .prefix("keyward-it-")
            .tempdir()
            .unwrap_or_else(|err| panic!("cannot create a temp data dir: {err}"));
        let data_dir_path = data_dir.path().to_path_buf();
        let mut server = TestServer {
            options,
            data_dir: Some(data_dir),
            data_dir_path,
            process: None,
            command_line: String::new(),
            stdout: Arc::default(),
            stderr: Arc::default(),
            n_starts: 0,
        };
        server.spawn().await;
        server
    }

    /// Starts `keyward serve` on `data_dir`, which the test owns (it may
    /// not exist yet), and waits until it is ready.
    pub async fn start_in(options: ServerOptions, data_dir: &Path) -> TestServer {
        let mut server = TestServer {
            options,
            data_dir: None,
            data_dir_path: data_dir.to_path_buf(),
            process: None,
            command_line: String::new(),
            stdout: Arc::default(),
            stderr: Arc::default(),
            n_starts: 0,
        };
        server.spawn().await;
        server
    }

    /// The options the next start uses (`start_again`, `restart`).
    pub fn options_mut(&mut self) -> &mut ServerOptions {
        &mut self.options
    }

    /// `http://127.0.0.1:PORT` of the running process.
    pub fn endpoint(&self) -> &str {
        match &self.process {
            Some(process) => &process.endpoint,
            None => panic!("the keyward server is not running"),
        }
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir_path
    }

    /// Parses `DIR/admin-credentials` (AWS shared-credentials format, profile `default`).
    pub fn admin_credentials(&self) -> AdminCredentials {
        let path = self.data_dir_path.join("admin-credentials");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
        parse_shared_credentials(&text, "default").unwrap_or_else(|| {
            panic!(
                "no complete [default] profile in {}:\n{text}",
                path.display()
            )
        })
    }

    /// A KMS client signing with the admin credentials of this server.
    pub fn kms_client(&self) -> aws_sdk_kms::Client {
        let credentials = self.admin_credentials();
        self.kms_client_with(&credentials.access_key_id, &credentials.secret_access_key)
    }

    /// A KMS client signing with an arbitrary key pair (for authentication tests).
    pub fn kms_client_with(
        &self,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> aws_sdk_kms::Client {
        aws_sdk_kms::Client::from_conf(self.kms_config(access_key_id, secret_access_key).build())
    }

    /// The client configuration every test client starts from, for tests that
    /// change one thing (region, clock) before building.
    pub fn kms_config(
        &self,
        access_key_id: &str,
        secret_access_key: &str,
    ) -> aws_sdk_kms::config::Builder {
        let credentials =
            Credentials::new(access_key_id, secret_access_key, None, None, "keyward-it");
        aws_sdk_kms::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(self.options.region.clone()))
            .endpoint_url(self.endpoint())
            .credentials_provider(credentials)
            // A retried request would hide the first answer; tests want to see it.
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
    }

    /// Sends one raw HTTP request to the server (no SigV4).
    pub async fn raw_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        let endpoint = self.endpoint().to_owned();
        match raw_http::request(&endpoint, method, path, headers, body).await {
            Ok(response) => response,
            Err(err) => panic!("{method} {path} on {endpoint} failed: {err}"),
        }
    }

    /// `POST /keyward/dev/advance-clock`: moves the server clock forward and runs
    /// the background work that became due. Returns the new server time (epoch seconds).
    pub async fn advance_clock(&self, seconds: u64) -> f64 {
        let body = format!("{{\"Seconds\": {seconds}}}");
        let response = self
            .raw_request(
                "POST",
                "/keyward/dev/advance-clock",
                &[("Content-Type", "application/json")],
                body.as_bytes(),
            )
            .await;
        assert_eq!(
            response.status,
            200,
            "advance-clock answered {}: {}",
            response.status,
            response.body_text()
        );
        let json: serde_json::Value =
            serde_json::from_slice(&response.body).unwrap_or_else(|err| {
                panic!(
                    "advance-clock body is not JSON ({err}): {}",
                    response.body_text()
                )
            });
        json.get("Now")
            .and_then(serde_json::Value::as_f64)
            .unwrap_or_else(|| panic!("advance-clock body has no numeric Now: {json}"))
    }

    /// The server's current time (epoch seconds), via the dev clock with a zero step.
    pub async fn server_now(&self) -> f64 {
        self.advance_clock(0).await
    }

    /// SIGTERM, then wait for a graceful exit. Returns the exit status.
    pub async fn stop(&mut self) -> ExitStatus {
        let Some(process) = self.process.take() else {
            panic!("stop: the keyward server is not running");
        };
        let pid = process.child.id().to_string();
        let kill_status = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap_or_else(|err| panic!("cannot run `kill -TERM {pid}`: {err}"));
        assert!(
            kill_status.success(),
            "`kill -TERM {pid}` failed: {kill_status}"
        );
        self.wait_for_exit(process).await
    }

    /// SIGKILL: the process gets no chance to clean up.
    pub async fn kill9(&mut self) -> ExitStatus {
        let Some(mut process) = self.process.take() else {
            panic!("kill9: the keyward server is not running");
        };
        // `Child::kill` sends SIGKILL on Unix.
        if let Err(err) = process.child.kill() {
            panic!("cannot SIGKILL the keyward server: {err}");
        }
        self.wait_for_exit(process).await
    }

    /// Stops the server gracefully (asserting exit code 0) and starts it again on
    /// the same data directory. The port changes: build new clients afterwards.
    pub async fn restart(&mut self) {
        let status = self.stop().await;
        assert!(
            status.success(),
            "keyward did not exit cleanly on SIGTERM: {status}"
        );
        self.spawn().await;
    }

    /// Starts the server again on the same data directory after `stop` or `kill9`.
    pub async fn start_again(&mut self) {
        assert!(
            self.process.is_none(),
            "start_again: the keyward server is still running"
        );
        self.spawn().await;
    }

    /// Everything the server printed so far, for assertions on logs.
    pub fn captured_output(&self) -> (String, String) {
        (lock_text(&self.stdout), lock_text(&self.stderr))
    }

    /// Runs a second `keyward serve` with the same arguments and data directory
    /// while this one is running, and waits for it to exit. Fails the test if it
    /// is still running after the start-up timeout (it should refuse to start).
    pub async fn run_second_instance(&self) -> std::process::Output {
        let binary = env!("CARGO_BIN_EXE_keyward");
        let child = Command::new(binary)
            .args(self.serve_args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot spawn a second keyward: {err}"));
        let pid = child.id();
        let (exit_tx, exit_rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = exit_tx.send(child.wait_with_output());
        });
        match tokio::time::timeout(START_TIMEOUT, exit_rx).await {
            Ok(Ok(Ok(output))) => output,
            Ok(Ok(Err(err))) => panic!("waiting for the second keyward failed: {err}"),
            Ok(Err(_)) => panic!("the waiter thread for the second keyward died"),
            Err(_) => {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                panic!("a second keyward on the same data directory kept running");
            }
        }
    }

    fn serve_args(&self) -> Vec<String> {
        let mut args: Vec<String> = vec![
            "serve".into(),
            "--listen".into(),
            "127.0.0.1:0".into(),
            // Tests run side by side: none takes the default metrics port.
            "--metrics-listen".into(),
            "off".into(),
            "--data-dir".into(),
            self.data_dir_path.display().to_string(),
            "--region".into(),
            self.options.region.clone(),
        ];
        if self.options.dev {
            args.push("--dev".into());
        }
        if let Some(account_id) = &self.options.account_id {
            args.push("--account-id".into());
            args.push(account_id.clone());
        }
        args.extend(self.options.extra_args.iter().cloned());
        args
    }

    async fn spawn(&mut self) {
        self.n_starts += 1;
        let binary = env!("CARGO_BIN_EXE_keyward");
        let args = self.serve_args();
        self.command_line = format!("{binary} {}", args.join(" "));
        append(
            &self.stdout,
            &format!("--- start #{}: {}\n", self.n_starts, self.command_line),
        );
        append(&self.stderr, &format!("--- start #{}\n", self.n_starts));

        let mut child = Command::new(binary)
            .args(&args)
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot spawn {}: {err}", self.command_line));

        let (ready_tx, ready_rx) = tokio::sync::oneshot::channel::<String>();
        let stdout_reader = match child.stdout.take() {
            Some(pipe) => spawn_line_reader(pipe, Arc::clone(&self.stdout), Some(ready_tx)),
            None => panic!("no stdout pipe"),
        };
        let stderr_reader = match child.stderr.take() {
            Some(pipe) => spawn_line_reader(pipe, Arc::clone(&self.stderr), None),
            None => panic!("no stderr pipe"),
        };

        let ready = tokio::time::timeout(START_TIMEOUT, ready_rx).await;
        let endpoint = match ready {
            Ok(Ok(endpoint)) => endpoint,
            outcome => {
                // Either the process closed stdout (exited) or it was too slow.
                let _ = child.kill();
                let status = child.wait();
                let _ = stdout_reader.join();
                let _ = stderr_reader.join();
                let why = if outcome.is_err() {
                    "timed out"
                } else {
                    "stdout closed"
                };
                panic!(
                    "keyward never printed `{READY_PREFIX}...` ({why}; exit: {status:?})\n{}",
                    self.report()
                );
            }
        };
        self.process = Some(RunningProcess {
            child,
            endpoint,
            stdout_reader,
            stderr_reader,
        });

        let health = self.raw_request("GET", "/health", &[], b"").await;
        assert_eq!(
            health.status,
            200,
            "GET /health right after the readiness line: {}",
            health.body_text()
        );
    }

    async fn wait_for_exit(&mut self, process: RunningProcess) -> ExitStatus {
        let RunningProcess {
            mut child,
            stdout_reader,
            stderr_reader,
            ..
        } = process;
        let pid = child.id();
        let (exit_tx, exit_rx) = tokio::sync::oneshot::channel();
        std::thread::spawn(move || {
            let _ = exit_tx.send(child.wait());
        });
        let status = match tokio::time::timeout(STOP_TIMEOUT, exit_rx).await {
            Ok(Ok(Ok(status))) => status,
            Ok(Ok(Err(err))) => panic!("waiting for keyward (pid {pid}) failed: {err}"),
            Ok(Err(_)) => panic!("the waiter thread for keyward (pid {pid}) died"),
            Err(_) => {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .status();
                panic!(
                    "keyward (pid {pid}) did not exit within {STOP_TIMEOUT:?}\n{}",
                    self.report()
                );
            }
        };
        // The pipes are closed now, so the readers finish with the complete output.
        let _ = stdout_reader.join();
        let _ = stderr_reader.join();
        append(&self.stdout, &format!("--- exited: {status}\n"));
        status
    }

    fn report(&self) -> String {
        format!(
            "=== keyward command ===\n{}\n=== data dir ===\n{}\n=== stdout ===\n{}\n=== stderr ===\n{}",
            self.command_line,
            self.data_dir_path.display(),
            lock_text(&self.stdout),
            lock_text(&self.stderr),
        )
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut process) = self.process.take() {
            let _ = process.child.kill();
            let _ = process.child.wait();
            let _ = process.stdout_reader.join();
            let _ = process.stderr_reader.join();
        }
        if std::thread::panicking() {
            // Keep the data directory for a post-mortem.
            if let Some(data_dir) = self.data_dir.take() {
                let _ = data_dir.keep();
            }
            eprintln!("{}", self.report());
        }
    }
}

/// Reads `pipe` line by line into `sink`; the first readiness line's URL goes to `ready`.
fn spawn_line_reader(
    pipe: impl Read + Send + 'static,
    sink: CapturedOutput,
    mut ready: Option<tokio::sync::oneshot::Sender<String>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = String::new();
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            append(&sink, &line);
            if let Some(url) = line.trim_end().strip_prefix(READY_PREFIX) {
                if let Some(ready) = ready.take() {
                    let _ = ready.send(url.trim().to_owned());
                }
            }
        }
    })
}

fn append(sink: &CapturedOutput, text: &str) {
    match sink.lock() {
        Ok(mut guard) => guard.push_str(text),
        Err(poisoned) => poisoned.into_inner().push_str(text),
    }
}

fn lock_text(sink: &CapturedOutput) -> String {
    match sink.lock() {
        Ok(guard) => guard.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Minimal reader for the AWS shared credentials file format.
pub fn parse_shared_credentials(text: &str, profile: &str) -> Option<AdminCredentials> {
    let mut in_profile = false;
    let mut access_key_id = None;
    let mut secret_access_key = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            in_profile = section.trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((name, value)) = line.split_once('=') {
            match name.trim() {
                "aws_access_key_id" => access_key_id = Some(value.trim().to_owned()),
                "aws_secret_access_key" => secret_access_key = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    Some(AdminCredentials {
        access_key_id: access_key_id?,
        secret_access_key: secret_access_key?,
    })
}
