//! The workload lifecycle as a pure state machine: one function,
//! [`transition`], maps `(state, event)` to the next state or a
//! [`TransitionError`].
//!
//! It owns the rules only: which events are legal in which state, and how an
//! exit becomes `Stopped` or `Failed`. It does no I/O and knows nothing of
//! processes; the process edge ([`crate::Workload`]) feeds it the events it
//! observes, and a service that persists workload states can replay the same
//! events through it.
//!
//! ```text
//! Pending ─Spawned→ Starting ─Released→ Running ⇄ Frozen (Freeze / Thaw)
//!                      │                   │        │
//!                      └────StopRequested──┴────────┴─→ Stopping ─GraceExpired→ Stopping (escalated)
//! Exited: Running/Frozen → Stopped (exit 0) | Failed (non-zero, signal)
//!         Stopping       → Stopped (StopRequested | KilledAfterGrace)
//!         Starting       → Failed (StartFailed)
//! SupervisorLost: any live state → Failed (SupervisorLost)
//! ```

use std::fmt;

/// How the workload's leader process ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// It called `exit` with this code.
    Code(i32),
    /// A signal with this number ended it.
    Signal(i32),
}

/// Where a workload is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkloadState {
    /// Described but not spawned yet.
    Pending,
    /// Spawned and held at the start gate while its limits are applied: no
    /// workload code has run yet.
    Starting,
    /// Released: the workload's own program runs.
    Running,
    /// Every process of the group is stopped (for a point-in-time snapshot).
    Frozen,
    /// SIGTERM was sent to the group; `escalated` once SIGKILL followed
    /// because the grace period ran out.
    Stopping { escalated: bool },
    /// Ended as asked, or on its own with exit code 0.
    Stopped {
        /// `None` when the workload was stopped before it was spawned.
        exit: Option<Exit>,
        reason: StopReason,
    },
    /// Ended on its own with a non-zero code or a signal, never started, or
    /// lost its supervisor.
    Failed {
        /// `None` when no exit of the workload was observed.
        exit: Option<Exit>,
        reason: FailureReason,
    },
}

/// Why a workload is [`WorkloadState::Stopped`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// Its leader exited on its own with code 0.
    Completed,
    /// A stop was asked and the group ended within the grace period.
    StopRequested,
    /// A stop was asked and the group was killed with SIGKILL after the grace
    /// period.
    KilledAfterGrace,
    /// A stop was asked before the workload was spawned.
    CancelledBeforeStart,
}

/// Why a workload is [`WorkloadState::Failed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// Its leader exited on its own with a non-zero code.
    NonZeroExit,
    /// A signal nobody in keyward asked for ended its leader.
    KilledBySignal,
    /// It could not be started (spawn, limits, or the start gate failed).
    StartFailed,
    /// Its supervisor went away while it was live (keyward stopped or died);
    /// any survivor is killed by [`crate::reap_orphans`].
    SupervisorLost,
}

/// What happened to a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Its process exists, held at the start gate.
    Spawned,
    /// The start gate opened: the workload's program runs.
    Released,
    /// Spawning, applying limits or opening the gate failed.
    StartFailed,
    /// The leader process ended.
    Exited(Exit),
    /// Someone asked for a stop.
    StopRequested,
    /// The stop's grace period ran out and SIGKILL was sent.
    GraceExpired,
    /// Every process of the group was stopped.
    Freeze,
    /// The group was continued.
    Thaw,
    /// The supervisor of a live workload is gone (found at the next start).
    SupervisorLost,
}

/// An event that is not legal in the workload's current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a workload that is {state} cannot take the event {event}")]
pub struct TransitionError {
    /// The state's name, as [`WorkloadState::name`] gives it.
    pub state: &'static str,
    /// The event's name, as [`Event::name`] gives it.
    pub event: &'static str,
}

/// The lifecycle's one transition function.
pub fn transition(state: &WorkloadState, event: Event) -> Result<WorkloadState, TransitionError> {
    use WorkloadState::*;
    let next = match (state, event) {
        (Stopped { .. } | Failed { .. }, _) => None,

        (Pending, Event::Spawned) => Some(Starting),
        (Pending | Starting, Event::StartFailed) => Some(Failed {
            exit: None,
            reason: FailureReason::StartFailed,
        }),
        (Starting, Event::Released) => Some(Running),

        // The gate's shell died before it was released: no workload code ran.
        (Starting, Event::Exited(exit)) => Some(Failed {
            exit: Some(exit),
            reason: FailureReason::StartFailed,
        }),
        // A frozen group can still end, by a SIGKILL from outside keyward.
        (Running | Frozen, Event::Exited(exit)) => Some(ended_on_its_own(exit)),
        (Stopping { escalated }, Event::Exited(exit)) => Some(Stopped {
            exit: Some(exit),
            reason: if *escalated {
                StopReason::KilledAfterGrace
            } else {
                StopReason::StopRequested
            },
        }),

        (Pending, Event::StopRequested) => Some(Stopped {
            exit: None,
            reason: StopReason::CancelledBeforeStart,
        }),
        (Starting | Running | Frozen, Event::StopRequested) => Some(Stopping { escalated: false }),
        // Asking again while a stop is under way changes nothing.
        (Stopping { escalated }, Event::StopRequested) => Some(Stopping {
            escalated: *escalated,
        }),
        (Stopping { escalated: false }, Event::GraceExpired) => Some(Stopping { escalated: true }),

        (Running, Event::Freeze) => Some(Frozen),
        (Frozen, Event::Thaw) => Some(Running),

        (Pending | Starting | Running | Frozen | Stopping { .. }, Event::SupervisorLost) => {
            Some(Failed {
                exit: None,
                reason: FailureReason::SupervisorLost,
            })
        }

        (
            Pending | Starting | Running | Frozen | Stopping { .. },
            Event::Spawned
            | Event::Released
            | Event::StartFailed
            | Event::Exited(_)
            | Event::GraceExpired
            | Event::Freeze
            | Event::Thaw,
        ) => None,
    };
    next.ok_or(TransitionError {
        state: state.name(),
        event: event.name(),
    })
}

fn ended_on_its_own(exit: Exit) -> WorkloadState {
    match exit {
        Exit::Code(0) => WorkloadState::Stopped {
            exit: Some(exit),
            reason: StopReason::Completed,
        },
        Exit::Code(_) => WorkloadState::Failed {
            exit: Some(exit),
            reason: FailureReason::NonZeroExit,
        },
        Exit::Signal(_) => WorkloadState::Failed {
            exit: Some(exit),
            reason: FailureReason::KilledBySignal,
        },
    }
}

impl WorkloadState {
    /// True for `Stopped` and `Failed`: no event is legal any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::Stopped { .. } | Self::Failed { .. })
    }

    /// The state's name without its data.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Starting => "starting",
            Self::Running => "running",
            Self::Frozen => "frozen",
            Self::Stopping { .. } => "stopping",
            Self::Stopped { .. } => "stopped",
            Self::Failed { .. } => "failed",
        }
    }
}

impl Event {
    /// The event's name without its data.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Spawned => "spawned",
            Self::Released => "released",
            Self::StartFailed => "start-failed",
            Self::Exited(_) => "exited",
            Self::StopRequested => "stop-requested",
            Self::GraceExpired => "grace-expired",
            Self::Freeze => "freeze",
            Self::Thaw => "thaw",
            Self::SupervisorLost => "supervisor-lost",
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Code(code) => write!(f, "exit code {code}"),
            Self::Signal(signal) => write!(f, "signal {signal}"),
        }
    }
}

impl fmt::Display for WorkloadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stopping { escalated: true } => f.write_str("stopping (killed)"),
            Self::Stopped { exit, reason } => write_end(f, "stopped", *exit, reason),
            Self::Failed { exit, reason } => write_end(f, "failed", *exit, reason),
            _ => f.write_str(self.name()),
        }
    }
}

fn write_end(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    exit: Option<Exit>,
    reason: &dyn fmt::Debug,
) -> fmt::Result {
    match exit {
        Some(exit) => write!(f, "{name} ({reason:?}, {exit})"),
        None => write!(f, "{name} ({reason:?})"),
    }
}

#[cfg(test)]
#[path = "state_test.rs"]
mod tests;
