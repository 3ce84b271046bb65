//! `keyward encrypt` and `keyward decrypt`: AWS Encryption SDK messages under
//! KMS keys (issue 5), through the [`kms_keyring::KmsKeyring`].
//!
//! Output files never appear half-written: both commands write to a
//! temporary file in the destination directory and rename it onto OUTPUT
//! only after the operation succeeded (and flushed); on any error the
//! temporary file is removed. For decrypt this is what keeps unverified
//! plaintext of a signed message away from the path the user asked for.

pub mod kms_keyring;
mod progress;

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use keyward_envelope::{
    decrypt, encrypt, AlgorithmSuite, CacheLimits, CachingCmm, Clock, DecryptOptions, DefaultCmm,
    EncryptOptions, EncryptionContext, EnvelopeError, ErrorKind, MaterialsCache, MaterialsManager,
    SignedStreaming,
};

use crate::cli::{DecryptArgs, EncryptArgs, KmsClientArgs, SuiteArg};
use kms_keyring::{ClientSettings, KmsKeyring};
use progress::{Progress, ProgressReader};

const IO_BUFFER: usize = 64 * 1024;

pub fn run_encrypt(args: EncryptArgs) -> anyhow::Result<()> {
    if args.client.keys.is_empty() {
        anyhow::bail!("encrypt needs at least one --key");
    }
    let jobs = jobs(&args.input, &args.output, encrypted_name)?;
    check_outputs(&jobs, args.force)?;
    let cmm = EncryptCmm::new(&args)?;
    let suite = match args.suite {
        SuiteArg::CommitEcdsaP384 => AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
        SuiteArg::Commit => AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
    };
    let options = EncryptOptions::new()
        .with_encryption_context(context(&args.context))
        .with_algorithm_suite(suite)
        .with_frame_length(args.frame_length)
        // Readable by every ESDK, the ESDK CLI's Python SDK 3.x included,
        // which rejects a full final frame (see `with_empty_final_frame`).
        .with_empty_final_frame(true)
        .with_threads(threads(args.threads));
    for (input, output) in &jobs {
        let (input, output) = (input.as_path(), output.as_path());
        let (reader, size) = open_input(input)?;
        let mut options = options.clone();
        if let (EncryptCmm::Cached(_), Some(size)) = (&cmm, size) {
            // The cache counts bytes per data key before encrypting, so it
            // only serves messages of declared length (spec, caching CMM).
            options = options.with_plaintext_length_bound(size);
        }
        let mut progress = Progress::new(
            format!("encrypting {}", shown(input)),
            size,
            !args.client.quiet,
        );
        let reader = ProgressReader::new(reader, &mut progress);
        let header = write_output(output, args.force, |writer| {
            encrypt(cmm.as_dyn(), &options, reader, writer)
        })
        .map_err(|error| explain("encrypt", input, error))?;
        progress.finish();
        if !args.client.quiet && !is_dash(output) {
            let keys = header.encrypted_data_keys().len();
            eprintln!(
                "keyward: encrypted {} into {} ({keys} data key{})",
                shown(input),
                output.display(),
                if keys == 1 { "" } else { "s" },
            );
        }
    }
    if let (EncryptCmm::Cached(cached), false) = (&cmm, args.client.quiet) {
        let stats = cached.stats();
        eprintln!(
            "keyward: {} message{} under {} new data key{} ({} from the data-key cache)",
            jobs.len(),
            if jobs.len() == 1 { "" } else { "s" },
            stats.encrypt_misses,
            if stats.encrypt_misses == 1 { "" } else { "s" },
            stats.encrypt_hits,
        );
    }
    Ok(())
}

/// The materials manager of `keyward encrypt`: straight to KMS, or through
/// the data-key cache when `--cache-max-age` is given.
enum EncryptCmm {
    Direct(DefaultCmm<KmsKeyring>),
    Cached(CachingCmm<DefaultCmm<KmsKeyring>>),
}

impl EncryptCmm {
    fn new(args: &EncryptArgs) -> anyhow::Result<EncryptCmm> {
        let direct = DefaultCmm::new(keyring(&args.client, None)?);
        let Some(max_age) = args.cache_max_age else {
            return Ok(EncryptCmm::Direct(direct));
        };
        let mut limits =
            CacheLimits::new(Duration::from_secs_f64(max_age)).context("--cache-max-age")?;
        if let Some(max) = args.cache_max_messages {
            limits = limits
                .with_max_messages(max)
                .context("--cache-max-messages")?;
        }
        if let Some(max) = args.cache_max_bytes {
            limits = limits.with_max_bytes(max).context("--cache-max-bytes")?;
        }
        // One run uses one context and suite, so a few entries are plenty.
        let cache = MaterialsCache::new(8);
        let cached = CachingCmm::new(direct, cache, limits, Arc::new(MonotonicClock::new()))
            .context("setting up the data-key cache")?;
        Ok(EncryptCmm::Cached(cached))
    }

    fn as_dyn(&self) -> &dyn MaterialsManager {
        match self {
            EncryptCmm::Direct(cmm) => cmm,
            EncryptCmm::Cached(cmm) => cmm,
        }
    }
}

/// The process's monotonic clock, for the data-key cache's maximum age.
struct MonotonicClock(Instant);

impl MonotonicClock {
    fn new() -> Self {
        MonotonicClock(Instant::now())
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// `--threads`, or one per CPU up to 8 (past that the reading thread, not
/// the cipher, is the bound).
fn threads(requested: Option<u16>) -> usize {
    requested.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
        usize::from,
    )
}

pub fn run_decrypt(args: DecryptArgs) -> anyhow::Result<()> {
    if args.client.keys.is_empty() && !args.discovery {
        anyhow::bail!("decrypt needs at least one --key, or --discovery");
    }
    let jobs = jobs(&args.input, &args.output, decrypted_name)?;
    check_outputs(&jobs, args.force)?;
    let discovery = args.discovery.then(|| args.discovery_account.clone());
    let cmm = DefaultCmm::new(keyring(&args.client, discovery)?);
    let to_stdout = is_dash(&args.output);
    let streaming = if to_stdout && !args.allow_unverified_stdout {
        SignedStreaming::Refuse
    } else {
        // To a file, the temporary file holds plaintext until it is verified.
        SignedStreaming::ReleaseBeforeSignature
    };
    let mut options = DecryptOptions::new()
        .with_expected_encryption_context(context(&args.context))
        .with_signed_streaming(streaming)
        .with_threads(threads(args.threads));
    if let Some(max) = args.max_encrypted_data_keys {
        options = options.with_max_encrypted_data_keys(max);
    }
    for (input, output) in jobs {
        decrypt_one(&cmm, &options, &args, &input, &output)?;
    }
    Ok(())
}

fn decrypt_one(
    cmm: &DefaultCmm<KmsKeyring>,
    options: &DecryptOptions,
    args: &DecryptArgs,
    input: &Path,
    output: &Path,
) -> anyhow::Result<()> {
    let to_stdout = is_dash(output);
    let (reader, size) = open_input(input)?;
    let mut progress = Progress::new(
        format!("decrypting {}", shown(input)),
        size,
        !args.client.quiet,
    );
    let reader = ProgressReader::new(reader, &mut progress);
    let result = write_output(output, args.force, |writer| {
        decrypt(cmm, options, reader, writer)
    });
    progress.finish();
    match result {
        Ok(_) => {
            if !args.client.quiet && !to_stdout {
                eprintln!(
                    "keyward: decrypted {} into {}",
                    shown(input),
                    output.display()
                );
            }
            Ok(())
        }
        Err(OutputFailure::Operation(EnvelopeError::SignedMessageNeedsOptIn)) => Err(anyhow!(
            "decrypt {}: the message is signed, and writing it to stdout would release \
             plaintext before its signature is verified; decrypt to a file with -o FILE, \
             or pass --allow-unverified-stdout and discard the output if decrypt fails",
            shown(input)
        )),
        Err(error) => {
            let error = explain("decrypt", input, error);
            if to_stdout && args.allow_unverified_stdout {
                Err(error.context("plaintext already written to stdout must be discarded"))
            } else {
                Err(error)
            }
        }
    }
}

/// The suffix `encrypt` gives files of a directory.
const ENCRYPTED_SUFFIX: &str = ".encrypted";

fn encrypted_name(name: &OsStr) -> OsString {
    let mut name = name.to_os_string();
    name.push(ENCRYPTED_SUFFIX);
    name
}

fn decrypted_name(name: &OsStr) -> OsString {
    let text = name.to_string_lossy();
    match text.strip_suffix(ENCRYPTED_SUFFIX) {
        Some(stem) if !stem.is_empty() && text.len() == name.len() => OsString::from(stem),
        _ => {
            let mut name = name.to_os_string();
            name.push(".decrypted");
            name
        }
    }
}

/// The (input, output) pairs of a run: INPUT and OUTPUT themselves, or, when
/// INPUT is a directory, every regular file under it mapped to the same
/// relative place under the directory OUTPUT (renamed by `rename`), whose
/// directories are created. Symbolic links and special files are skipped.
fn jobs(
    input: &Path,
    output: &Path,
    rename: fn(&OsStr) -> OsString,
) -> anyhow::Result<Vec<(PathBuf, PathBuf)>> {
    if is_dash(input) || !input.is_dir() {
        return Ok(vec![(input.to_path_buf(), output.to_path_buf())]);
    }
    if is_dash(output) || output.is_file() {
        anyhow::bail!(
            "{} is a directory: -o must name a directory too",
            input.display()
        );
    }
    let mut files = Vec::new();
    let mut pending = vec![input.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries =
            std::fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for entry in entries {
            let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
            let kind = entry
                .file_type()
                .with_context(|| format!("cannot stat {}", entry.path().display()))?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    files.sort();
    let mut jobs = Vec::with_capacity(files.len());
    for file in files {
        let relative = file
            .strip_prefix(input)
            .context("walking the input directory")?;
        let (Some(name), parent) = (relative.file_name(), relative.parent()) else {
            continue;
        };
        let target_dir = match parent {
            Some(parent) => output.join(parent),
            None => output.to_path_buf(),
        };
        std::fs::create_dir_all(&target_dir)
            .with_context(|| format!("cannot create {}", target_dir.display()))?;
        jobs.push((file.clone(), target_dir.join(rename(name))));
    }
    Ok(jobs)
}

/// Refuses, before any work, an OUTPUT that is the INPUT itself (whatever
/// its spelling), and one that exists unless `force`.
fn check_outputs(jobs: &[(PathBuf, PathBuf)], force: bool) -> anyhow::Result<()> {
    for (input, output) in jobs {
        if is_dash(output) {
            continue;
        }
        let Ok(existing) = std::fs::metadata(output) else {
            continue;
        };
        if !is_dash(input) && same_file(input, &existing) {
            anyhow::bail!(
                "{} is the input file; write the output to another path",
                output.display()
            );
        }
        if !force {
            anyhow::bail!(
                "{} already exists; pass --force to replace it",
                output.display()
            );
        }
    }
    Ok(())
}

/// Whether `path` is the file `other` describes (same device and inode).
fn same_file(path: &Path, other: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.dev() == other.dev() && meta.ino() == other.ino())
}

fn keyring(client: &KmsClientArgs, discovery: Option<Vec<String>>) -> anyhow::Result<KmsKeyring> {
    let settings = ClientSettings {
        endpoint_url: client.endpoint_url.clone(),
        profile: client.profile.clone(),
        region: client.region.clone(),
    };
    let keyring = KmsKeyring::new(client.keys.clone(), discovery, &settings)
        .context("setting up the KMS client")?;
    keyring
        .check_credentials(client.profile.as_deref())
        .map_err(|message| anyhow!(message))?;
    Ok(keyring)
}

fn context(pairs: &[(String, String)]) -> EncryptionContext {
    let mut context = EncryptionContext::new();
    for (key, value) in pairs {
        context.insert(key.clone(), value.clone());
    }
    context
}

fn is_dash(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn shown(path: &Path) -> String {
    if is_dash(path) {
        "stdin".to_owned()
    } else {
        path.display().to_string()
    }
}

/// The input, and its length when it is a regular file.
fn open_input(path: &Path) -> anyhow::Result<(Box<dyn Read>, Option<u64>)> {
    if is_dash(path) {
        return Ok((
            Box::new(BufReader::with_capacity(IO_BUFFER, io::stdin())),
            None,
        ));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let metadata = file.metadata().ok();
    if metadata.as_ref().is_some_and(|m| m.is_dir()) {
        anyhow::bail!("{} is a directory; give a file or -", path.display());
    }
    let size = metadata.filter(|m| m.is_file()).map(|m| m.len());
    Ok((Box::new(BufReader::with_capacity(IO_BUFFER, file)), size))
}

/// Output the operation failed to finish: the operation's own error, or a
/// failure to create, flush or rename the output file.
enum OutputFailure {
    Operation(EnvelopeError),
    File(anyhow::Error),
}

/// Runs `operation` against OUTPUT: stdout directly, or a temporary file
/// beside OUTPUT renamed onto it only on success (removed otherwise). An
/// OUTPUT that appeared meanwhile is replaced only if `replace`.
fn write_output<T>(
    output: &Path,
    replace: bool,
    operation: impl FnOnce(&mut dyn Write) -> Result<T, EnvelopeError>,
) -> Result<T, OutputFailure> {
    if is_dash(output) {
        let stdout = io::stdout();
        let mut writer = BufWriter::with_capacity(IO_BUFFER, stdout.lock());
        let value = operation(&mut writer).map_err(OutputFailure::Operation)?;
        writer
            .flush()
            .map_err(|e| OutputFailure::Operation(EnvelopeError::OutputWrite(e)))?;
        return Ok(value);
    }
    let directory = match output.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".keyward-partial-")
        .tempfile_in(&directory)
        .with_context(|| {
            format!(
                "cannot create a temporary file in {} for {}",
                directory.display(),
                output.display()
            )
        })
        .map_err(OutputFailure::File)?;
    let mut writer = BufWriter::with_capacity(IO_BUFFER, temp);
    // On error `writer` (and the temporary file in it) is dropped: removed.
    let value = operation(&mut writer).map_err(OutputFailure::Operation)?;
    let temp = writer
        .into_inner()
        .map_err(|e| OutputFailure::Operation(EnvelopeError::OutputWrite(e.into_error())))?;
    temp.as_file()
        .sync_all()
        .map_err(|e| OutputFailure::Operation(EnvelopeError::OutputWrite(e)))?;
    let persisted = if replace {
        temp.persist(output)
    } else {
        temp.persist_noclobber(output)
    };
    persisted
        .map_err(|e| match e.error.kind() {
            io::ErrorKind::AlreadyExists => anyhow!(
                "{} already exists; pass --force to replace it",
                output.display()
            ),
            _ => anyhow::Error::new(e.error)
                .context(format!("cannot rename onto {}", output.display())),
        })
        .map_err(OutputFailure::File)?;
    Ok(value)
}

/// One line naming the class of failure, then the precise cause.
fn explain(operation: &str, input: &Path, failure: OutputFailure) -> anyhow::Error {
    let error = match failure {
        OutputFailure::File(error) => {
            return error.context(format!("{operation} {}", shown(input)));
        }
        OutputFailure::Operation(error) => error,
    };
    let class = match error.kind() {
        ErrorKind::Malformed => "not a valid AWS Encryption SDK message",
        ErrorKind::Tampered => "the message was tampered with or corrupted",
        ErrorKind::WrongKey => "none of the given keys can decrypt this message",
        ErrorKind::AccessDenied => "access to the KMS key was denied",
        ErrorKind::KeyUnavailable => "the KMS key is disabled, missing or unreachable",
        ErrorKind::ContextMismatch => "wrong encryption context",
        ErrorKind::Refused => "refused",
        ErrorKind::Io => "input/output error",
        ErrorKind::Internal => "internal error",
    };
    anyhow::Error::new(error).context(format!("{operation} {}: {class}", shown(input)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn directory_names_gain_and_lose_the_encrypted_suffix() {
        assert_eq!(encrypted_name(OsStr::new("a.txt")), "a.txt.encrypted");
        assert_eq!(decrypted_name(OsStr::new("a.txt.encrypted")), "a.txt");
        assert_eq!(decrypted_name(OsStr::new("a.bin")), "a.bin.decrypted");
        assert_eq!(
            decrypted_name(OsStr::new(".encrypted")),
            ".encrypted.decrypted"
        );
    }

    #[test]
    fn a_failed_operation_leaves_no_output_file() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("out.txt");
        let result = write_output(&output, false, |writer| {
            writer
                .write_all(b"unverified")
                .map_err(EnvelopeError::OutputWrite)?;
            Err::<(), _>(EnvelopeError::SignatureInvalid)
        });
        assert!(matches!(
            result,
            Err(OutputFailure::Operation(EnvelopeError::SignatureInvalid))
        ));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);

        write_output(&output, false, |writer| {
            writer.write_all(b"ok").map_err(EnvelopeError::OutputWrite)
        })
        .ok()
        .unwrap();
        assert_eq!(std::fs::read(&output).unwrap(), b"ok");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
