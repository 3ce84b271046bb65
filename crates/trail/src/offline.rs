//! What `keyward trail verify` and `keyward trail export` do, on a data
//! directory whose server may be stopped (or running: reads take no lock,
//! WAL readers see the last committed state).

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use keyward_audit::{
    digest_object_key, log_file, log_file_object_key, ChainRecord, DigestFile, TrailReport,
    TrailVerifier,
};

use crate::error::TrailError;
use crate::signing_key::trusted_public_key;
use crate::store::{self, TRAIL_FILE};

/// Verifies the trail of `data_dir` against the public key in `public_key`
/// (a PEM or hex file), or the data directory's own key file.
pub fn verify_data_dir(
    data_dir: &Path,
    public_key: Option<&Path>,
) -> Result<TrailReport, TrailError> {
    let connection = store::open_reader(&data_dir.join(TRAIL_FILE))?;
    let key = trusted_public_key(data_dir, public_key)?;
    // One read transaction, so a running server's commits cannot interleave
    // with the digests and records we read.
    connection.execute_batch("BEGIN")?;
    let digests = store::load_digests(&connection)?;
    let checkpoint = store::load_checkpoint(&connection)?;
    let mut verifier = TrailVerifier::new(&digests, &[key], checkpoint);
    store::for_each_record(&connection, |record| {
        verifier.push(&record);
        verifier.wants_more()
    })?;
    connection.execute_batch("COMMIT")?;
    Ok(verifier.finish())
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    pub log_files: usize,
    pub digest_files: usize,
    pub records: u64,
    /// Records after the newest digest, written to a log file no digest lists.
    pub unsigned_records: u64,
    pub public_key_file: PathBuf,
}

/// The S3-bucket name digest files record for an export.
pub const EXPORT_BUCKET: &str = "keyward-trail";
/// The trail name in digest file names.
pub const EXPORT_TRAIL_NAME: &str = "keyward";

/// Verifies the trail, then writes it under `out_dir` as CloudTrail log files
/// (gzipped `{"Records":[...]}`, one per digest period) and digest files, in
/// CloudTrail's `AWSLogs/...` layout, plus the public key. A trail that fails
/// verification is not exported: the files would launder the tampering.
pub fn export_data_dir(
    data_dir: &Path,
    out_dir: &Path,
    public_key: Option<&Path>,
) -> Result<Result<ExportSummary, TrailReport>, TrailError> {
    let report = verify_data_dir(data_dir, public_key)?;
    if !report.is_ok() {
        return Ok(Err(report));
    }
    let connection = store::open_reader(&data_dir.join(TRAIL_FILE))?;
    connection.execute_batch("BEGIN")?;
    let digests = store::load_digests(&connection)?;
    let checkpoint = store::load_checkpoint(&connection)?;
    fs::create_dir_all(out_dir).map_err(TrailError::io("create", out_dir))?;
    let mut summary = ExportSummary {
        log_files: 0,
        digest_files: 0,
        records: 0,
        unsigned_records: 0,
        public_key_file: out_dir.join(crate::signing_key::PUBLIC_KEY_FILE),
    };
    let key = trusted_public_key(data_dir, public_key)?;
    fs::write(&summary.public_key_file, key.to_pem())
        .map_err(TrailError::io("write", &summary.public_key_file))?;

    let mut previous_object: Option<String> = None;
    let mut used_objects = std::collections::HashSet::new();
    for digest in &digests {
        let first = digest
            .first_sequence()
            .max(checkpoint.sequence.saturating_add(1));
        let records = if digest.last().sequence >= first {
            store::records_in(&connection, first, digest.last().sequence)?
        } else {
            Vec::new()
        };
        let (account, region) = names(&records);
        let mut entries = Vec::new();
        if let Some(object) = write_log_file(out_dir, &records, &account, &region)? {
            entries.push(object);
            summary.log_files += 1;
            summary.records += records.len() as u64;
        }
        let mut object = digest_object_key(&account, &region, EXPORT_TRAIL_NAME, digest.end_time());
        // Digests can end in the same second (a shutdown right after a timed
        // digest); CloudTrail's names have one-second resolution, so a later
        // one gets a counter before the extension instead of overwriting.
        let base = object.trim_end_matches(".json.gz").to_owned();
        let mut counter = 1;
        while used_objects.contains(&object) {
            object = format!("{base}_{counter}.json.gz");
            counter += 1;
        }
        used_objects.insert(object.clone());
        let file = DigestFile {
            aws_account_id: account,
            bucket: EXPORT_BUCKET.to_owned(),
            digest_object: object.clone(),
            previous_digest_object: previous_object.take(),
            digest: digest.clone(),
            log_files: entries,
        };
        write_gzip(&out_dir.join(&object), &file.encode()?)?;
        summary.digest_files += 1;
        previous_object = Some(object);
    }
    // Records after the newest digest: exported, but no digest vouches for them yet.
    let signed_through = digests.last().map_or(checkpoint.sequence, |d| {
        d.last().sequence.max(checkpoint.sequence)
    });
    let tail = store::records_in(
        &connection,
        signed_through.saturating_add(1),
        i64::MAX as u64,
    )?;
    if !tail.is_empty() {
        let (account, region) = names(&tail);
        if write_log_file(out_dir, &tail, &account, &region)?.is_some() {
            summary.log_files += 1;
            summary.records += tail.len() as u64;
            summary.unsigned_records = tail.len() as u64;
        }
    }
    connection.execute_batch("COMMIT")?;
    Ok(Ok(summary))
}

/// The account and region a file is filed under: those of its first event.
fn names(records: &[ChainRecord]) -> (String, String) {
    #[derive(serde::Deserialize)]
    struct Names {
        #[serde(rename = "recipientAccountId")]
        recipient_account_id: Option<String>,
        #[serde(rename = "awsRegion")]
        aws_region: Option<String>,
    }
    records
        .first()
        .and_then(|record| serde_json::from_slice::<Names>(&record.event).ok())
        .map(|n| {
            (
                n.recipient_account_id
                    .unwrap_or_else(|| "000000000000".into()),
                n.aws_region.unwrap_or_else(|| "us-east-1".into()),
            )
        })
        .unwrap_or_else(|| ("000000000000".into(), "us-east-1".into()))
}

fn write_log_file(
    out_dir: &Path,
    records: &[ChainRecord],
    account: &str,
    region: &str,
) -> Result<Option<keyward_audit::LogFileEntry>, TrailError> {
    let Some(first) = records.first() else {
        return Ok(None);
    };
    let file = log_file(records)?;
    let time = file
        .oldest_event_time
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let object = log_file_object_key(account, region, time, first.sequence);
    write_gzip(&out_dir.join(&object), &file.contents)?;
    Ok(Some(file.entry(object)))
}

fn write_gzip(path: &Path, contents: &[u8]) -> Result<(), TrailError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(TrailError::io("create", parent))?;
    }
    let file = fs::File::create(path).map_err(TrailError::io("create", path))?;
    let mut encoder = GzEncoder::new(file, Compression::default());
    encoder
        .write_all(contents)
        .map_err(TrailError::io("write", path))?;
    let file = encoder.finish().map_err(TrailError::io("write", path))?;
    file.sync_all().map_err(TrailError::io("sync", path))?;
    Ok(())
}

/// Prunes a stopped server's trail: deletes events covered by digests that
/// ended at or before `cutoff`. Returns how many were deleted.
pub fn prune_data_dir(data_dir: &Path, cutoff: time::OffsetDateTime) -> Result<u64, TrailError> {
    let path = data_dir.join(TRAIL_FILE);
    if !path.exists() {
        return Err(TrailError::NoTrail(data_dir.to_path_buf()));
    }
    let mut connection = store::open_writer(&path)?;
    let digests = store::load_digests(&connection)?;
    let checkpoint = keyward_audit::pruning_checkpoint(&digests, cutoff);
    let current = store::load_checkpoint(&connection)?;
    if checkpoint.sequence <= current.sequence {
        return Ok(0);
    }
    let transaction = connection.transaction()?;
    let deleted = store::prune_to(&transaction, checkpoint)?;
    transaction.commit()?;
    Ok(deleted)
}
