//! The crate's errors, one enum per operation. Sources are kept, never
//! stringified; none of them can hold a workload's data (paths and ids only).

use std::io;
use std::path::PathBuf;

use crate::group::GroupIdError;
use crate::spec::SpecError;
use crate::state::{TransitionError, WorkloadState};

/// Why [`crate::Workload::spawn`] started nothing. Whatever the variant, no
/// code of the workload ran: every failure happens before the start gate
/// opens, and a gated process is killed and reaped before the error returns.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("invalid workload: {0}")]
    InvalidSpec(#[from] SpecError),
    #[error("the working directory {path} is not usable")]
    WorkingDirectory {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("the log file {path} cannot be opened for appending")]
    LogFile {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("running a workload as another user needs /usr/bin/setpriv (util-linux)")]
    Setpriv,
    #[error("the workload process could not be spawned")]
    Spawn(#[source] io::Error),
    #[error("reading the spawned process's identity from /proc failed")]
    Identity(#[source] io::Error),
    #[error("{resource} could not be set on the workload")]
    Limits {
        resource: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("the workload's start gate could not be opened")]
    Release(#[source] io::Error),
    #[error("the spawned process has an unusable process group")]
    Group(#[from] GroupIdError),
}

/// Why a freeze, thaw or stop could not be done.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The workload's state does not allow it (thaw of a running workload…).
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The workload ended; its final state is given.
    #[error("the workload has ended: {0}")]
    Ended(WorkloadState),
    #[error("signalling the workload's process group failed")]
    Signal(#[source] io::Error),
    #[error("reading the workload's processes from /proc failed")]
    Proc(#[source] io::Error),
    /// Some processes did not stop in time (a thread blocked in an
    /// uninterruptible system call stops only when the call returns). The
    /// group was continued again and the workload is running.
    #[error("processes {running:?} did not stop in time; the workload was thawed")]
    FreezeTimedOut { running: Vec<i32> },
}

/// Why one record could not be checked or reaped by [`crate::reap_orphans`].
#[derive(Debug, thiserror::Error)]
pub enum ReapError {
    #[error(transparent)]
    Group(#[from] GroupIdError),
    #[error("reading processes from /proc failed")]
    Proc(#[source] io::Error),
    #[error("signalling process group {pgid} failed")]
    Signal {
        pgid: i32,
        #[source]
        source: io::Error,
    },
    /// SIGKILL was sent but members remain (stuck in an uninterruptible
    /// system call, such as a request to a FUSE daemon that is gone).
    #[error("process group {pgid} still has members after SIGKILL")]
    Survivors { pgid: i32 },
}
