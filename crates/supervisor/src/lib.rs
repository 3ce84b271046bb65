//! Supervised workload processes: the part of the workload runtime that runs
//! a service's command as a real local process and keeps it under control.
//!
//! A workload is `sh -c COMMAND` (or an argv) started with
//! - its working directory given by the caller (the workload runtime passes
//!   the mounted encrypted volume);
//! - its own process group, so signals reach every process it starts;
//! - a clean environment: only the variables the service passes, plus a
//!   default `PATH`. Nothing of keyward's environment (`AWS_*` credentials,
//!   `KEYWARD_*` settings) is inherited;
//! - stdin from `/dev/null`, stdout and stderr appended to a log file the
//!   caller places **outside** the volume. Logs are plain files: they are not
//!   encrypted under the customer managed key;
//! - resource limits set before any of its code runs: `RLIMIT_CORE` = 0
//!   always (no core dump can write plaintext anywhere), `RLIMIT_NOFILE`,
//!   `RLIMIT_NPROC`, and optionally `RLIMIT_AS` and `RLIMIT_CPU`;
//! - optionally another user and group ([`RunAs`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), keyward_supervisor::SpawnError> {
//! use keyward_supervisor::{Workload, WorkloadSpec, WorkloadState};
//!
//! let spec = WorkloadSpec::shell("exec my-job", "/data/volumes/v-1/mnt", "/data/logs/w-1.log")
//!     .with_env("JOB_ID", "j-1");
//! // Spawned, limits set, held at the start gate: nothing of it runs yet.
//! let prepared = Workload::prepare(spec).await?;
//! let record = prepared.record().clone(); // persist it before the start
//! let workload = prepared.start().await?;
//! workload.freeze().await.ok(); // take a snapshot here
//! workload.thaw().await.ok();
//! let end: WorkloadState = workload.stop().await;
//! // At the next start of keyward: `reap_orphans(&records_not_ended)`.
//! # Ok(()) }
//! ```
//!
//! Architecture invariants:
//! - The lifecycle is the pure [`transition`] function; the process edge
//!   ([`Workload`]) changes state only through it.
//! - Signals always go to the whole process group, never to one pid, and a
//!   group id of 0, 1 or keyward's own group is refused before any `kill`.
//! - A workload has ended only when every process of its group has exited,
//!   not just its leader: what the leader leaves behind is stopped too.
//! - No code of a workload runs before its limits are set, and none runs if
//!   keyward dies or gives up before [`PreparedWorkload::start`]: the start
//!   gate then reads end-of-file and exits 125.
//! - No `unsafe`: limits are applied with `prlimit(2)` while the process
//!   waits at a start gate (see the `spawn` module docs), not in
//!   a `pre_exec` hook.
//! - The crate knows nothing of keys, volumes or services: a working
//!   directory is a path, and a record is a group id and a start time.
//!
//! Known limits, deliberately left to a cgroup-based follow-up:
//! - A process that leaves the group (`setsid`, `setpgid`) escapes stop,
//!   freeze and reaping. A cgroup per workload would hold it.
//! - `RLIMIT_NPROC` counts per user over the whole machine and is not
//!   enforced for root; a per-workload bound needs the `pids` cgroup
//!   controller or a dedicated user per workload.
//! - Freeze is SIGSTOP/SIGCONT to the group. Measured on the development
//!   machine (kernel 6.18): cgroup v1 `freezer` is mounted read-write and
//!   freezes a process (`freezer.state` FROZEN, task in `D`), and the cgroup
//!   v2 hierarchy has no controllers enabled. SIGSTOP needs neither and
//!   cannot be caught or ignored; unlike the freezer, the workload can
//!   observe it (a SIGCHLD to a parent) and another process of the same
//!   user could SIGCONT it. A process in an uninterruptible system call
//!   stops when the call returns, so a freeze waits for in-flight writes;
//!   the one exception is a `vfork` parent whose child stopped before its
//!   `exec` (dash forks that way), which can run nothing until a thaw.
//! - File descriptors that keyward itself inherited without `O_CLOEXEC`
//!   pass to the workload (Rust opens everything close-on-exec; a parent
//!   that leaks descriptors to keyward leaks them on).
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod error;
mod group;
mod procfs;
mod record;
mod spawn;
mod spec;
pub mod state;
mod workload;

pub use error::{ControlError, ReapError, SpawnError};
pub use group::GroupIdError;
pub use record::{reap_orphans, Reaped, WorkloadRecord};
pub use spec::{
    Program, ResourceLimits, RunAs, SpecError, WorkloadSpec, DEFAULT_PATH, SETPRIV, SHELL,
};
pub use state::{
    transition, Event, Exit, FailureReason, StopReason, TransitionError, WorkloadState,
};
pub use workload::{PreparedWorkload, Workload, FREEZE_TIMEOUT, KILL_TIMEOUT};
