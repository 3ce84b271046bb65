//! Finding and killing the survivors of a previous run.
//!
//! A workload must not outlive keyward: once keyward is gone, the data key
//! of its volume is unreachable and no one can stop it. keyward records a
//! [`WorkloadRecord`] for each workload it starts (through the `Store`, like
//! the workload's state), and at the next start calls [`reap_orphans`] with
//! the records of every workload that was not known to have ended.
//!
//! A process group id alone is not enough: once a group has no members left
//! its number can be reused by an unrelated process. The record also holds
//! the leader's start time (clock ticks after boot) and the boot id, and a
//! group counts as the workload's only when
//! - the boot is the same (nothing survives a reboot), and
//! - its leader is alive with the recorded start time, or the leader is gone
//!   and every member started at or after it. A pid number cannot be reused
//!   while a group of that number has members, so members without a leader
//!   belong to the recorded group unless that group emptied and a new one
//!   took the number and lost its own leader too, before the check.
//!
//! Survivors get SIGKILL at once, without a grace period: their volume's
//! FUSE daemon died with the previous run, so they can do nothing useful,
//! and their key must not stay in reach of a process nobody supervises.

use tokio::time::timeout;

use crate::error::ReapError;
use crate::group::{boot_id, is_live, scan_processes, ProcessGroup};
use crate::workload::KILL_TIMEOUT;

/// What identifies a workload's processes across a restart of keyward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkloadRecord {
    pgid: i32,
    leader_start_ticks: u64,
    boot_id: String,
}

/// What [`reap_orphans`] found for one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reaped {
    /// No process of the workload is left.
    NotRunning,
    /// The record is from another boot: nothing of it can run.
    PreviousBoot,
    /// The group id now belongs to processes that are not the workload's;
    /// they were left alone.
    IdReused,
    /// This many live processes of the workload were killed.
    Killed { processes: usize },
}

impl WorkloadRecord {
    /// A record as stored: the group id (the leader's pid), the leader's
    /// start time in clock ticks after boot (field 22 of
    /// `/proc/<pid>/stat`), and `/proc/sys/kernel/random/boot_id`.
    pub fn new(pgid: i32, leader_start_ticks: u64, boot_id: String) -> Self {
        Self {
            pgid,
            leader_start_ticks,
            boot_id,
        }
    }

    pub fn pgid(&self) -> i32 {
        self.pgid
    }

    pub fn leader_start_ticks(&self) -> u64 {
        self.leader_start_ticks
    }

    pub fn boot_id(&self) -> &str {
        &self.boot_id
    }
}

/// Kills every surviving process of each recorded workload and waits until
/// they are gone. One result per record, in order; the outer error is this
/// boot's id being unreadable, which leaves every record unchecked.
pub async fn reap_orphans(
    records: &[WorkloadRecord],
) -> Result<Vec<Result<Reaped, ReapError>>, ReapError> {
    let this_boot = boot_id().map_err(ReapError::Proc)?;
    let mut outcomes = Vec::with_capacity(records.len());
    for record in records {
        let outcome = reap(record, &this_boot).await;
        if let Ok(Reaped::Killed { processes }) = &outcome {
            tracing::warn!(
                pgid = record.pgid,
                processes,
                "killed the survivors of a workload of a previous run"
            );
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

async fn reap(record: &WorkloadRecord, this_boot: &str) -> Result<Reaped, ReapError> {
    if record.boot_id != this_boot {
        return Ok(Reaped::PreviousBoot);
    }
    let group = ProcessGroup::new(record.pgid)?;
    let members: Vec<_> = scan_processes()
        .map_err(ReapError::Proc)?
        .into_iter()
        .filter(|process| process.pgid == record.pgid)
        .collect();
    let leader = members.iter().find(|process| process.pid == record.pgid);
    let ours = match leader {
        Some(leader) => leader.start_ticks == record.leader_start_ticks,
        None => members
            .iter()
            .all(|member| member.start_ticks >= record.leader_start_ticks),
    };
    let mut live = 0;
    for member in &members {
        if is_live(*member).map_err(ReapError::Proc)? {
            live += 1;
        }
    }
    if live == 0 {
        return Ok(Reaped::NotRunning);
    }
    if !ours {
        return Ok(Reaped::IdReused);
    }
    let signal_error = |source| ReapError::Signal {
        pgid: record.pgid,
        source,
    };
    if !group
        .signal(rustix::process::Signal::KILL)
        .map_err(signal_error)?
    {
        return Ok(Reaped::NotRunning);
    }
    match timeout(KILL_TIMEOUT, group.wait_empty()).await {
        Ok(Ok(())) => Ok(Reaped::Killed { processes: live }),
        Ok(Err(error)) => Err(ReapError::Proc(error)),
        Err(_elapsed) => Err(ReapError::Survivors { pgid: record.pgid }),
    }
}
