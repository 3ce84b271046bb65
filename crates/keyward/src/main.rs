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
        // Verification findings choose their own exit code (trail_cli.rs).
        cli::Command::Trail(command) => return trail_cli::run(command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("keyward: {error:#}");
            ExitCode::FAILURE
        }
    }
}
