//! What a service asks to run: the program, its working directory (the
//! mounted volume), the environment it passes, the log file, the limits and
//! the stop grace period. Pure: validation reads nothing from the system.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `PATH` a workload gets when the service passes none. keyward's own
/// `PATH` is never used: nothing of keyward's environment reaches a workload.
pub const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The shell that runs [`Program::Shell`] commands and the start gate.
pub const SHELL: &str = "/bin/sh";

/// util-linux's `setpriv`, which switches to [`RunAs`]'s user after the start
/// gate (Debian's util-linux is `Essential`, so it is always installed).
pub const SETPRIV: &str = "/usr/bin/setpriv";

/// What to execute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Program {
    /// `sh -c COMMAND`.
    Shell(String),
    /// A program and its arguments; the program is looked up in the
    /// workload's `PATH` unless it holds a `/`.
    Argv(Vec<OsString>),
}

/// Resource limits set on the workload's processes (soft = hard, so the
/// workload cannot raise them unless it runs as root).
///
/// `RLIMIT_CORE` is always 0 and is not a field: a core dump would write the
/// workload's memory (plaintext of its volume) somewhere outside the volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceLimits {
    /// `RLIMIT_NOFILE`: open file descriptors per process.
    pub open_files: u64,
    /// `RLIMIT_NPROC`: processes (threads included) of the workload's real
    /// user id, counted over the whole machine. Linux does not enforce it
    /// for root (or any holder of `CAP_SYS_RESOURCE`/`CAP_SYS_ADMIN`), so it
    /// bounds a workload only run as a dedicated user ([`WorkloadSpec::with_run_as`]).
    pub processes: u64,
    /// `RLIMIT_AS`: bytes of virtual memory per process.
    pub address_space_bytes: Option<u64>,
    /// `RLIMIT_CPU`: seconds of CPU time per process (SIGXCPU, then SIGKILL
    /// at the hard limit, which is set one second later).
    pub cpu_seconds: Option<u64>,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        Self {
            open_files: 4096,
            processes: 512,
            address_space_bytes: None,
            cpu_seconds: None,
        }
    }
}

/// The user and group a workload runs as, instead of keyward's.
///
/// The switch happens after the limits are set, through [`SETPRIV`] between
/// the start gate and the program: `prlimit(2)` on a process of another user
/// needs `CAP_SYS_RESOURCE`, which keyward may lack (root in a container
/// often does), while setting them on a process of keyward's own user
/// needs nothing. Supplementary groups are cleared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

/// A workload to start. Build it with [`WorkloadSpec::shell`] or
/// [`WorkloadSpec::argv`], then the `with_*` methods.
///
/// `Debug` shows the environment's names, not its values: a service may pass
/// credentials there.
#[derive(Clone)]
pub struct WorkloadSpec {
    pub(crate) program: Program,
    pub(crate) working_directory: PathBuf,
    pub(crate) log_file: PathBuf,
    pub(crate) environment: Vec<(OsString, OsString)>,
    pub(crate) limits: ResourceLimits,
    pub(crate) run_as: Option<RunAs>,
    pub(crate) stop_grace: Duration,
}

/// A spec that cannot be started.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("the command is empty")]
    EmptyCommand,
    #[error("the command holds a NUL byte")]
    NulInCommand,
    #[error("the environment variable name {0:?} is empty or holds '=' or NUL")]
    InvalidVariableName(OsString),
    #[error("the value of the environment variable {0:?} holds a NUL byte")]
    NulInVariableValue(OsString),
    #[error("the environment variable {0:?} is given twice")]
    DuplicateVariable(OsString),
    #[error("the {0} must be an absolute path")]
    RelativePath(&'static str),
    #[error("a resource limit of 0 open files or 0 processes leaves nothing to run")]
    ZeroLimit,
}

impl std::fmt::Debug for WorkloadSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let variable_names: Vec<&OsStr> = self
            .environment
            .iter()
            .map(|(name, _)| name.as_os_str())
            .collect();
        f.debug_struct("WorkloadSpec")
            .field("program", &self.program)
            .field("working_directory", &self.working_directory)
            .field("log_file", &self.log_file)
            .field("variable_names", &variable_names)
            .field("limits", &self.limits)
            .field("run_as", &self.run_as)
            .field("stop_grace", &self.stop_grace)
            .finish()
    }
}

impl WorkloadSpec {
    /// Runs `sh -c command` in `working_directory`, appending its stdout and
    /// stderr to `log_file`.
    pub fn shell(
        command: impl Into<String>,
        working_directory: impl Into<PathBuf>,
        log_file: impl Into<PathBuf>,
    ) -> Self {
        Self::new(
            Program::Shell(command.into()),
            working_directory.into(),
            log_file.into(),
        )
    }

    /// Runs `argv[0]` with the arguments `argv[1..]`.
    pub fn argv<I, S>(
        argv: I,
        working_directory: impl Into<PathBuf>,
        log_file: impl Into<PathBuf>,
    ) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self::new(
            Program::Argv(argv.into_iter().map(Into::into).collect()),
            working_directory.into(),
            log_file.into(),
        )
    }

    fn new(program: Program, working_directory: PathBuf, log_file: PathBuf) -> Self {
        Self {
            program,
            working_directory,
            log_file,
            environment: Vec::new(),
            limits: ResourceLimits::default(),
            run_as: None,
            stop_grace: Duration::from_secs(10),
        }
    }

    /// Adds one variable to the workload's otherwise empty environment.
    pub fn with_env(mut self, name: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.environment.push((name.into(), value.into()));
        self
    }

    pub fn with_limits(mut self, limits: ResourceLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_run_as(mut self, run_as: RunAs) -> Self {
        self.run_as = Some(run_as);
        self
    }

    /// How long a stop waits after SIGTERM before SIGKILL (default 10 s).
    pub fn with_stop_grace(mut self, stop_grace: Duration) -> Self {
        self.stop_grace = stop_grace;
        self
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn working_directory(&self) -> &Path {
        &self.working_directory
    }

    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    pub fn stop_grace(&self) -> Duration {
        self.stop_grace
    }

    /// Checks everything that can be checked without the system.
    pub fn validate(&self) -> Result<(), SpecError> {
        match &self.program {
            Program::Shell(command) if command.trim().is_empty() => {
                return Err(SpecError::EmptyCommand)
            }
            Program::Shell(command) if command.contains('\0') => {
                return Err(SpecError::NulInCommand)
            }
            Program::Shell(_) => {}
            Program::Argv(argv) => match argv.first() {
                None => return Err(SpecError::EmptyCommand),
                Some(program) if program.is_empty() => return Err(SpecError::EmptyCommand),
                Some(_) if argv.iter().any(|arg| has_nul(arg)) => {
                    return Err(SpecError::NulInCommand)
                }
                Some(_) => {}
            },
        }
        if !self.working_directory.is_absolute() {
            return Err(SpecError::RelativePath("working directory"));
        }
        if !self.log_file.is_absolute() {
            return Err(SpecError::RelativePath("log file"));
        }
        let mut names = std::collections::HashSet::new();
        for (name, value) in &self.environment {
            if name.is_empty() || has_nul(name) || name.as_bytes().contains(&b'=') {
                return Err(SpecError::InvalidVariableName(name.clone()));
            }
            if has_nul(value) {
                return Err(SpecError::NulInVariableValue(name.clone()));
            }
            if !names.insert(name) {
                return Err(SpecError::DuplicateVariable(name.clone()));
            }
        }
        if self.limits.open_files == 0 || self.limits.processes == 0 {
            return Err(SpecError::ZeroLimit);
        }
        Ok(())
    }

    /// The exact environment the workload gets: the service's variables,
    /// plus [`DEFAULT_PATH`] when they hold no `PATH`.
    pub fn environment(&self) -> Vec<(OsString, OsString)> {
        let mut environment = self.environment.clone();
        if !environment.iter().any(|(name, _)| name == "PATH") {
            environment.push(("PATH".into(), DEFAULT_PATH.into()));
        }
        environment
    }

    /// The argv the start gate `exec`s once released.
    pub(crate) fn program_argv(&self) -> Vec<OsString> {
        let mut argv: Vec<OsString> = Vec::new();
        if let Some(RunAs { uid, gid }) = self.run_as {
            argv.extend([
                SETPRIV.into(),
                format!("--reuid={uid}").into(),
                format!("--regid={gid}").into(),
                "--clear-groups".into(),
                "--".into(),
            ]);
        }
        match &self.program {
            Program::Shell(command) => argv.extend([SHELL.into(), "-c".into(), command.into()]),
            Program::Argv(program) => argv.extend(program.iter().cloned()),
        }
        argv
    }
}

fn has_nul(text: &OsStr) -> bool {
    text.as_bytes().contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> WorkloadSpec {
        WorkloadSpec::shell("true", "/volume", "/logs/w.log")
    }

    #[track_caller]
    fn check(spec: WorkloadSpec, expected: &str) {
        let actual = match spec.validate() {
            Ok(()) => "ok".to_owned(),
            Err(error) => error.to_string(),
        };
        assert_eq!(actual, expected, "\n{spec:?}");
    }

    #[test]
    fn validation() {
        check(spec(), "ok");
        check(spec().with_env("A", "1").with_env("B", ""), "ok");
        check(WorkloadSpec::argv(["sleep", "1"], "/v", "/l"), "ok");
        check(
            WorkloadSpec::shell(" \n", "/v", "/l"),
            "the command is empty",
        );
        check(
            WorkloadSpec::shell("a\0b", "/v", "/l"),
            "the command holds a NUL byte",
        );
        check(
            WorkloadSpec::argv(Vec::<String>::new(), "/v", "/l"),
            "the command is empty",
        );
        check(WorkloadSpec::argv([""], "/v", "/l"), "the command is empty");
        check(
            WorkloadSpec::argv(["echo", "a\0"], "/v", "/l"),
            "the command holds a NUL byte",
        );
        check(
            WorkloadSpec::shell("true", "volume", "/l"),
            "the working directory must be an absolute path",
        );
        check(
            WorkloadSpec::shell("true", "/v", "w.log"),
            "the log file must be an absolute path",
        );
        check(
            spec().with_env("A=B", "1"),
            "the environment variable name \"A=B\" is empty or holds '=' or NUL",
        );
        check(
            spec().with_env("", "1"),
            "the environment variable name \"\" is empty or holds '=' or NUL",
        );
        check(
            spec().with_env("A", "x\0"),
            "the value of the environment variable \"A\" holds a NUL byte",
        );
        check(
            spec().with_env("A", "1").with_env("A", "2"),
            "the environment variable \"A\" is given twice",
        );
        check(
            spec().with_limits(ResourceLimits {
                open_files: 0,
                ..ResourceLimits::default()
            }),
            "a resource limit of 0 open files or 0 processes leaves nothing to run",
        );
    }

    #[test]
    fn debug_output_leaves_out_variable_values() {
        let debug = format!("{:?}", spec().with_env("AWS_SESSION_TOKEN", "secret-value"));
        assert!(debug.contains("AWS_SESSION_TOKEN"), "{debug}");
        assert!(!debug.contains("secret-value"), "{debug}");
    }

    #[test]
    fn path_is_added_only_when_the_service_gives_none() {
        assert_eq!(
            spec().with_env("A", "1").environment(),
            [
                ("A".into(), "1".into()),
                ("PATH".into(), DEFAULT_PATH.into())
            ]
        );
        assert_eq!(
            spec().with_env("PATH", "/opt/bin").environment(),
            [("PATH".into(), "/opt/bin".into())]
        );
    }

    #[test]
    fn a_shell_command_runs_under_sh_c() {
        assert_eq!(
            spec().program_argv(),
            [OsString::from("/bin/sh"), "-c".into(), "true".into()]
        );
        assert_eq!(
            WorkloadSpec::argv(["sleep", "1"], "/v", "/l").program_argv(),
            [OsString::from("sleep"), "1".into()]
        );
        assert_eq!(
            spec()
                .with_run_as(RunAs {
                    uid: 1001,
                    gid: 1002
                })
                .program_argv(),
            [
                "/usr/bin/setpriv",
                "--reuid=1001",
                "--regid=1002",
                "--clear-groups",
                "--",
                "/bin/sh",
                "-c",
                "true"
            ]
            .map(OsString::from)
        );
    }
}
