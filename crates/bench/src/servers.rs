//! Starting the servers under test: keyward from a binary with a throw-away
//! data directory, and moto's server from a venv. Each is killed when its
//! handle drops, so an error anywhere in the run leaves no process behind.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};

use crate::target::{Credentials, Target};

/// The line `keyward serve` prints once it accepts connections.
const KEYWARD_READY: &str = "keyward listening on http://";
/// moto's server imports every service's backend on start, which takes
/// several seconds on a small machine.
const MOTO_START_TIMEOUT: Duration = Duration::from_secs(60);

/// A server started here, with the address and credentials to reach it.
pub struct Spawned {
    pub target: Target,
    /// Kept open so a later write by the server to stdout cannot fail.
    _stdout: Option<BufReader<ChildStdout>>,
    _process: Process,
}

/// A child process and its scratch directory: killed and removed on drop.
struct Process {
    child: Child,
    scratch: PathBuf,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

/// Starts `keyward serve` on an ephemeral loopback port with a fresh data
/// directory and signs with the admin credentials it writes there. Its log
/// goes to `keyward.log` in the scratch directory (printed on failure).
pub fn spawn_keyward(binary: &Path) -> anyhow::Result<Spawned> {
    spawn_keyward_with(binary, "keyward", &[])
}

/// [`spawn_keyward`] with extra `serve` arguments, measured as target `name`.
pub fn spawn_keyward_with(binary: &Path, name: &str, extra: &[&str]) -> anyhow::Result<Spawned> {
    let scratch = scratch_dir(name)?;
    let data_dir = scratch.join("data");
    let log_path = scratch.join("keyward.log");
    let log = std::fs::File::create(&log_path).context("creating keyward.log")?;
    let child = Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data_dir)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let mut process = Process { child, scratch };
    let pid = process.child.id();
    let stdout = process.child.stdout.take().context("keyward's stdout")?;
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    let host = loop {
        line.clear();
        if reader
            .read_line(&mut line)
            .context("reading keyward's stdout")?
            == 0
        {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!("keyward exited before listening; its log:\n{log}");
        }
        if let Some(host) = line.trim().strip_prefix(KEYWARD_READY) {
            break host.to_string();
        }
    };
    let credentials = Credentials::from_file(&data_dir.join("admin-credentials"), None)?;
    let mut target = Target::from_url(name, &format!("http://{host}"), credentials)?;
    target.pid = Some(pid);
    Ok(Spawned {
        target,
        _stdout: Some(reader),
        _process: process,
    })
}

/// Starts `moto_server -H 127.0.0.1 -p PORT` and waits until it accepts TCP
/// connections. moto accepts any credentials; the run signs with dummy ones
/// exactly as it does for keyward, so both pay the same client cost. Its
/// per-request log goes to a file, as a deployment would not log to a pipe
/// nobody reads.
pub fn spawn_moto(binary: &Path) -> anyhow::Result<Spawned> {
    let scratch = scratch_dir("moto")?;
    let port = free_port()?;
    let log_path = scratch.join("moto.log");
    let log = std::fs::File::create(&log_path).context("creating moto.log")?;
    let child = Command::new(binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(log.try_clone().context("duplicating moto.log")?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let mut process = Process { child, scratch };
    let mut target = moto_target(&format!("http://127.0.0.1:{port}"))?;
    target.pid = Some(process.child.id());
    let started = Instant::now();
    while TcpStream::connect(target.addr).is_err() {
        if let Some(status) = process.child.try_wait().context("polling moto_server")? {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!("moto_server exited with {status}; its log:\n{log}");
        }
        if started.elapsed() > MOTO_START_TIMEOUT {
            bail!("moto_server did not listen on port {port} within {MOTO_START_TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(Spawned {
        target,
        _stdout: None,
        _process: process,
    })
}

/// A moto endpoint with the dummy credentials moto's docs use.
pub fn moto_target(url: &str) -> anyhow::Result<Target> {
    Target::from_url(
        "moto",
        url,
        Credentials {
            access_key_id: "testing".into(),
            secret_access_key: "testing".into(),
            region: "us-east-1".into(),
        },
    )
}

/// A port the OS just handed out. moto takes a port number, not a socket,
/// so there is a small window in which another process could take it.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(listener.local_addr().context("finding a free port")?.port())
}

fn scratch_dir(what: &str) -> anyhow::Result<PathBuf> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "keyward-bench-{what}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}
