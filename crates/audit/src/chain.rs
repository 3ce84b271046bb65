//! The append-only hash chain over event bytes, and its verification.
//!
//! Each record holds a sequence number, the canonical event bytes, the hash of
//! the record before it and its own hash:
//!
//! ```text
//! hash = SHA-256( CHAIN_DOMAIN || sequence as u64 big-endian || previous_hash || event bytes )
//! ```
//!
//! Everything before the event bytes has a fixed length, so the encoding is
//! unambiguous without a length prefix. The domain label keeps a chain hash
//! from ever equalling a hash computed for another purpose (a digest, a log
//! file). This is the idea of CloudTrail's log file integrity validation
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-intro.html>)
//! applied per event instead of per hourly file, so that a bad event can be
//! named exactly.
//!
//! **Genesis convention.** A trail starts from the virtual head
//! [`ChainHead::GENESIS`] = (sequence 0, 32 zero bytes): the first record has
//! sequence 1 and previous hash zero. Sequence numbers then increase by one.
//!
//! **Pruning.** Verification starts from any head (a "checkpoint"): after the
//! records up to sequence `n` are deleted, the trail is verified from
//! `(n, hash of record n)`. The checkpoint is only as trustworthy as its
//! source, which is why [`crate::verify`] accepts only a checkpoint that a
//! signed digest vouches for.
//!
//! **What the chain alone cannot see.** Anyone who can write the store can
//! also recompute every hash after a change, or cut records off the end.
//! Those attacks are caught by *anchors*: heads taken from signed digests
//! ([`crate::digest`]). Without an anchor, the chain proves only that the
//! records agree with each other.

use crate::error::AuditError;
use crate::hash::Sha256Hash;

/// The domain label hashed in front of every record.
pub const CHAIN_DOMAIN: &[u8; 24] = b"keyward-audit-chain-v1\0\0";

/// The largest event a record may hold: the record format stores the length
/// in 32 bits, and an event is bounded far below that by CloudTrail's own
/// limits (100 KB request parameters, 100 KB response elements, 28 KB
/// additional data).
pub const MAX_EVENT_BYTES: usize = u32::MAX as usize;

/// The last record of a chain (or a checkpoint standing in for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChainHead {
    pub sequence: u64,
    pub hash: Sha256Hash,
}

/// One stored record of the trail.
///
/// All fields are public because verification must be able to hold records
/// exactly as they were read, tampered or not.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChainRecord {
    pub sequence: u64,
    pub previous_hash: Sha256Hash,
    pub hash: Sha256Hash,
    /// The canonical event bytes ([`crate::CloudTrailEvent::encode`]).
    pub event: Vec<u8>,
}

/// A head vouched for by someone the verifier trusts (in practice: the `last`
/// head of a signed digest), and who that was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainAnchor {
    pub head: ChainHead,
    /// The caller's name for the anchor's source; [`crate::verify_trail`] uses the
    /// digest's index.
    pub source: usize,
}

/// The first place where a trail stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit trail fault at position {position} (sequence {sequence}): {kind}")]
pub struct ChainFault {
    /// 0-based index among the records given to the verifier.
    pub position: u64,
    /// The sequence number that belongs at `position`.
    pub sequence: u64,
    pub kind: ChainFaultKind,
}

/// What went wrong at a [`ChainFault`]'s position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainFaultKind {
    /// The record's sequence number, previous hash or event bytes do not match
    /// its own hash.
    #[error("the record was modified")]
    Modified,
    /// The expected record is not in the trail at all: it was deleted.
    #[error("the record is missing (found sequence {found} instead)")]
    Missing { found: u64 },
    /// The expected record comes later in the trail.
    #[error("records are out of order (found sequence {found} first)")]
    Reordered { found: u64 },
    /// The record's sequence number was already used or passed: a record was
    /// inserted (or replayed).
    #[error("a record was inserted (sequence {found} again)")]
    Inserted { found: u64 },
    /// The record is intact but does not follow the one before it: the record
    /// before it was rewritten with a fresh hash, or this one was put here.
    #[error("the record does not link to the one before it")]
    BrokenLink,
    /// The trail ends before a record that an anchor vouches for.
    #[error("the trail ends before sequence {anchored_sequence}, which is anchored")]
    Truncated { anchored_sequence: u64 },
    /// The records agree with each other but not with an anchor: some record
    /// from `position` up to `anchored_sequence` was rewritten along with every
    /// hash after it.
    #[error("records up to sequence {anchored_sequence} were rewritten (anchor {source_index} disagrees)")]
    AnchorMismatch {
        anchored_sequence: u64,
        source_index: usize,
    },
}

/// What a successful chain verification covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainSummary {
    /// Where verification started.
    pub start: ChainHead,
    /// The last verified record (`start` for an empty trail).
    pub last: ChainHead,
    pub records: u64,
    /// The last head an anchor confirmed (`start` when none did); records
    /// after it are linked but not anchored.
    pub anchored_through: ChainHead,
}

impl ChainHead {
    /// The virtual head before the first record of a trail.
    pub const GENESIS: ChainHead = ChainHead {
        sequence: 0,
        hash: Sha256Hash::ZERO,
    };

    /// The sequence number of a record of `event_length` bytes appended
    /// after this head, if it may be appended.
    fn next_sequence(&self, event_length: usize) -> Result<u64, AuditError> {
        if event_length > MAX_EVENT_BYTES {
            return Err(AuditError::EventTooLarge {
                length: event_length,
                limit: MAX_EVENT_BYTES,
            });
        }
        self.sequence
            .checked_add(1)
            .ok_or(AuditError::SequenceExhausted {
                last_sequence: self.sequence,
            })
    }

    /// Appends `event` after this head and advances the head to the new record.
    ///
    /// For group commit: append a batch under one lock, write the records, and
    /// restore a copy of the old head if the write fails (`ChainHead` is `Copy`).
    pub fn append(&mut self, event: Vec<u8>) -> Result<ChainRecord, AuditError> {
        let sequence = self.next_sequence(event.len())?;
        let hash = ChainRecord::compute_hash(sequence, &self.hash, &event);
        let record = ChainRecord {
            sequence,
            previous_hash: self.hash,
            hash,
            event,
        };
        *self = record.head();
        Ok(record)
    }

    /// [`ChainHead::append`] for a store that keeps records back to back:
    /// writes the stored form of the new record ([`crate::encode_record_into`])
    /// to `out` instead of returning it, so the event is copied once. On
    /// error neither the head nor `out` changes.
    pub fn append_encoded(&mut self, event: &[u8], out: &mut Vec<u8>) -> Result<(), AuditError> {
        let sequence = self.next_sequence(event.len())?;
        let hash = ChainRecord::compute_hash(sequence, &self.hash, event);
        crate::record_format::encode_record_into(out, sequence, &self.hash, &hash, event)?;
        *self = ChainHead { sequence, hash };
        Ok(())
    }
}

impl ChainRecord {
    /// The hash a record with these contents must carry.
    pub fn compute_hash(sequence: u64, previous_hash: &Sha256Hash, event: &[u8]) -> Sha256Hash {
        Sha256Hash::of_parts(&[
            CHAIN_DOMAIN,
            &sequence.to_be_bytes(),
            previous_hash.as_bytes(),
            event,
        ])
    }

    /// This record as a head to continue from.
    pub fn head(&self) -> ChainHead {
        ChainHead {
            sequence: self.sequence,
            hash: self.hash,
        }
    }

    /// Whether the stored hash matches the contents.
    pub fn is_intact(&self) -> bool {
        Self::compute_hash(self.sequence, &self.previous_hash, &self.event) == self.hash
    }
}

/// Checks a trail one record at a time, so a trail larger than memory can be
/// streamed from storage.
///
/// Feed records in stored order with [`ChainVerifier::push`] while
/// [`ChainVerifier::wants_more`] is true, then call [`ChainVerifier::finish`].
/// After a sequence gap the verifier keeps reading (without keeping records) to
/// tell a reordered record from a deleted one.
#[derive(Debug, Clone)]
pub struct ChainVerifier {
    start: ChainHead,
    last: ChainHead,
    anchored_through: ChainHead,
    /// Anchors after `start`, sorted by sequence; `next_anchor` indexes the
    /// first one not yet reached.
    anchors: Vec<ChainAnchor>,
    next_anchor: usize,
    /// Records pushed so far.
    position: u64,
    state: VerifierState,
}

#[derive(Debug, Clone)]
enum VerifierState {
    Verifying,
    /// A gap was found; if `fault.sequence` turns up later the records were
    /// reordered, otherwise it was deleted.
    Classifying {
        fault: ChainFault,
    },
    Failed {
        fault: ChainFault,
    },
}

impl ChainVerifier {
    /// Starts after `start` (the genesis head, or a pruning checkpoint).
    /// Anchors at or before `start` are checked against `start` right away.
    pub fn new(start: ChainHead, anchors: &[ChainAnchor]) -> Self {
        let mut sorted: Vec<ChainAnchor> = anchors.to_vec();
        sorted.sort_by_key(|anchor| anchor.head.sequence);
        let mut verifier = ChainVerifier {
            start,
            last: start,
            anchored_through: start,
            anchors: Vec::new(),
            next_anchor: 0,
            position: 0,
            state: VerifierState::Verifying,
        };
        for anchor in sorted {
            if anchor.head.sequence > start.sequence {
                verifier.anchors.push(anchor);
            } else if anchor.head.sequence == start.sequence && anchor.head.hash != start.hash {
                verifier.fail(ChainFault {
                    position: 0,
                    sequence: start.sequence.saturating_add(1),
                    kind: ChainFaultKind::AnchorMismatch {
                        anchored_sequence: anchor.head.sequence,
                        source_index: anchor.source,
                    },
                });
            }
        }
        verifier
    }

    /// How many records were pushed.
    pub fn records_read(&self) -> u64 {
        self.position
    }

    /// Whether more records can change the outcome.
    pub fn wants_more(&self) -> bool {
        !matches!(self.state, VerifierState::Failed { .. })
    }

    /// Checks the next record. Returns the new head when the record extends
    /// the verified chain, `None` once the chain has failed.
    pub fn push(&mut self, record: &ChainRecord) -> Option<ChainHead> {
        let position = self.position;
        self.position = self.position.saturating_add(1);
        match &self.state {
            VerifierState::Verifying => {}
            VerifierState::Classifying { fault } => {
                if record.sequence == fault.sequence {
                    let mut fault = fault.clone();
                    if let ChainFaultKind::Missing { found } = fault.kind {
                        fault.kind = ChainFaultKind::Reordered { found };
                    }
                    self.state = VerifierState::Failed { fault };
                }
                return None;
            }
            VerifierState::Failed { .. } => return None,
        }

        let Some(expected_sequence) = self.last.sequence.checked_add(1) else {
            // No record can follow sequence u64::MAX.
            self.fail(ChainFault {
                position,
                sequence: self.last.sequence,
                kind: ChainFaultKind::Inserted {
                    found: record.sequence,
                },
            });
            return None;
        };
        let fault_here = |kind| ChainFault {
            position,
            sequence: expected_sequence,
            kind,
        };

        if record.sequence < expected_sequence {
            self.fail(fault_here(ChainFaultKind::Inserted {
                found: record.sequence,
            }));
            return None;
        }
        if record.sequence > expected_sequence {
            self.state = VerifierState::Classifying {
                fault: fault_here(ChainFaultKind::Missing {
                    found: record.sequence,
                }),
            };
            return None;
        }
        if !record.is_intact() {
            self.fail(fault_here(ChainFaultKind::Modified));
            return None;
        }
        if record.previous_hash != self.last.hash {
            self.fail(fault_here(ChainFaultKind::BrokenLink));
            return None;
        }

        let head = record.head();
        while let Some(anchor) = self.anchors.get(self.next_anchor) {
            if anchor.head.sequence != head.sequence {
                break;
            }
            if anchor.head.hash != head.hash {
                let range_start = self.anchored_through.sequence.saturating_add(1);
                let fault = ChainFault {
                    position: range_start.saturating_sub(self.start.sequence.saturating_add(1)),
                    sequence: range_start,
                    kind: ChainFaultKind::AnchorMismatch {
                        anchored_sequence: anchor.head.sequence,
                        source_index: anchor.source,
                    },
                };
                self.fail(fault);
                return None;
            }
            self.next_anchor += 1;
            self.anchored_through = head;
        }
        self.last = head;
        Some(head)
    }

    /// Ends verification: the first fault, or what was verified.
    pub fn finish(self) -> Result<ChainSummary, ChainFault> {
        match self.state {
            VerifierState::Failed { fault } | VerifierState::Classifying { fault } => Err(fault),
            VerifierState::Verifying => {
                if let Some(anchor) = self.anchors.get(self.next_anchor) {
                    return Err(ChainFault {
                        position: self.position,
                        sequence: self.last.sequence.saturating_add(1),
                        kind: ChainFaultKind::Truncated {
                            anchored_sequence: anchor.head.sequence,
                        },
                    });
                }
                Ok(ChainSummary {
                    start: self.start,
                    last: self.last,
                    records: self.position,
                    anchored_through: self.anchored_through,
                })
            }
        }
    }

    fn fail(&mut self, fault: ChainFault) {
        if !matches!(self.state, VerifierState::Failed { .. }) {
            self.state = VerifierState::Failed { fault };
        }
    }
}

/// Verifies `records` (in stored order) from `start` against `anchors`.
pub fn verify_chain(
    records: &[ChainRecord],
    start: ChainHead,
    anchors: &[ChainAnchor],
) -> Result<ChainSummary, ChainFault> {
    let mut verifier = ChainVerifier::new(start, anchors);
    for record in records {
        if !verifier.wants_more() {
            break;
        }
        verifier.push(record);
    }
    verifier.finish()
}
