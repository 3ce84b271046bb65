//! A workload's process group seen from outside: its members (read from
//! `/proc`), signals to the whole group, and waits until the group is empty
//! or every member is stopped.
//!
//! Members other than the leader are not keyward's children (they are its
//! grandchildren, re-parented to init when their parent ends), so `waitpid`
//! cannot see them, and neither stopping nor exiting is signalled to a
//! non-parent. A pidfd would make exits pollable, but registering a raw
//! descriptor with tokio is an `unsafe` API (`AsyncFd::register`, since
//! tokio 1.54). So both waits poll `/proc`, starting at 1 ms and backing off
//! to 50 ms: a group that ends at once costs one scan, a slow one at most
//! twenty scans a second, and only while a stop or freeze is in progress.
//!
//! What it deliberately does not do: follow a process that left the group
//! (`setsid`, `setpgid`). Only a cgroup would hold those; see the crate docs.

use std::io;
use std::path::Path;
use std::time::Duration;

use rustix::io::Errno;
use rustix::process::{kill_process_group, test_kill_process_group, Pid, Signal};
use tokio::time::Instant;

use crate::procfs::{is_vfork_wait, parse_stat, stop_pending, ProcStat};

/// The id of a process group that is safe to signal: never 0 or 1 (which
/// `kill` reads as "my group" and "every process"), never keyward's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcessGroup(Pid);

/// Why a number cannot name a workload's process group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GroupIdError {
    /// 0, 1 and negative numbers mean other things to `kill(2)`.
    #[error("{0} is not a process group id a workload can have")]
    Reserved(i32),
    /// Signalling it would signal keyward itself.
    #[error("process group {0} is keyward's own")]
    Own(i32),
}

impl ProcessGroup {
    pub(crate) fn new(pgid: i32) -> Result<Self, GroupIdError> {
        let pid = match Pid::from_raw(pgid) {
            Some(pid) if pgid > 1 => pid,
            _ => return Err(GroupIdError::Reserved(pgid)),
        };
        if rustix::process::getpgrp() == pid {
            return Err(GroupIdError::Own(pgid));
        }
        Ok(Self(pid))
    }

    pub(crate) fn id(self) -> i32 {
        self.0.as_raw_nonzero().get()
    }

    /// Sends `signal` to every member; `false` when the group has none left.
    pub(crate) fn signal(self, signal: Signal) -> io::Result<bool> {
        match kill_process_group(self.0, signal) {
            Ok(()) => Ok(true),
            Err(Errno::SRCH) => Ok(false),
            Err(error) => Err(error.into()),
        }
    }

    /// The processes whose group this is, zombies included.
    pub(crate) fn members(self) -> io::Result<Vec<ProcStat>> {
        Ok(scan_processes()?
            .into_iter()
            .filter(|process| process.pgid == self.id())
            .collect())
    }

    /// True while a member has a thread that has not exited.
    pub(crate) fn has_live_members(self) -> io::Result<bool> {
        // Cheap first: ESRCH means not even a zombie is left in the group.
        match test_kill_process_group(self.0) {
            Ok(()) => {}
            Err(Errno::SRCH) => return Ok(false),
            Err(error) => return Err(error.into()),
        }
        for member in self.members()? {
            if is_live(member)? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Returns once no member has a live thread, members forked meanwhile
    /// included. Unbounded: callers put a deadline around it.
    pub(crate) async fn wait_empty(self) -> io::Result<()> {
        let mut pause = Backoff::new();
        while self.has_live_members()? {
            pause.sleep().await;
        }
        Ok(())
    }

    /// Returns `Ok` once every thread of every member is stopped (or ended),
    /// or at `deadline` the pids of the members still running.
    pub(crate) async fn wait_stopped(self, deadline: Instant) -> io::Result<Result<(), Vec<i32>>> {
        // Stopping is asynchronous: a thread stops on its way back to user
        // space, so one in a long system call stops when the call returns.
        let mut pause = Backoff::new();
        loop {
            let mut running = Vec::new();
            for member in self.members()? {
                if !all_threads_stopped(member.pid)? {
                    running.push(member.pid);
                }
            }
            if running.is_empty() {
                return Ok(Ok(()));
            }
            if Instant::now() >= deadline {
                return Ok(Err(running));
            }
            pause.sleep().await;
        }
    }
}

/// Sleeps between two scans of `/proc`: 1 ms, doubling up to 50 ms.
struct Backoff(Duration);

impl Backoff {
    fn new() -> Self {
        Self(Duration::from_millis(1))
    }

    async fn sleep(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(Duration::from_millis(50));
    }
}

/// A process whose line says zombie may still run other threads (its main
/// thread called `pthread_exit`): only then are its tasks read.
pub(crate) fn is_live(member: ProcStat) -> io::Result<bool> {
    if !member.has_ended() {
        return Ok(true);
    }
    any_task(member.pid, |task| !task.has_ended())
}

/// Every process on the machine that `/proc` shows, skipping those that end
/// while it is read.
pub(crate) fn scan_processes() -> io::Result<Vec<ProcStat>> {
    let mut processes = Vec::new();
    for entry in std::fs::read_dir("/proc")? {
        let entry = entry?;
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse().ok())
        else {
            continue;
        };
        match stat_of(pid) {
            Ok(process) => processes.push(process),
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(processes)
}

/// The stat of one process; `NotFound` once it has been reaped.
pub(crate) fn stat_of(pid: i32) -> io::Result<ProcStat> {
    read_stat(&Path::new("/proc").join(pid.to_string()).join("stat"))
}

fn read_stat(path: &Path) -> io::Result<ProcStat> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        // A process that was reaped between `readdir` and `open` may answer
        // ESRCH instead of ENOENT.
        Err(error) if error.raw_os_error() == Some(Errno::SRCH.raw_os_error()) => {
            return Err(io::ErrorKind::NotFound.into())
        }
        Err(error) => return Err(error),
    };
    parse_stat(&text).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is not in the proc_pid_stat(5) format", path.display()),
        )
    })
}

/// True when every thread of `pid` is stopped or ended, or `pid` is gone. A
/// process whose main thread ended keeps running in its other threads, so
/// the check reads each task, not the process line.
///
/// One more case counts as stopped: a thread in uninterruptible sleep in
/// `vfork`, with SIGSTOP pending. Its child is a member of the group, stopped
/// before its `exec`, so the parent cannot return from `vfork` (and then
/// stops at once) until a thaw. Any other `D` sleep (disk, FUSE) is waited
/// out, so an in-flight write lands before the freeze is reported.
fn all_threads_stopped(pid: i32) -> io::Result<bool> {
    let task_dir = Path::new("/proc").join(pid.to_string()).join("task");
    Ok(!any_task(pid, |task| {
        if task.is_stopped() {
            return false;
        }
        if task.state != 'D' {
            return true;
        }
        let thread = task_dir.join(task.pid.to_string());
        let read = |name: &str| std::fs::read_to_string(thread.join(name)).unwrap_or_default();
        !(is_vfork_wait(&read("wchan")) && stop_pending(&read("status")))
    })?)
}

/// True when some thread of `pid` satisfies `test`; false when `pid` is gone.
fn any_task(pid: i32, test: impl Fn(&ProcStat) -> bool) -> io::Result<bool> {
    let tasks = Path::new("/proc").join(pid.to_string()).join("task");
    let entries = match std::fs::read_dir(&tasks) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(error) => return Err(error),
    };
    for entry in entries {
        match read_stat(&entry?.path().join("stat")) {
            Ok(task) if test(&task) => return Ok(true),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error),
        }
    }
    Ok(false)
}

/// This boot's id (`/proc/sys/kernel/random/boot_id`): no process survives
/// a reboot, and start ticks only mean something within one boot.
pub(crate) fn boot_id() -> io::Result<String> {
    Ok(std::fs::read_to_string("/proc/sys/kernel/random/boot_id")?
        .trim()
        .to_owned())
}
