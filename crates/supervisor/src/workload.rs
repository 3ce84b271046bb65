//! A supervised workload: [`Workload::spawn`] starts it, one tokio task per
//! workload owns its process from then on, and [`Workload`] handles talk to
//! that task.
//!
//! Why tokio tasks and not a thread per workload: the server is tokio, and
//! what a supervisor waits for costs no thread in tokio: the leader's exit
//! (`tokio::process::Child::wait`, pidfd-driven), commands (a channel),
//! deadlines (`tokio::time`), and the other members' ends, polled from
//! `/proc` with a backoff (see [`crate::group`] for why). A workload then
//! costs one task, however many run.
//!
//! The task applies every change through [`crate::state::transition`] and
//! publishes the state on a `watch` channel, so a service can persist each
//! transition ([`Workload::subscribe`]).
//!
//! When the last handle is dropped, the task stops the workload as
//! [`Workload::stop`] would: no workload outlives every way to stop it. If
//! the task itself goes away without finishing (its runtime shut down, the
//! process died), the workload keeps running unsupervised; the
//! [`WorkloadRecord`] is what lets the next start find and kill it.

use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;
use std::sync::Arc;
use std::time::Duration;

use rustix::process::Signal;
use tokio::process::Child;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use crate::error::{ControlError, SpawnError};
use crate::group::{boot_id, stat_of, ProcessGroup};
use crate::record::WorkloadRecord;
use crate::spawn::{spawn_gated, Gated};
use crate::spec::WorkloadSpec;
use crate::state::{transition, Event, Exit, TransitionError, WorkloadState};

/// How long a freeze waits for every process to stop before giving up.
pub const FREEZE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the group may take to vanish after SIGKILL before the
/// supervisor reports survivors (uninterruptible sleep delays SIGKILL).
pub const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// A handle on a supervised workload. Clones share the workload.
#[derive(Debug, Clone)]
pub struct Workload {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    commands: mpsc::Sender<Command>,
    state: watch::Receiver<WorkloadState>,
    record: WorkloadRecord,
}

#[derive(Debug)]
enum Command {
    Stop,
    Freeze(oneshot::Sender<Result<(), ControlError>>),
    Thaw(oneshot::Sender<Result<(), ControlError>>),
}

/// A workload spawned and held at its start gate: no code of it has run.
/// Persist [`PreparedWorkload::record`], then [`PreparedWorkload::start`].
///
/// Dropping it (or keyward dying meanwhile) closes the gate's pipe, and the
/// gate exits 125 without running anything: a workload whose record was
/// never stored cannot run.
#[derive(Debug)]
pub struct PreparedWorkload {
    gated: Gated,
    group: ProcessGroup,
    record: WorkloadRecord,
    stop_grace: Duration,
}

impl PreparedWorkload {
    pub fn record(&self) -> &WorkloadRecord {
        &self.record
    }

    /// Opens the start gate: the program runs, and the supervising task takes
    /// it over. Returns with the workload `Running`.
    pub async fn start(self) -> Result<Workload, SpawnError> {
        let Self {
            gated,
            group,
            record,
            stop_grace,
        } = self;
        let mut state = WorkloadState::Starting;
        let child = match gated.release().await {
            Ok(child) => child,
            Err((mut child, error)) => {
                // The gate may have started the program if the line was
                // written before the error: stop the whole group.
                let _ = group.signal(Signal::KILL);
                let _ = child.wait().await;
                return Err(error);
            }
        };
        advance_local(&mut state, Event::Released);
        tracing::debug!(pgid = group.id(), "workload released");

        let (state_sender, state_receiver) = watch::channel(state);
        let (command_sender, command_receiver) = mpsc::channel(8);
        let supervisor = Supervisor {
            child,
            group,
            stop_grace,
            state: state_sender,
        };
        tokio::spawn(supervisor.run(command_receiver));
        Ok(Workload {
            shared: Arc::new(Shared {
                commands: command_sender,
                state: state_receiver,
                record,
            }),
        })
    }
}

impl Workload {
    /// Spawns the workload held at its start gate, with its limits set
    /// (state `Starting`). Must be called inside a tokio runtime.
    pub async fn prepare(spec: WorkloadSpec) -> Result<PreparedWorkload, SpawnError> {
        spec.validate()?;
        let gated = spawn_gated(&spec)?;
        match identify_and_limit(&gated, &spec) {
            Ok((group, record)) => Ok(PreparedWorkload {
                gated,
                group,
                record,
                stop_grace: spec.stop_grace(),
            }),
            Err(error) => {
                gated.abandon().await;
                Err(error)
            }
        }
    }

    /// [`Workload::prepare`] then [`PreparedWorkload::start`], for a caller
    /// that records the workload after it runs.
    pub async fn spawn(spec: WorkloadSpec) -> Result<Self, SpawnError> {
        Self::prepare(spec).await?.start().await
    }

    /// What the next start needs to find survivors of this workload.
    pub fn record(&self) -> &WorkloadRecord {
        &self.shared.record
    }

    /// The leader's pid, which is also the process group id.
    pub fn pid(&self) -> i32 {
        self.shared.record.pgid()
    }

    pub fn state(&self) -> WorkloadState {
        self.shared.state.borrow().clone()
    }

    /// Every state change from now on, for a service that persists them.
    pub fn subscribe(&self) -> watch::Receiver<WorkloadState> {
        self.shared.state.clone()
    }

    /// Waits until the workload has ended and returns its final state.
    pub async fn wait(&self) -> WorkloadState {
        let mut state = self.shared.state.clone();
        let outcome = state
            .wait_for(WorkloadState::is_terminal)
            .await
            .map(|s| s.clone());
        match outcome {
            Ok(terminal) => terminal,
            // The supervising task went away without an end (its runtime
            // shut down): nobody watches the process any more.
            Err(_closed) => {
                let last = state.borrow().clone();
                transition(&last, Event::SupervisorLost).unwrap_or(last)
            }
        }
    }

    /// Stops the workload: SIGTERM to its whole process group, SIGKILL once
    /// the grace period has passed, and returns when every process of the
    /// group has exited. Stopping an ended workload returns its end.
    pub async fn stop(&self) -> WorkloadState {
        // A closed channel means the task has finished: `wait` says how.
        let _ = self.shared.commands.send(Command::Stop).await;
        self.wait().await
    }

    /// Stops every process of the group (SIGSTOP) and returns once all of
    /// them are stopped, so a snapshot of the volume is point-in-time.
    pub async fn freeze(&self) -> Result<(), ControlError> {
        self.control(Command::Freeze).await
    }

    /// Continues a frozen workload (SIGCONT).
    pub async fn thaw(&self) -> Result<(), ControlError> {
        self.control(Command::Thaw).await
    }

    async fn control(
        &self,
        command: fn(oneshot::Sender<Result<(), ControlError>>) -> Command,
    ) -> Result<(), ControlError> {
        let (reply, answer) = oneshot::channel();
        if self.shared.commands.send(command(reply)).await.is_err() {
            return Err(ControlError::Ended(self.wait().await));
        }
        match answer.await {
            Ok(result) => result,
            Err(_dropped) => Err(ControlError::Ended(self.wait().await)),
        }
    }
}

/// Checks the group id, reads the identity for the record and applies the
/// limits, all while the process waits at its gate.
fn identify_and_limit(
    gated: &Gated,
    spec: &WorkloadSpec,
) -> Result<(ProcessGroup, WorkloadRecord), SpawnError> {
    let pid = gated.pid.as_raw_nonzero().get();
    let group = ProcessGroup::new(pid)?;
    let stat = stat_of(pid).map_err(SpawnError::Identity)?;
    let record = WorkloadRecord::new(
        pid,
        stat.start_ticks,
        boot_id().map_err(SpawnError::Identity)?,
    );
    gated.apply_limits(&spec.limits)?;
    Ok((group, record))
}

/// Applies an event the caller knows is legal in `state`.
fn advance_local(state: &mut WorkloadState, event: Event) {
    match transition(state, event) {
        Ok(next) => *state = next,
        Err(error) => {
            debug_assert!(false, "{error}");
            tracing::error!(%error, "workload transition refused");
        }
    }
}

/// The task that owns one workload's process.
struct Supervisor {
    child: Child,
    group: ProcessGroup,
    stop_grace: Duration,
    state: watch::Sender<WorkloadState>,
}

impl Supervisor {
    async fn run(mut self, mut commands: mpsc::Receiver<Command>) {
        loop {
            tokio::select! {
                exit = self.child.wait() => {
                    self.ended_on_its_own(exit).await;
                    break;
                }
                command = commands.recv() => match command {
                    // `None`: every handle was dropped.
                    None | Some(Command::Stop) => {
                        self.stop().await;
                        break;
                    }
                    Some(Command::Freeze(reply)) => {
                        let _ = reply.send(self.freeze().await);
                    }
                    Some(Command::Thaw(reply)) => {
                        let _ = reply.send(self.thaw());
                    }
                },
            }
        }
        commands.close();
        let end = self.current();
        while let Some(command) = commands.recv().await {
            match command {
                Command::Stop => {}
                Command::Freeze(reply) | Command::Thaw(reply) => {
                    let _ = reply.send(Err(ControlError::Ended(end.clone())));
                }
            }
        }
    }

    fn current(&self) -> WorkloadState {
        self.state.borrow().clone()
    }

    fn advance(&self, event: Event) -> Result<(), TransitionError> {
        let mut result = Ok(());
        self.state
            .send_if_modified(|state| match transition(state, event) {
                Ok(next) => {
                    let changed = next != *state;
                    *state = next;
                    changed
                }
                Err(error) => {
                    result = Err(error);
                    false
                }
            });
        if let Err(error) = &result {
            tracing::error!(pgid = self.group.id(), %error, "workload transition refused");
        }
        result
    }

    fn signal(&self, signal: Signal) {
        if let Err(error) = self.group.signal(signal) {
            tracing::error!(pgid = self.group.id(), signal = signal.as_raw(), %error, "signalling a workload failed");
        }
    }

    /// The leader exited without being asked: the workload is over, so any
    /// process it left in its group gets the same stop as [`Self::stop`]
    /// gives (a background child must not keep using the volume).
    async fn ended_on_its_own(&mut self, exit: io::Result<ExitStatus>) {
        if self.has_live_members() {
            tracing::info!(
                pgid = self.group.id(),
                "the workload's leader exited; stopping what it left running"
            );
            self.signal(Signal::TERM);
            if self.current() == WorkloadState::Frozen {
                self.signal(Signal::CONT);
            }
            let deadline = Instant::now() + self.stop_grace;
            if tokio::time::timeout_at(deadline, self.group.wait_empty())
                .await
                .is_err()
            {
                self.signal(Signal::KILL);
                self.wait_group_after_kill().await;
            }
        }
        self.finish(exit);
    }

    async fn stop(&mut self) {
        let was_frozen = self.current() == WorkloadState::Frozen;
        if self.advance(Event::StopRequested).is_err() {
            return;
        }
        self.signal(Signal::TERM);
        if was_frozen {
            // After the TERM, so no process runs a single instruction before
            // the TERM is pending.
            self.signal(Signal::CONT);
        }
        let deadline = Instant::now() + self.stop_grace;
        let within_grace = tokio::time::timeout_at(deadline, async {
            let exit = self.child.wait().await;
            if let Err(error) = self.group.wait_empty().await {
                tracing::error!(pgid = self.group.id(), %error, "watching the workload's processes failed");
            }
            exit
        })
        .await;
        let exit = match within_grace {
            Ok(exit) => exit,
            Err(_elapsed) => {
                tracing::warn!(pgid = self.group.id(), grace = ?self.stop_grace, "the workload outlived its stop grace period; sending SIGKILL");
                let _ = self.advance(Event::GraceExpired);
                self.signal(Signal::KILL);
                // Caches the status if the leader was reaped before the deadline.
                let exit = self.child.wait().await;
                self.wait_group_after_kill().await;
                exit
            }
        };
        self.finish(exit);
    }

    async fn wait_group_after_kill(&self) {
        match tokio::time::timeout(KILL_TIMEOUT, self.group.wait_empty()).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => {
                tracing::error!(pgid = self.group.id(), %error, "watching the workload's processes failed");
            }
            Err(_elapsed) => {
                tracing::error!(
                    pgid = self.group.id(),
                    "processes of the workload survive SIGKILL"
                );
            }
        }
    }

    fn has_live_members(&self) -> bool {
        self.group.has_live_members().unwrap_or_else(|error| {
            tracing::error!(pgid = self.group.id(), %error, "reading the workload's processes failed");
            true
        })
    }

    fn finish(&self, exit: io::Result<ExitStatus>) {
        let event = match exit {
            Ok(status) => Event::Exited(exit_of(status)),
            Err(error) => {
                // The leader was reaped by someone else: its end is unknown.
                tracing::error!(pgid = self.group.id(), %error, "waiting for the workload's leader failed");
                self.signal(Signal::KILL);
                Event::SupervisorLost
            }
        };
        let _ = self.advance(event);
    }

    async fn freeze(&mut self) -> Result<(), ControlError> {
        transition(&self.current(), Event::Freeze)?;
        self.group
            .signal(Signal::STOP)
            .map_err(ControlError::Signal)?;
        let stopped = self
            .group
            .wait_stopped(Instant::now() + FREEZE_TIMEOUT)
            .await;
        match stopped {
            Ok(Ok(())) => {
                self.advance(Event::Freeze)?;
                Ok(())
            }
            Ok(Err(running)) => {
                self.signal(Signal::CONT);
                Err(ControlError::FreezeTimedOut { running })
            }
            Err(error) => {
                self.signal(Signal::CONT);
                Err(ControlError::Proc(error))
            }
        }
    }

    fn thaw(&mut self) -> Result<(), ControlError> {
        transition(&self.current(), Event::Thaw)?;
        self.group
            .signal(Signal::CONT)
            .map_err(ControlError::Signal)?;
        self.advance(Event::Thaw)?;
        Ok(())
    }
}

fn exit_of(status: ExitStatus) -> Exit {
    match (status.code(), status.signal()) {
        (Some(code), _) => Exit::Code(code),
        (None, Some(signal)) => Exit::Signal(signal),
        // `wait` reports only exits, which have one or the other.
        (None, None) => Exit::Code(status.into_raw()),
    }
}
