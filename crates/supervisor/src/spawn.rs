//! Starting a workload process: clean environment, working directory, own
//! process group, log file, and resource limits applied before any of the
//! workload's code runs.
//!
//! Limits without `unsafe`: the usual way is `setrlimit` in a `pre_exec`
//! hook, which is an `unsafe` API (the hook runs between `fork` and `exec`)
//! and the workspace forbids `unsafe_code`. Instead the child starts as a
//! *start gate*, `sh -c 'read -r _ || exit 125; exec </dev/null; exec "$@"'`,
//! blocked reading its stdin pipe. While it waits, keyward sets its limits
//! from outside with `prlimit(2)` (limits survive `execve`), then writes one
//! line: the gate replaces its stdin with `/dev/null` and `exec`s the
//! workload's argv, in the same process, so pid, process group and limits
//! are the workload's. If keyward drops the pipe instead, the gate exits 125
//! without running anything. The process group comes from std's safe
//! `CommandExt::process_group(0)`. With [`crate::RunAs`], the gate `exec`s
//! `setpriv` first, which switches user and group and `exec`s the program:
//! the limits are set while the process still has keyward's user.
//!
//! Side effect of the gate: an argv program that cannot be found is the
//! shell's `exec` failing, so it shows as exit code 127 with the shell's
//! message in the log, not as a spawn error.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::process::Stdio;

use rustix::process::{prlimit, Pid, Resource, Rlimit};
use tokio::io::AsyncWriteExt;
use tokio::process::{Child, ChildStdin, Command};

use crate::error::SpawnError;
use crate::spec::{ResourceLimits, WorkloadSpec, SETPRIV, SHELL};

/// The start gate's script; the workload's argv follows as `"$@"`.
const GATE_SCRIPT: &str = "read -r _ || exit 125; exec </dev/null; exec \"$@\"";

/// `$0` of the start gate, as `ps` shows it until the `exec`.
const GATE_NAME: &str = "keyward-workload-gate";

/// A spawned workload held at its start gate.
#[derive(Debug)]
pub(crate) struct Gated {
    pub(crate) child: Child,
    pub(crate) pid: Pid,
    gate: ChildStdin,
}

/// Spawns the gate in its own process group. Nothing of the workload runs yet.
pub(crate) fn spawn_gated(spec: &WorkloadSpec) -> Result<Gated, SpawnError> {
    let working_directory = spec.working_directory();
    match std::fs::metadata(working_directory) {
        Ok(metadata) if metadata.is_dir() => {}
        Ok(_) => {
            return Err(SpawnError::WorkingDirectory {
                path: working_directory.to_owned(),
                source: io::ErrorKind::NotADirectory.into(),
            })
        }
        Err(source) => {
            return Err(SpawnError::WorkingDirectory {
                path: working_directory.to_owned(),
                source,
            })
        }
    }
    if spec.run_as.is_some() && !Path::new(SETPRIV).is_file() {
        return Err(SpawnError::Setpriv);
    }
    let log = open_log(spec)?;
    let log_for_stderr = log.try_clone().map_err(|source| SpawnError::LogFile {
        path: spec.log_file().to_owned(),
        source,
    })?;

    let mut command = Command::new(SHELL);
    command
        .arg("-c")
        .arg(GATE_SCRIPT)
        .arg(GATE_NAME)
        .args(spec.program_argv())
        .env_clear()
        .envs(spec.environment())
        .current_dir(working_directory)
        .process_group(0)
        .stdin(Stdio::piped())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_for_stderr))
        // Dropping the handle must not kill only the leader: the supervising
        // task stops the whole group instead.
        .kill_on_drop(false);
    let mut child = command.spawn().map_err(SpawnError::Spawn)?;
    let gate = child.stdin.take();
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(Pid::from_raw);
    match (gate, pid) {
        (Some(gate), Some(pid)) => Ok(Gated { child, pid, gate }),
        // tokio gives both for a child spawned with a piped stdin that has
        // not been awaited yet.
        _ => Err(SpawnError::Spawn(io::Error::other(
            "the spawned gate has no stdin pipe or no pid",
        ))),
    }
}

/// Opens the log for appending, creating it readable by its owner only.
/// Logs live outside the volume and are not encrypted under the CMK.
fn open_log(spec: &WorkloadSpec) -> Result<File, SpawnError> {
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(spec.log_file())
        .map_err(|source| SpawnError::LogFile {
            path: spec.log_file().to_owned(),
            source,
        })
}

impl Gated {
    /// Sets the limits on the gated process with `prlimit(2)`.
    pub(crate) fn apply_limits(&self, limits: &ResourceLimits) -> Result<(), SpawnError> {
        for (resource, name, limit) in limit_table(limits) {
            prlimit(Some(self.pid), resource, limit).map_err(|errno| SpawnError::Limits {
                resource: name,
                source: errno.into(),
            })?;
        }
        Ok(())
    }

    /// Opens the gate: the workload's program runs from here on.
    pub(crate) async fn release(mut self) -> Result<Child, (Child, SpawnError)> {
        let written = async {
            self.gate.write_all(b"go\n").await?;
            self.gate.flush().await
        }
        .await;
        drop(self.gate);
        match written {
            Ok(()) => Ok(self.child),
            Err(error) => Err((self.child, SpawnError::Release(error))),
        }
    }

    /// Gives up on a gated process: it never ran workload code, so SIGKILL
    /// is enough, and it is reaped before returning.
    pub(crate) async fn abandon(mut self) {
        drop(self.gate);
        if let Err(error) = self.child.kill().await {
            tracing::warn!(pid = self.pid.as_raw_nonzero().get(), %error, "could not kill an abandoned workload gate");
        }
    }
}

/// Every limit a workload gets, `RLIMIT_CORE` = 0 always.
fn limit_table(limits: &ResourceLimits) -> Vec<(Resource, &'static str, Rlimit)> {
    let both = |value: u64| Rlimit {
        current: Some(value),
        maximum: Some(value),
    };
    let mut table = vec![
        (Resource::Core, "RLIMIT_CORE", both(0)),
        (Resource::Nofile, "RLIMIT_NOFILE", both(limits.open_files)),
        (Resource::Nproc, "RLIMIT_NPROC", both(limits.processes)),
    ];
    if let Some(bytes) = limits.address_space_bytes {
        table.push((Resource::As, "RLIMIT_AS", both(bytes)));
    }
    if let Some(seconds) = limits.cpu_seconds {
        // The soft limit sends SIGXCPU, which a program may handle; the hard
        // limit one second later is SIGKILL.
        table.push((
            Resource::Cpu,
            "RLIMIT_CPU",
            Rlimit {
                current: Some(seconds),
                maximum: Some(seconds.saturating_add(1)),
            },
        ));
    }
    table
}
