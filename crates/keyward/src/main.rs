//! `keyward`: the command line. Parses arguments, then hands over to the
//! libraries; errors become an exit code here and nowhere else.
#![forbid(unsafe_code)]

mod admin;
mod bootstrap;
mod cli;
mod envelope_cli;
mod serve;
mod trail_cli;

use std::process::ExitCode;

use clap::Parser;

/// mimalloc instead of the system allocator: see Cargo.toml and BENCHMARKS.md.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match cli.command {
        cli::Command::Serve(args) => serve::run(args),
        cli::Command::Encrypt(args) => envelope_cli::run_encrypt(args),
        cli::Command::Decrypt(args) => envelope_cli::run_decrypt(args),
        cli::Command::Admin(args) => admin::run(args),
        cli::Command::Completions(args) => completions(args.shell),
        // Verification findings choose their own exit code (trail_cli.rs).
        cli::Command::Trail(command) => return trail_cli::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keyward: {}", one_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// Writes the completion script of `shell` to stdout, generated from the
/// same definitions as `--help`.
fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
    let mut command = <cli::Cli as clap::CommandFactory>::command();
    // Generated into memory: clap_complete panics when its writer fails.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "keyward", &mut script);
    let mut stdout = std::io::stdout().lock();
    match std::io::Write::write_all(&mut stdout, &script)
        .and_then(|()| std::io::Write::flush(&mut stdout))
    {
        // A reader that stopped early (`| head`) is not an error.
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// The error and its causes on one line, as `{:#}` prints them, without a
/// cause whose text the line already holds: some errors put their source
/// in their own message and return it as `source()` as well.
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
