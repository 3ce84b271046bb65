//! Whole-trail verification: what `keyward trail verify` runs.
//!
//! It combines the two kinds of evidence the way CloudTrail's
//! `validate-logs` does
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-cli.html>):
//! first the chain of signed digests (every signature by a trusted key, every
//! link to the digest before), then the records against each other and against
//! the heads the digests vouch for. The first problem found is reported with
//! its position; everything before it is trustworthy.
//!
//! Order of checks, and so which fault is "first":
//! 1. the digests, oldest first ([`DigestFault`]);
//! 2. the pruning checkpoint: genesis, or the `last` head of a digest;
//! 3. the records in stored order ([`ChainFault`]): sequence, own hash, link,
//!    then the digest heads as they are reached; and at the end, whether the
//!    records reach the newest signed head (a cut-off tail).
//!
//! Records after the newest digest are linked but not yet signed; the report
//! counts them so that the caller can say so (CloudTrail likewise cannot
//! vouch for log files delivered after the newest digest).
//!
//! What this module does not do: read storage, or decide what to do about a
//! failure. [`TrailVerifier`] takes records one at a time so that the caller
//! can stream a trail larger than memory.

use std::fmt;

use crate::chain::{ChainAnchor, ChainFault, ChainHead, ChainRecord, ChainVerifier};
use crate::digest::{verify_digest_chain, Digest, DigestFault};
use crate::digest_key::DigestPublicKey;

/// The outcome of verifying a trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailReport {
    /// Digests whose signature and link were checked (all of them on success).
    pub digests_verified: usize,
    /// Records read before verification stopped.
    pub records_read: u64,
    /// The checkpoint verification started from.
    pub start: ChainHead,
    /// The last record verified (`start` when none was).
    pub last: ChainHead,
    /// The newest sequence number a signed digest confirmed.
    pub signed_through: u64,
    /// Verified records after `signed_through`: linked, not yet signed.
    pub unsigned_records: u64,
    /// `None` when the whole trail verified.
    pub failure: Option<TrailFailure>,
}

/// The first reason a trail fails verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrailFailure {
    #[error(transparent)]
    Digest(DigestFault),
    /// The trail claims to start after pruning at a head no digest signed.
    #[error("the trail starts at sequence {}, a checkpoint no digest vouches for", checkpoint.sequence)]
    UnanchoredCheckpoint { checkpoint: ChainHead },
    #[error(transparent)]
    Record(ChainFault),
}

/// Verifies a trail streamed one record at a time.
#[derive(Debug)]
pub struct TrailVerifier {
    digests_verified: usize,
    start: ChainHead,
    early_failure: Option<TrailFailure>,
    chain: ChainVerifier,
}

impl TrailVerifier {
    /// Checks the digests and the checkpoint, then waits for records.
    ///
    /// `digests` are all digests in chain order (oldest first), `trusted_keys`
    /// the public keys allowed to sign them, and `checkpoint` the head the
    /// records start after: [`ChainHead::GENESIS`] for an unpruned trail, or
    /// the head stored when the trail was pruned.
    pub fn new(
        digests: &[Digest],
        trusted_keys: &[DigestPublicKey],
        checkpoint: ChainHead,
    ) -> Self {
        let (digests_verified, early_failure) = match verify_digest_chain(digests, trusted_keys) {
            Ok(summary) => (summary.digests, None),
            Err(fault) => (fault.digest_index, Some(TrailFailure::Digest(fault))),
        };
        let early_failure = early_failure.or_else(|| {
            let vouched = checkpoint == ChainHead::GENESIS
                || digests.iter().any(|digest| digest.last() == checkpoint);
            (!vouched).then_some(TrailFailure::UnanchoredCheckpoint { checkpoint })
        });
        let anchors: Vec<ChainAnchor> = digests
            .iter()
            .enumerate()
            .map(|(source, digest)| ChainAnchor {
                head: digest.last(),
                source,
            })
            .collect();
        TrailVerifier {
            digests_verified,
            start: checkpoint,
            early_failure,
            chain: ChainVerifier::new(checkpoint, &anchors),
        }
    }

    /// Whether more records can change the outcome.
    pub fn wants_more(&self) -> bool {
        self.early_failure.is_none() && self.chain.wants_more()
    }

    /// Checks the next record in stored order.
    pub fn push(&mut self, record: &ChainRecord) {
        if self.early_failure.is_none() {
            self.chain.push(record);
        }
    }

    /// The report.
    pub fn finish(self) -> TrailReport {
        let records_read = self.chain.records_read();
        let mut report = TrailReport {
            digests_verified: self.digests_verified,
            records_read,
            start: self.start,
            last: self.start,
            signed_through: self.start.sequence,
            unsigned_records: 0,
            failure: None,
        };
        if let Some(failure) = self.early_failure {
            report.failure = Some(failure);
            return report;
        }
        match self.chain.finish() {
            Ok(summary) => {
                report.last = summary.last;
                report.signed_through = summary.anchored_through.sequence;
                report.unsigned_records = summary
                    .last
                    .sequence
                    .saturating_sub(summary.anchored_through.sequence);
            }
            Err(fault) => report.failure = Some(TrailFailure::Record(fault)),
        }
        report
    }
}

impl TrailReport {
    pub fn is_ok(&self) -> bool {
        self.failure.is_none()
    }

    /// For a record fault: the position and the sequence number to look at.
    pub fn first_bad_record(&self) -> Option<(u64, u64)> {
        match &self.failure {
            Some(TrailFailure::Record(fault)) => Some((fault.position, fault.sequence)),
            _ => None,
        }
    }
}

impl fmt::Display for TrailReport {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.failure {
            None => write!(
                formatter,
                "trail verified: {} records (sequences {}..={}), {} digests, signed through sequence {}, {} records not yet signed",
                self.records_read,
                self.start.sequence.saturating_add(1),
                self.last.sequence,
                self.digests_verified,
                self.signed_through,
                self.unsigned_records
            ),
            Some(failure) => write!(formatter, "trail verification failed: {failure}"),
        }
    }
}

/// Verifies a trail held in memory; see [`TrailVerifier::new`] for the arguments.
pub fn verify_trail(
    records: &[ChainRecord],
    digests: &[Digest],
    trusted_keys: &[DigestPublicKey],
    checkpoint: ChainHead,
) -> TrailReport {
    let mut verifier = TrailVerifier::new(digests, trusted_keys, checkpoint);
    for record in records {
        if !verifier.wants_more() {
            break;
        }
        verifier.push(record);
    }
    verifier.finish()
}
