//! Real processes under the supervisor. Every wait is on an event (a line
//! in a file, a process's exit, a state change), each with a deadline; no
//! test sleeps to let something happen, and none asserts on timing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use keyward_supervisor::{
    reap_orphans, ControlError, Exit, GroupIdError, ReapError, Reaped, ResourceLimits, RunAs,
    SpawnError, StopReason, Workload, WorkloadRecord, WorkloadSpec, WorkloadState, DEFAULT_PATH,
};

/// Far above what any wait here needs, so only a real hang trips it.
const DEADLINE: Duration = Duration::from_secs(30);

/// A temp directory with a volume directory (the working directory) and a
/// log directory beside it.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("volume")).unwrap();
        std::fs::create_dir(dir.path().join("logs")).unwrap();
        Self { dir }
    }

    fn volume(&self) -> PathBuf {
        self.dir.path().join("volume")
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("logs").join("workload.log")
    }

    fn shell(&self, command: &str) -> WorkloadSpec {
        WorkloadSpec::shell(command, self.volume(), self.log()).with_stop_grace(DEADLINE)
    }

    fn read_log(&self) -> String {
        std::fs::read_to_string(self.log()).unwrap_or_default()
    }

    /// Waits until the log holds `line` as a whole line, and returns the log.
    async fn wait_for_line(&self, line: &str) -> String {
        wait_until(&format!("the line {line:?} in the log"), || {
            let log = self.read_log();
            log.lines().any(|l| l == line).then_some(log)
        })
        .await
        .unwrap_or_else(|| panic!("no line {line:?} in the log:\n{}", self.read_log()))
    }

    /// The value of `name=` printed by the workload, once it is in the log.
    async fn printed(&self, name: &str) -> i32 {
        let prefix = format!("{name}=");
        wait_until(&format!("{prefix} in the log"), || {
            self.read_log()
                .lines()
                .find_map(|line| line.strip_prefix(&prefix).map(|v| v.parse().unwrap()))
        })
        .await
        .unwrap_or_else(|| panic!("no {prefix} in the log:\n{}", self.read_log()))
    }
}

/// Polls `probe` until it gives a value or [`DEADLINE`] passes. The pause
/// between probes only paces the polling; correctness never depends on it.
async fn wait_until<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if let Some(value) = probe() {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            eprintln!("gave up waiting for {what}");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// `(state letter, pgid)` of a process, `None` once it is reaped.
fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &text[text.rfind(')')? + 2..];
    let mut fields = after.split(' ');
    let state = fields.next()?.chars().next()?;
    let pgid = fields.nth(1)?.parse().ok()?;
    Some((state, pgid))
}

fn is_alive(pid: i32) -> bool {
    matches!(proc_stat(pid), Some((state, _)) if state != 'Z' && state != 'X')
}

/// Pids of the live processes in group `pgid`, with their state letters.
fn live_members(pgid: i32) -> Vec<(i32, char)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, proc_stat(pid)?)))
        .filter(|(_, (state, group))| *group == pgid && *state != 'Z' && *state != 'X')
        .map(|(pid, (state, _))| (pid, state))
        .collect()
}

fn lines_in(path: &Path) -> usize {
    std::fs::read_to_string(path).map_or(0, |text| text.lines().count())
}

#[track_caller]
fn assert_state(actual: &WorkloadState, expected: &str) {
    assert_eq!(actual.to_string(), expected, "{actual:?}");
}

// --- exits ------------------------------------------------------------------

/// Runs `spec` to its end and compares the final state.
async fn check_end(spec: WorkloadSpec, expected: &str) {
    let workload = Workload::spawn(spec.clone()).await.unwrap();
    let end = workload.wait().await;
    assert_eq!(end.to_string(), expected, "\n{spec:?}");
    assert_eq!(live_members(workload.pid()), [], "{spec:?}");
}

#[tokio::test]
async fn exit_codes_and_signals_map_to_states() {
    let f = Fixture::new();
    check_end(f.shell("exit 0"), "stopped (Completed, exit code 0)").await;
    check_end(f.shell("exit 3"), "failed (NonZeroExit, exit code 3)").await;
    check_end(
        f.shell("kill -KILL $$"),
        "failed (KilledBySignal, signal 9)",
    )
    .await;
    check_end(
        f.shell("kill -TERM $$"),
        "failed (KilledBySignal, signal 15)",
    )
    .await;
    let argv = |argv: &[&str]| WorkloadSpec::argv(argv, f.volume(), f.log());
    check_end(argv(&["true"]), "stopped (Completed, exit code 0)").await;
    check_end(
        argv(&["sh", "-c", "exit 42"]),
        "failed (NonZeroExit, exit code 42)",
    )
    .await;
    // The start gate's `exec` reports a missing program the shell's way.
    check_end(
        argv(&["no-such-program-here"]),
        "failed (NonZeroExit, exit code 127)",
    )
    .await;
    assert!(
        f.read_log().contains("no-such-program-here: not found"),
        "{}",
        f.read_log()
    );
}

#[tokio::test]
async fn what_the_leader_leaves_running_is_stopped_with_it() {
    let f = Fixture::new();
    let workload = Workload::spawn(f.shell("sleep 1000 & echo child=$!; echo ready"))
        .await
        .unwrap();
    let child = f.printed("child").await;
    assert_state(&workload.wait().await, "stopped (Completed, exit code 0)");
    assert!(!is_alive(child), "the background sleep {child} survived");
    assert_eq!(live_members(workload.pid()), []);
}

// --- stop -------------------------------------------------------------------

#[tokio::test]
async fn stop_lets_a_workload_that_traps_sigterm_exit() {
    let f = Fixture::new();
    let workload = Workload::spawn(
        f.shell("trap 'echo got-term; exit 7' TERM; sleep 1000 & echo child=$!; echo ready; wait"),
    )
    .await
    .unwrap();
    let child = f.printed("child").await;
    f.wait_for_line("ready").await;
    assert_state(&workload.state(), "running");
    assert_state(
        &workload.stop().await,
        "stopped (StopRequested, exit code 7)",
    );
    assert!(
        f.read_log().lines().any(|line| line == "got-term"),
        "{}",
        f.read_log()
    );
    assert!(
        !is_alive(child),
        "the background sleep {child} survived the stop"
    );
    assert_eq!(live_members(workload.pid()), []);
}

#[tokio::test]
async fn stop_kills_a_workload_that_ignores_sigterm_after_the_grace_period() {
    let f = Fixture::new();
    // An ignored signal stays ignored across exec: the sleeps ignore it too.
    let spec = f
        .shell("trap '' TERM; sleep 1000 & echo child=$!; echo ready; while :; do wait; done")
        .with_stop_grace(Duration::from_millis(200));
    let workload = Workload::spawn(spec).await.unwrap();
    let child = f.printed("child").await;
    f.wait_for_line("ready").await;
    let mut states = workload.subscribe();
    let stopping = tokio::spawn(async move {
        let mut seen = Vec::new();
        loop {
            seen.push(states.borrow_and_update().to_string());
            if states.changed().await.is_err()
                || seen.last().is_some_and(|s| s.starts_with("stopped"))
            {
                return seen;
            }
        }
    });
    assert_state(
        &workload.stop().await,
        "stopped (KilledAfterGrace, signal 9)",
    );
    let seen = stopping.await.unwrap();
    assert!(seen.contains(&"stopping (killed)".to_owned()), "{seen:?}");
    assert!(
        !is_alive(child),
        "the background sleep {child} survived SIGKILL"
    );
    assert_eq!(live_members(workload.pid()), []);
}

#[tokio::test]
async fn stopping_again_or_after_the_end_returns_the_end() {
    let f = Fixture::new();
    let workload = Workload::spawn(f.shell("echo ready; exec sleep 1000"))
        .await
        .unwrap();
    f.wait_for_line("ready").await;
    let (first, second) = tokio::join!(workload.stop(), workload.stop());
    assert_state(&first, "stopped (StopRequested, signal 15)");
    assert_eq!(first, second);
    assert_eq!(workload.stop().await, first);
    assert!(matches!(
        workload.freeze().await,
        Err(ControlError::Ended(WorkloadState::Stopped {
            reason: StopReason::StopRequested,
            ..
        }))
    ));
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_workload() {
    let f = Fixture::new();
    let workload = Workload::spawn(f.shell("echo ready; exec sleep 1000"))
        .await
        .unwrap();
    f.wait_for_line("ready").await;
    let pid = workload.pid();
    let mut states = workload.subscribe();
    let clone = workload.clone();
    drop(workload);
    assert_state(&states.borrow(), "running");
    drop(clone);
    let end = tokio::time::timeout(DEADLINE, states.wait_for(WorkloadState::is_terminal))
        .await
        .unwrap()
        .unwrap()
        .clone();
    assert_state(&end, "stopped (StopRequested, signal 15)");
    assert!(!is_alive(pid));
}

// --- environment, logs, limits -----------------------------------------------

#[tokio::test]
async fn the_environment_holds_only_what_the_service_passes() {
    let f = Fixture::new();
    // The test runner's own environment is never empty (cargo sets
    // CARGO_* variables), so an inherited variable would show below.
    assert!(std::env::vars_os().count() > 0);
    let spec = f
        .shell(r"tr '\0' '\n' < /proc/$$/environ; echo end-of-environment")
        .with_env("SERVICE_JOB_ID", "j-1")
        .with_env("EMPTY", "");
    let workload = Workload::spawn(spec).await.unwrap();
    assert_state(&workload.wait().await, "stopped (Completed, exit code 0)");
    let log = f.read_log();
    let environment: BTreeSet<&str> = log
        .lines()
        .take_while(|line| *line != "end-of-environment")
        .collect();
    let path = format!("PATH={DEFAULT_PATH}");
    // The start gate's shell exports PWD, the working directory.
    let pwd = format!("PWD={}", f.volume().display());
    let expected = BTreeSet::from(["SERVICE_JOB_ID=j-1", "EMPTY=", path.as_str(), pwd.as_str()]);
    assert_eq!(environment, expected, "\n{log}");
}

#[tokio::test]
async fn stdout_and_stderr_are_appended_to_the_log() {
    let f = Fixture::new();
    std::fs::write(f.log(), "from an earlier run\n").unwrap();
    let workload = Workload::spawn(f.shell("echo to-stdout; echo to-stderr >&2; pwd"))
        .await
        .unwrap();
    assert_state(&workload.wait().await, "stopped (Completed, exit code 0)");
    let expected = format!(
        "from an earlier run\nto-stdout\nto-stderr\n{}\n",
        f.volume().display()
    );
    assert_eq!(f.read_log(), expected);

    let fresh = Fixture::new();
    let workload = Workload::spawn(fresh.shell("echo hello")).await.unwrap();
    workload.wait().await;
    let mode = std::fs::metadata(fresh.log()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[tokio::test]
async fn resource_limits_are_set_inside_and_core_dumps_are_off() {
    let f = Fixture::new();
    let limits = ResourceLimits {
        open_files: 64,
        processes: 100,
        address_space_bytes: Some(1 << 34),
        cpu_seconds: Some(600),
    };
    // `cat` is a child of the workload's shell: the limits are inherited.
    let workload = Workload::spawn(f.shell("cat /proc/self/limits").with_limits(limits))
        .await
        .unwrap();
    assert_state(&workload.wait().await, "stopped (Completed, exit code 0)");
    let log = f.read_log();
    let limit = |name: &str| -> Vec<String> {
        let line = log
            .lines()
            .find(|line| line.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in\n{log}"));
        line[name.len()..]
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(limit("Max core file size"), ["0", "0", "bytes"]);
    assert_eq!(limit("Max open files"), ["64", "64", "files"]);
    assert_eq!(limit("Max processes"), ["100", "100", "processes"]);
    assert_eq!(
        limit("Max address space"),
        ["17179869184", "17179869184", "bytes"]
    );
    assert_eq!(limit("Max cpu time"), ["600", "601", "seconds"]);

    // The defaults, with core dumps off too.
    let f = Fixture::new();
    let workload = Workload::spawn(f.shell("cat /proc/self/limits"))
        .await
        .unwrap();
    workload.wait().await;
    let log = f.read_log();
    for expected in [
        "Max core file size        0                    0                    bytes",
        "Max open files            4096                 4096                 files",
        "Max processes             512                  512                  processes",
    ] {
        assert!(
            log.lines().any(|line| line.trim_end() == expected),
            "{expected}\n{log}"
        );
    }
}

#[tokio::test]
async fn the_process_limit_binds_a_workload_run_as_another_user() {
    let f = Fixture::new();
    // RLIMIT_NPROC counts every process of the user, zombies included, and
    // the init of some machines reaps orphans only now and then: a user id
    // of this test run's own keeps an earlier run's zombies out of the count.
    // It needs no passwd entry.
    let uid = 200_000 + std::process::id() % 100_000;
    // That user must be able to enter the working directory.
    std::fs::set_permissions(f.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(f.volume(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let spec = f
        .shell("id -u; i=0; while [ $i -lt 8 ]; do sleep 1000 & i=$((i+1)); done; echo all-spawned; wait")
        .with_run_as(RunAs { uid, gid: uid })
        .with_limits(ResourceLimits {
            processes: 4,
            ..ResourceLimits::default()
        });
    let workload = Workload::spawn(spec).await.unwrap();
    // dash gives up with exit 2 when fork fails; the supervisor then stops
    // the sleeps it did start.
    assert_state(&workload.wait().await, "failed (NonZeroExit, exit code 2)");
    let log = f.read_log();
    assert!(log.starts_with(&format!("{uid}\n")), "{log}");
    assert!(log.contains("Cannot fork"), "{log}");
    assert!(!log.contains("all-spawned"), "{log}");
    assert_eq!(live_members(workload.pid()), []);
}

// --- freeze -----------------------------------------------------------------

#[tokio::test]
async fn freeze_stops_progress_and_thaw_resumes_it() {
    let counting = "i=0; while :; do i=$((i+1)); echo $i >> counter; sleep 0.01; done";
    let frozen = Fixture::new();
    let control = Fixture::new();
    let workload = Workload::spawn(frozen.shell(counting)).await.unwrap();
    let witness = Workload::spawn(control.shell(counting)).await.unwrap();
    let counter = frozen.volume().join("counter");
    let control_counter = control.volume().join("counter");
    wait_until("progress", || (lines_in(&counter) >= 3).then_some(()))
        .await
        .unwrap();

    workload.freeze().await.unwrap();
    assert_state(&workload.state(), "frozen");
    let members = live_members(workload.pid());
    assert!(!members.is_empty());
    // Stopped, or a `vfork` parent whose child is stopped before its exec.
    let wchan =
        |pid: i32| std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
    assert!(
        members
            .iter()
            .all(|(pid, state)| *state == 'T' || (*state == 'D' && wchan(*pid) == "kernel_clone")),
        "{members:?}"
    );
    let at_freeze = lines_in(&counter);
    // While the control workload makes 20 more steps, the frozen one makes
    // none.
    let control_target = lines_in(&control_counter) + 20;
    wait_until("the control workload's progress", || {
        (lines_in(&control_counter) >= control_target).then_some(())
    })
    .await
    .unwrap();
    assert_eq!(lines_in(&counter), at_freeze);
    assert!(matches!(
        workload.freeze().await,
        Err(ControlError::Transition(_))
    ));

    workload.thaw().await.unwrap();
    assert_state(&workload.state(), "running");
    wait_until("progress after thaw", || {
        (lines_in(&counter) > at_freeze).then_some(())
    })
    .await
    .unwrap();
    assert!(matches!(
        workload.thaw().await,
        Err(ControlError::Transition(_))
    ));

    // A frozen workload stops too: TERM, then CONT so the TERM is delivered.
    workload.freeze().await.unwrap();
    assert_state(&workload.stop().await, "stopped (StopRequested, signal 15)");
    assert_eq!(live_members(workload.pid()), []);
    assert_state(&witness.stop().await, "stopped (StopRequested, signal 15)");
}

// --- the start gate ---------------------------------------------------------

#[tokio::test]
async fn a_prepared_workload_runs_nothing_until_started() {
    let f = Fixture::new();
    let command = "echo ran > marker; echo ran";
    let prepared = Workload::prepare(f.shell(command)).await.unwrap();
    let pid = prepared.record().pgid();
    assert!(is_alive(pid));
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    assert!(
        limits
            .lines()
            .any(|line| line.split_whitespace().collect::<Vec<_>>()
                == ["Max", "core", "file", "size", "0", "0", "bytes"]),
        "the limits are set before the program runs:\n{limits}"
    );
    assert_eq!(f.read_log(), "");
    assert!(!f.volume().join("marker").exists());
    let workload = prepared.start().await.unwrap();
    assert_state(&workload.wait().await, "stopped (Completed, exit code 0)");
    assert_eq!(f.read_log(), "ran\n");
    assert!(f.volume().join("marker").exists());
}

#[tokio::test]
async fn a_prepared_workload_that_is_dropped_never_runs() {
    let f = Fixture::new();
    let prepared = Workload::prepare(f.shell("echo ran > marker; echo ran"))
        .await
        .unwrap();
    let pid = prepared.record().pgid();
    drop(prepared);
    wait_until("the gate's exit", || (!is_alive(pid)).then_some(()))
        .await
        .unwrap();
    assert_eq!(f.read_log(), "");
    assert!(!f.volume().join("marker").exists());
}

// --- spawn errors -----------------------------------------------------------

#[tokio::test]
async fn spawn_errors_start_nothing() {
    let f = Fixture::new();
    let missing = f.dir.path().join("missing");
    let error = Workload::spawn(WorkloadSpec::shell("echo ran", &missing, f.log()))
        .await
        .unwrap_err();
    assert!(
        matches!(error, SpawnError::WorkingDirectory { ref path, .. } if *path == missing),
        "{error:?}"
    );

    let error = Workload::spawn(WorkloadSpec::shell(
        "echo ran",
        f.volume(),
        missing.join("w.log"),
    ))
    .await
    .unwrap_err();
    assert!(matches!(error, SpawnError::LogFile { .. }), "{error:?}");

    let error = Workload::spawn(f.shell("echo ran").with_env("A=B", "1"))
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid workload: the environment variable name \"A=B\" is empty or holds '=' or NUL"
    );
    assert_eq!(f.read_log(), "");
}

// --- orphans ----------------------------------------------------------------

/// A workload spawned by a "previous run": a runtime whose supervising task
/// vanishes, as if keyward had died, leaving the process unsupervised.
fn spawn_in_a_previous_run(f: &Fixture) -> (WorkloadRecord, i32) {
    let previous_run = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (record, child) = previous_run.block_on(async {
        let workload = Workload::spawn(f.shell("sleep 1000 & echo child=$!; echo ready; wait"))
            .await
            .unwrap();
        let child = f.printed("child").await;
        f.wait_for_line("ready").await;
        let record = workload.record().clone();
        // Dropping the handle would stop the workload; a crash does not.
        std::mem::forget(workload);
        (record, child)
    });
    drop(previous_run);
    (record, child)
}

#[test]
fn an_orphan_of_a_previous_run_is_killed_from_its_record() {
    let f = Fixture::new();
    let (record, child) = spawn_in_a_previous_run(&f);
    let leader = record.pgid();
    assert!(
        is_alive(leader) && is_alive(child),
        "the orphan should still run"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let outcomes = reap_orphans(std::slice::from_ref(&record)).await.unwrap();
        assert!(
            matches!(outcomes[..], [Ok(Reaped::Killed { processes: 2 })]),
            "{outcomes:?}"
        );
        assert!(!is_alive(leader) && !is_alive(child));
        assert_eq!(live_members(leader), []);

        let again = reap_orphans(&[record]).await.unwrap();
        assert!(matches!(again[..], [Ok(Reaped::NotRunning)]), "{again:?}");
    });
}

#[tokio::test]
async fn reaping_leaves_alone_what_is_not_the_recorded_workload() {
    let f = Fixture::new();
    let bystander = Workload::spawn(f.shell("echo ready; exec sleep 1000"))
        .await
        .unwrap();
    f.wait_for_line("ready").await;
    let record = bystander.record();
    let own_group = rustix::process::getpgrp().as_raw_nonzero().get();
    let records = [
        // Same group id, another leader: the id was reused.
        WorkloadRecord::new(
            record.pgid(),
            record.leader_start_ticks() + 1,
            record.boot_id().to_owned(),
        ),
        WorkloadRecord::new(
            record.pgid(),
            record.leader_start_ticks(),
            "another-boot".to_owned(),
        ),
        WorkloadRecord::new(1, 0, record.boot_id().to_owned()),
        WorkloadRecord::new(own_group, 0, record.boot_id().to_owned()),
    ];
    let outcomes = reap_orphans(&records).await.unwrap();
    assert!(
        matches!(
            outcomes[..],
            [
                Ok(Reaped::IdReused),
                Ok(Reaped::PreviousBoot),
                Err(ReapError::Group(GroupIdError::Reserved(1))),
                Err(ReapError::Group(GroupIdError::Own(_))),
            ]
        ),
        "{outcomes:?}"
    );
    assert_state(&bystander.state(), "running");
    assert!(is_alive(bystander.pid()));
    let end = bystander.stop().await;
    assert!(matches!(
        end,
        WorkloadState::Stopped {
            exit: Some(Exit::Signal(15)),
            reason: StopReason::StopRequested
        }
    ));
}
