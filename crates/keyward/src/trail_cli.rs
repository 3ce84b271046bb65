//! `keyward trail verify|export|prune|public-key`: the audit trail of a data
//! directory. Verify and export read it while the server runs or after it
//! stopped (without the server's lock: the server only appends, and readers
//! stop where the written frames end); prune is for a stopped server.
//!
//! Exit codes: 0 verified (or done), 1 the trail failed verification (the
//! first bad position is printed), 2 the trail could not be read at all.

use std::process::ExitCode;

use keyward_trail::{export_data_dir, prune_data_dir, verify_data_dir_in_detail, TrailError};

use crate::cli::TrailCommand;

/// Exit code of a trail that was read and found tampered with.
const EXIT_TAMPERED: u8 = 1;
/// Exit code of a trail that could not be read.
const EXIT_UNREADABLE: u8 = 2;

pub fn run(command: TrailCommand) -> ExitCode {
    match run_inner(command) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("keyward: {error}");
            ExitCode::from(EXIT_UNREADABLE)
        }
    }
}

fn run_inner(command: TrailCommand) -> Result<ExitCode, TrailError> {
    match command {
        TrailCommand::Verify(args) => {
            let verification =
                verify_data_dir_in_detail(&args.dir.data_dir, args.public_key.as_deref())?;
            let report = verification.report;
            if let Some(cut) = &verification.cut_short {
                eprintln!(
                    "note: {} bytes at offset {} of {} are a write that a crash cut short; it was never acknowledged, and the server clears it when it next starts",
                    cut.bytes,
                    cut.offset,
                    cut.segment.display()
                );
            }
            if report.is_ok() {
                println!("{report}");
                return Ok(ExitCode::SUCCESS);
            }
            eprintln!("keyward: {report}");
            if let Some((position, sequence)) = report.first_bad_record() {
                eprintln!("first bad position: {position} (sequence {sequence})");
            }
            Ok(ExitCode::from(EXIT_TAMPERED))
        }
        TrailCommand::Export(args) => {
            match export_data_dir(&args.dir.data_dir, &args.out, args.public_key.as_deref())? {
                Ok(summary) => {
                    println!(
                        "exported {} records in {} log files with {} digest files to {} ({} records after the newest digest are not yet signed); public key: {}",
                        summary.records,
                        summary.log_files,
                        summary.digest_files,
                        args.out.display(),
                        summary.unsigned_records,
                        summary.public_key_file.display()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(report) => {
                    eprintln!("keyward: not exporting: {report}");
                    Ok(ExitCode::from(EXIT_TAMPERED))
                }
            }
        }
        TrailCommand::Prune(args) => {
            let retention = time::Duration::seconds(
                i64::try_from(args.retention_days.saturating_mul(86_400)).unwrap_or(i64::MAX),
            );
            let cutoff = time::OffsetDateTime::now_utc()
                .checked_sub(retention)
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            // A running server writes the trail's state and prunes by itself.
            let _lock = match keyward_store::DirLock::take(&args.dir.data_dir) {
                Ok(lock) => lock,
                Err(error) => {
                    eprintln!("keyward: {error}; a running server prunes by itself (--trail-retention-days)");
                    return Ok(ExitCode::from(EXIT_UNREADABLE));
                }
            };
            let deleted = prune_data_dir(&args.dir.data_dir, cutoff)?;
            println!("pruned {deleted} events");
            Ok(ExitCode::SUCCESS)
        }
        TrailCommand::PublicKey(args) => {
            let path = args.data_dir.join(keyward_trail::PUBLIC_KEY_FILE);
            let pem = std::fs::read_to_string(&path).map_err(|source| TrailError::Io {
                action: "read",
                path,
                source,
            })?;
            print!("{pem}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
