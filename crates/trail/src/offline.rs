//! What `keyward trail verify`, `export` and `prune` do, on a data directory
//! whose server may be stopped (or running, for verify and export: a running
//! server only appends, and readers stop where the written bytes end).

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
use crate::stored::{CutShortWrite, StoredTrail};

/// What `keyward trail verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub report: TrailReport,
    /// A write that a crash cut short at the very end, set aside (never
    /// acknowledged; the server clears it when it next starts).
    pub cut_short: Option<CutShortWrite>,
}

/// Verifies the trail of `data_dir` against the public key in `public_key`
/// (a PEM or hex file), or the data directory's own key file.
pub fn verify_data_dir(
    data_dir: &Path,
    public_key: Option<&Path>,
) -> Result<TrailReport, TrailError> {
    Ok(verify_data_dir_in_detail(data_dir, public_key)?.report)
}

/// [`verify_data_dir`], also saying what was set aside.
pub fn verify_data_dir_in_detail(
    data_dir: &Path,
    public_key: Option<&Path>,
) -> Result<Verification, TrailError> {
    let trail = StoredTrail::open(data_dir)?;
    let key = trusted_public_key(data_dir, public_key)?;
    // Digests are read before records: a digest signed meanwhile by a running
    // server vouches only for records already written.
    let mut verifier = TrailVerifier::new(&trail.digests, &[key], trail.state.checkpoint);
    let cut_short = trail.for_each_record(|record| {
        verifier.push(&record);
        verifier.wants_more()
    })?;
    Ok(Verification {
        report: verifier.finish(),
        cut_short,
    })
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
    let trail = StoredTrail::open(data_dir)?;
    fs::create_dir_all(out_dir).map_err(TrailError::io("create", out_dir))?;
    let public_key_file = out_dir.join(crate::signing_key::PUBLIC_KEY_FILE);
    let key = trusted_public_key(data_dir, public_key)?;
    fs::write(&public_key_file, key.to_pem()).map_err(TrailError::io("write", &public_key_file))?;
    let mut exporter = Exporter {
        out_dir,
        digests: &trail.digests,
        next_digest: 0,
        records: Vec::new(),
        previous_object: None,
        used_objects: std::collections::HashSet::new(),
        summary: ExportSummary {
            log_files: 0,
            digest_files: 0,
            records: 0,
            unsigned_records: 0,
            public_key_file,
        },
    };
    // One pass: the trail verified, so stored order is sequence order, and
    // each digest's records are complete when the next one's begin.
    let mut failed = None;
    trail.for_each_record(|record| match exporter.push(record) {
        Ok(()) => true,
        Err(error) => {
            failed = Some(error);
            false
        }
    })?;
    if let Some(error) = failed {
        return Err(error);
    }
    Ok(Ok(exporter.finish()?))
}

/// Writes the log and digest files of an export as the records come.
struct Exporter<'a> {
    out_dir: &'a Path,
    digests: &'a [keyward_audit::Digest],
    /// The digest whose records are being collected.
    next_digest: usize,
    records: Vec<ChainRecord>,
    previous_object: Option<String>,
    used_objects: std::collections::HashSet<String>,
    summary: ExportSummary,
}

impl Exporter<'_> {
    fn push(&mut self, record: ChainRecord) -> Result<(), TrailError> {
        while self
            .digests
            .get(self.next_digest)
            .is_some_and(|digest| record.sequence > digest.last().sequence)
        {
            self.write_digest()?;
        }
        self.records.push(record);
        Ok(())
    }

    /// Writes the log file of the collected records and the digest file of
    /// the digest that covers them.
    fn write_digest(&mut self) -> Result<(), TrailError> {
        let Some(digest) = self.digests.get(self.next_digest) else {
            return Ok(());
        };
        self.next_digest += 1;
        let records = std::mem::take(&mut self.records);
        let (account, region) = names(&records);
        let mut entries = Vec::new();
        if let Some(object) = write_log_file(self.out_dir, &records, &account, &region)? {
            entries.push(object);
            self.summary.log_files += 1;
            self.summary.records += records.len() as u64;
        }
        let mut object = digest_object_key(&account, &region, EXPORT_TRAIL_NAME, digest.end_time());
        // Digests can end in the same second (a shutdown right after a timed
        // digest); CloudTrail's names have one-second resolution, so a later
        // one gets a counter before the extension instead of overwriting.
        let base = object.trim_end_matches(".json.gz").to_owned();
        let mut counter = 1;
        while self.used_objects.contains(&object) {
            object = format!("{base}_{counter}.json.gz");
            counter += 1;
        }
        self.used_objects.insert(object.clone());
        let file = DigestFile {
            aws_account_id: account,
            bucket: EXPORT_BUCKET.to_owned(),
            digest_object: object.clone(),
            previous_digest_object: self.previous_object.take(),
            digest: digest.clone(),
            log_files: entries,
        };
        write_gzip(&self.out_dir.join(&object), &file.encode()?)?;
        self.summary.digest_files += 1;
        self.previous_object = Some(object);
        Ok(())
    }

    /// Writes the digests left and, last, the records after the newest
    /// digest: exported, but no digest vouches for them yet.
    fn finish(mut self) -> Result<ExportSummary, TrailError> {
        let signed_through = self.digests.last().map(|digest| digest.last().sequence);
        let (signed, tail): (Vec<ChainRecord>, Vec<ChainRecord>) =
            std::mem::take(&mut self.records)
                .into_iter()
                .partition(|record| signed_through.is_some_and(|last| record.sequence <= last));
        self.records = signed;
        while self.next_digest < self.digests.len() {
            self.write_digest()?;
        }
        if !tail.is_empty() {
            let (account, region) = names(&tail);
            if write_log_file(self.out_dir, &tail, &account, &region)?.is_some() {
                self.summary.log_files += 1;
                self.summary.records += tail.len() as u64;
                self.summary.unsigned_records = tail.len() as u64;
            }
        }
        Ok(self.summary)
    }
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

/// Prunes a stopped server's trail: events covered by digests that ended at
/// or before `cutoff`. Returns how many were pruned.
pub fn prune_data_dir(data_dir: &Path, cutoff: time::OffsetDateTime) -> Result<u64, TrailError> {
    let mut trail = StoredTrail::open(data_dir)?;
    // The last segment may be the one a server appends to next: it stays.
    let active = trail.segments.last().map(|(number, _)| *number);
    crate::prune::prune_to(&trail.dir, &mut trail.state, &trail.digests, cutoff, active)
}
