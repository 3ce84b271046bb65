use super::*;

/// The events of the matrix, in the order of each row's expectations.
const EVENTS: [Event; 11] = [
    Event::Spawned,
    Event::Released,
    Event::StartFailed,
    Event::Exited(Exit::Code(0)),
    Event::Exited(Exit::Code(3)),
    Event::Exited(Exit::Signal(9)),
    Event::StopRequested,
    Event::GraceExpired,
    Event::Freeze,
    Event::Thaw,
    Event::SupervisorLost,
];

/// Applies every event of [`EVENTS`] to `state` and compares the outcomes,
/// written as the next state's `Display` or `-` for a refused event.
#[track_caller]
fn check(state: WorkloadState, expected: [&str; 11]) {
    for (event, expected) in EVENTS.into_iter().zip(expected) {
        let actual = match transition(&state, event) {
            Ok(next) => next.to_string(),
            Err(error) => {
                assert_eq!(error.state, state.name());
                assert_eq!(error.event, event.name());
                "-".to_owned()
            }
        };
        assert_eq!(actual, expected, "\nstate: {state:?}\nevent: {event:?}");
    }
}

// Columns: spawned, released, start-failed, exit 0, exit 3, signal 9,
// stop-requested, grace-expired, freeze, thaw, supervisor-lost.

#[test]
fn pending() {
    check(
        WorkloadState::Pending,
        [
            "starting",
            "-",
            "failed (StartFailed)",
            "-",
            "-",
            "-",
            "stopped (CancelledBeforeStart)",
            "-",
            "-",
            "-",
            "failed (SupervisorLost)",
        ],
    );
}

#[test]
fn starting() {
    check(
        WorkloadState::Starting,
        [
            "-",
            "running",
            "failed (StartFailed)",
            "failed (StartFailed, exit code 0)",
            "failed (StartFailed, exit code 3)",
            "failed (StartFailed, signal 9)",
            "stopping",
            "-",
            "-",
            "-",
            "failed (SupervisorLost)",
        ],
    );
}

#[test]
fn running() {
    check(
        WorkloadState::Running,
        [
            "-",
            "-",
            "-",
            "stopped (Completed, exit code 0)",
            "failed (NonZeroExit, exit code 3)",
            "failed (KilledBySignal, signal 9)",
            "stopping",
            "-",
            "frozen",
            "-",
            "failed (SupervisorLost)",
        ],
    );
}

#[test]
fn frozen() {
    check(
        WorkloadState::Frozen,
        [
            "-",
            "-",
            "-",
            "stopped (Completed, exit code 0)",
            "failed (NonZeroExit, exit code 3)",
            "failed (KilledBySignal, signal 9)",
            "stopping",
            "-",
            "-",
            "running",
            "failed (SupervisorLost)",
        ],
    );
}

#[test]
fn stopping_within_the_grace_period() {
    check(
        WorkloadState::Stopping { escalated: false },
        [
            "-",
            "-",
            "-",
            "stopped (StopRequested, exit code 0)",
            "stopped (StopRequested, exit code 3)",
            "stopped (StopRequested, signal 9)",
            "stopping",
            "stopping (killed)",
            "-",
            "-",
            "failed (SupervisorLost)",
        ],
    );
}

#[test]
fn stopping_after_sigkill() {
    check(
        WorkloadState::Stopping { escalated: true },
        [
            "-",
            "-",
            "-",
            "stopped (KilledAfterGrace, exit code 0)",
            "stopped (KilledAfterGrace, exit code 3)",
            "stopped (KilledAfterGrace, signal 9)",
            "stopping (killed)",
            "-",
            "-",
            "-",
            "failed (SupervisorLost)",
        ],
    );
}

#[test]
fn terminal_states_take_no_event() {
    let refused = ["-"; 11];
    check(
        WorkloadState::Stopped {
            exit: Some(Exit::Code(0)),
            reason: StopReason::Completed,
        },
        refused,
    );
    check(
        WorkloadState::Stopped {
            exit: None,
            reason: StopReason::CancelledBeforeStart,
        },
        refused,
    );
    check(
        WorkloadState::Failed {
            exit: Some(Exit::Signal(9)),
            reason: FailureReason::KilledBySignal,
        },
        refused,
    );
    check(
        WorkloadState::Failed {
            exit: None,
            reason: FailureReason::SupervisorLost,
        },
        refused,
    );
}

#[test]
fn the_error_names_state_and_event() {
    let error = transition(&WorkloadState::Running, Event::Thaw).unwrap_err();
    assert_eq!(
        error.to_string(),
        "a workload that is running cannot take the event thaw"
    );
}
