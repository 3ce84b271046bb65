//! Where a trail may be cut when old events pass the retention period.
//!
//! A trail is cut only at the end of a signed digest: the digest's `last` head
//! then becomes the checkpoint that verification starts from, and because the
//! digest is signed (and digests are never pruned), the cut trail still
//! verifies and a checkpoint invented later does not. CloudTrail's own
//! retention (S3 lifecycle rules on log files) leaves digest files in place for
//! the same reason
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-intro.html>).
//!
//! What this module does not do: delete anything, or read the clock. The caller
//! passes the cutoff (now minus the retention period), deletes records with
//! `sequence <= checkpoint.sequence`, and stores the checkpoint with the trail.

use time::OffsetDateTime;

use crate::chain::ChainHead;
use crate::digest::Digest;

/// The checkpoint to prune to: the `last` head of the newest digest whose
/// period ended at or before `cutoff`, or [`ChainHead::GENESIS`] (prune
/// nothing) when there is none. `digests` are in chain order, oldest first.
pub fn pruning_checkpoint(digests: &[Digest], cutoff: OffsetDateTime) -> ChainHead {
    digests
        .iter()
        .rev()
        .find(|digest| digest.end_time() <= cutoff)
        .map_or(ChainHead::GENESIS, Digest::last)
}
