//! Parsing of the `/proc` files the supervisor reads, pure: enough of
//! `stat` to find a process group's members and tell a group from a later
//! one that reused its id, and enough of `status` and `wchan` to tell a
//! frozen `vfork` parent from a process still at work.
//!
//! `stat` field numbers are those of proc_pid_stat(5)
//! (<https://man7.org/linux/man-pages/man5/proc_pid_stat.5.html>): (1) pid,
//! (2) comm in parentheses, (3) state, (4) ppid, (5) pgrp, … (22) starttime in
//! clock ticks after boot. `comm` is chosen by the process and may hold
//! spaces and `)`, so the fields after it are counted from the *last* `)`.

/// The fields of one `/proc/<pid>/stat` line the supervisor uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub(crate) pid: i32,
    /// One letter: `R`, `S`, `D`, `T` (stopped), `t` (tracing stop), `Z`
    /// (zombie), `X` (dead), …
    pub(crate) state: char,
    pub(crate) pgid: i32,
    /// Start time in clock ticks after boot: with the boot id, it names one
    /// process for the machine's uptime even after its pid number is reused.
    pub(crate) start_ticks: u64,
}

impl ProcStat {
    /// A zombie or dead process runs no code and holds no file open.
    pub(crate) fn has_ended(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }

    /// Stopped by a signal or a tracer, or already ended: it makes no
    /// progress until continued.
    pub(crate) fn is_stopped(&self) -> bool {
        matches!(self.state, 'T' | 't') || self.has_ended()
    }
}

/// Parses one `/proc/<pid>/stat` text; `None` when it is not in that format.
pub(crate) fn parse_stat(text: &str) -> Option<ProcStat> {
    let (pid, rest) = text.split_once(" (")?;
    let close = rest.rfind(')')?;
    let after_comm = rest.get(close + 1..)?;
    // After the comm, the fields are space-separated, starting at (3) state.
    let mut fields = after_comm.split_ascii_whitespace();
    let state_field = fields.next()?;
    let mut state_chars = state_field.chars();
    let state = state_chars.next()?;
    if state_chars.next().is_some() {
        return None;
    }
    let _ppid = fields.next()?;
    let pgid = fields.next()?.parse().ok()?;
    // Fields (6) session to (21) itrealvalue, then (22) starttime.
    let start_ticks = fields.nth(22 - 6)?.parse().ok()?;
    Some(ProcStat {
        pid: pid.trim().parse().ok()?,
        state,
        pgid,
        start_ticks,
    })
}

/// `SIGSTOP`'s bit in the pending-signal masks of `/proc/<pid>/status`
/// (signal n is bit n - 1; SIGSTOP is 19 on every Linux architecture but
/// alpha, sparc and mips, which keyward does not build for).
const SIGSTOP_BIT: u64 = 1 << (19 - 1);

/// True when `/proc/<pid>/task/<tid>/status` shows SIGSTOP pending for the
/// thread (`SigPnd`) or its process (`ShdPnd`).
pub(crate) fn stop_pending(status: &str) -> bool {
    status.lines().any(|line| {
        let mask = line
            .strip_prefix("SigPnd:")
            .or_else(|| line.strip_prefix("ShdPnd:"));
        mask.and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
            .is_some_and(|mask| mask & SIGSTOP_BIT != 0)
    })
}

/// True when a `wchan` names the wait of a `vfork` parent for its child to
/// `exec` or exit. dash starts commands with `vfork`; the parent then sleeps
/// uninterruptibly (`D`) and cannot stop while the child is stopped before
/// its `exec`, yet it runs nothing either. Linux ≥ 5.10 shows
/// `kernel_clone`; older kernels `_do_fork` or `do_fork`.
pub(crate) fn is_vfork_wait(wchan: &str) -> bool {
    matches!(
        wchan.trim(),
        "kernel_clone" | "_do_fork" | "do_fork" | "wait_for_vfork_done"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stat line as Linux 6 writes it, with the four fields under test.
    fn line(pid: &str, comm: &str, state: &str, pgid: &str, start_ticks: &str) -> String {
        format!(
            "{pid} ({comm}) {state} 1 {pgid} 7 0 -1 4194560 120 0 0 0 1 2 0 0 20 0 1 0 {start_ticks} 2600960 231 18446744073709551615 0 0 0 0 0 0 65536 4 65538 1 0 0 17 1 0 0 0 0 0"
        )
    }

    #[track_caller]
    fn check(text: &str, expected: Option<(i32, char, i32, u64)>) {
        let actual = parse_stat(text).map(|s| (s.pid, s.state, s.pgid, s.start_ticks));
        assert_eq!(actual, expected, "\n{text}");
    }

    #[test]
    fn fields_are_found_after_the_last_parenthesis() {
        check(
            &line("4242", "sleep", "S", "4240", "98765"),
            Some((4242, 'S', 4240, 98765)),
        );
        check(
            &line("7", "a) b (c) T 1 2", "T", "7", "5"),
            Some((7, 'T', 7, 5)),
        );
        check(&line("9", "", "Z", "3", "0"), Some((9, 'Z', 3, 0)));
    }

    #[test]
    fn malformed_lines_are_refused() {
        check("", None);
        check("4242 sleep S 1 4240", None);
        check(&line("x", "sleep", "S", "1", "2"), None);
        check(&line("1", "sleep", "SS", "1", "2"), None);
        check(&line("1", "sleep", "S", "-", "2"), None);
        check(&line("1", "sleep", "S", "1", "2x"), None);
        check("1 (sleep) S 1 1 1 0", None);
    }

    #[test]
    fn stopped_and_ended_states() {
        let of = |state: char| ProcStat {
            pid: 1,
            state,
            pgid: 1,
            start_ticks: 0,
        };
        for (state, stopped, ended) in [
            ('R', false, false),
            ('S', false, false),
            ('D', false, false),
            ('T', true, false),
            ('t', true, false),
            ('Z', true, true),
            ('X', true, true),
        ] {
            assert_eq!(of(state).is_stopped(), stopped, "{state}");
            assert_eq!(of(state).has_ended(), ended, "{state}");
        }
    }

    #[test]
    fn a_pending_sigstop_is_found_in_either_mask() {
        let status = |sig_pnd: &str, shd_pnd: &str| {
            format!("Name:\tsh\nState:\tD (disk sleep)\nSigPnd:\t{sig_pnd}\nShdPnd:\t{shd_pnd}\nSigBlk:\t0000000000040000\n")
        };
        for (sig_pnd, shd_pnd, expected) in [
            ("0000000000000000", "0000000000000000", false),
            ("0000000000000000", "0000000000050000", true),
            ("0000000000040000", "0000000000000000", true),
            ("0000000000010000", "0000000000000100", false),
            ("zz", "0000000000000000", false),
        ] {
            assert_eq!(
                stop_pending(&status(sig_pnd, shd_pnd)),
                expected,
                "{sig_pnd} {shd_pnd}"
            );
        }
        assert!(!stop_pending(""));
    }

    #[test]
    fn vfork_waits_by_kernel_version() {
        for (wchan, expected) in [
            ("kernel_clone", true),
            ("_do_fork\n", true),
            ("do_fork", true),
            ("wait_for_vfork_done", true),
            ("do_wait", false),
            ("fuse_wait_answer", false),
            ("0", false),
            ("", false),
        ] {
            assert_eq!(is_vfork_wait(wchan), expected, "{wchan:?}");
        }
    }
}
