//! Signed digests: periodic, signed statements of "the trail reached this head".
//!
//! Modeled on CloudTrail digest files
//! (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-log-file-validation-digest-file-structure.html>):
//! each digest covers a period (`digestStartTime`..`digestEndTime`), says what
//! was logged in it, and carries the hash and signature of the previous digest,
//! so the digests form their own chain and a deleted or altered digest breaks
//! it. Where CloudTrail lists hourly log files with their hashes, a keyward
//! digest covers a range of chain records and records the hash of the last one:
//! since every record's hash covers all records before it, that one hash
//! vouches for the whole range.
//!
//! **Canonical bytes** (what is signed, and what the next digest's
//! `previous.hash` is the SHA-256 of) are fixed-width binary, so that no JSON
//! formatting question can change a signature:
//!
//! ```text
//! DIGEST_DOMAIN                      24 bytes
//! start_time, end_time               2 × 8 bytes, Unix seconds, big-endian signed
//! first_sequence                     8 bytes, big-endian
//! last.sequence, last.hash           8 + 32 bytes
//! has_previous                       1 byte: 0 or 1
//! previous.hash, previous.signature  32 + 64 bytes, only if has_previous = 1
//! public_key_fingerprint             32 bytes
//! ```
//!
//! The stored form ([`Digest::encode`]) is the canonical bytes followed by the
//! 64-byte signature. Times have one-second resolution, like CloudTrail's.
//!
//! **Conventions.** The first digest of a trail has no previous link and
//! starts at sequence 1. Each later digest starts right after the previous
//! one's last record and no earlier than its end time. A digest may cover no
//! records (then `last` equals the previous digest's `last`): a quiet hour, or
//! a shutdown right after a digest. Digests are small (under 300 bytes) and
//! are never pruned, so the chain of digests always reaches back to genesis
//! and vouches for any pruning checkpoint.

use time::OffsetDateTime;

use crate::chain::ChainHead;
use crate::digest_key::{DigestPublicKey, DigestSignature, DigestSigningKey};
use crate::error::AuditError;
use crate::hash::Sha256Hash;
use crate::reader::ByteReader;

/// The domain label at the start of a digest's canonical bytes.
pub const DIGEST_DOMAIN: &[u8; 24] = b"keyward-audit-digest-v1\0";

const FORMAT: &str = "digest";

/// A signed digest. Built only by [`DigestSigningKey::sign_digest`] or read
/// by [`Digest::decode`], so its fields are reached through accessors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    start_time: i64,
    end_time: i64,
    first_sequence: u64,
    last: ChainHead,
    previous: Option<DigestLink>,
    public_key_fingerprint: Sha256Hash,
    signature: DigestSignature,
}

/// A digest's link to the one before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestLink {
    /// SHA-256 of the previous digest's canonical bytes.
    pub hash: Sha256Hash,
    pub signature: DigestSignature,
}

/// Why a digest, or the chain of digests, cannot be trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("digest {digest_index}: {kind}")]
pub struct DigestFault {
    /// 0-based index in the list of digests given.
    pub digest_index: usize,
    pub kind: DigestFaultKind,
}

/// What is wrong with a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestFaultKind {
    #[error("it is signed by a key that is not trusted (fingerprint {fingerprint})")]
    UntrustedKey { fingerprint: Sha256Hash },
    #[error("it names a different key than the one given to verify it")]
    FingerprintMismatch,
    #[error("its signature does not verify: a field was changed or it was forged")]
    BadSignature,
    #[error("the first digest must start the chain at sequence 1 with no previous digest")]
    NotAGenesisDigest,
    #[error("it has no link to the digest before it")]
    MissingLink,
    #[error("its previous-digest hash does not match the digest before it")]
    PreviousHashMismatch,
    #[error("its previous-digest signature does not match the digest before it")]
    PreviousSignatureMismatch,
    #[error("it starts at sequence {found_first}, not right after the previous digest ({expected_first})")]
    SequenceGap {
        expected_first: u64,
        found_first: u64,
    },
    #[error("its last record precedes its first minus one")]
    RangeReversed,
    #[error("it covers no records but names a different head than the previous digest")]
    EmptyRangeForked,
    #[error("it ends before it starts, or starts before the previous digest ended")]
    TimeReversed,
}

/// What a verified chain of digests vouches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DigestChainSummary {
    pub digests: usize,
    /// The newest signed head ([`ChainHead::GENESIS`] when there is no digest).
    pub signed_head: ChainHead,
}

impl DigestSigningKey {
    /// Signs the digest that follows `previous` (or starts the trail when
    /// `previous` is `None`) and vouches for the chain up to `head`.
    ///
    /// Times are cut to whole seconds. Refuses a period that ends before it
    /// starts or starts before `previous` ended, and a head behind
    /// `previous`'s: the signer never signs what a verifier would reject.
    pub fn sign_digest(
        &self,
        previous: Option<&Digest>,
        head: ChainHead,
        start_time: OffsetDateTime,
        end_time: OffsetDateTime,
    ) -> Result<Digest, AuditError> {
        let start_time = start_time.unix_timestamp();
        let end_time = end_time.unix_timestamp();
        if end_time < start_time {
            return Err(AuditError::DigestPeriodReversed {
                start: start_time,
                end: end_time,
            });
        }
        let (first_sequence, link) =
            match previous {
                None => (1, None),
                Some(previous) => {
                    if start_time < previous.end_time {
                        return Err(AuditError::DigestPeriodOverlaps {
                            start: start_time,
                            previous_end: previous.end_time,
                        });
                    }
                    let behind = head.sequence < previous.last.sequence;
                    let forked =
                        head.sequence == previous.last.sequence && head.hash != previous.last.hash;
                    if behind || forked {
                        return Err(AuditError::DigestHeadBehind {
                            head: head.sequence,
                            previous: previous.last.sequence,
                        });
                    }
                    let first_sequence = previous.last.sequence.checked_add(1).ok_or(
                        AuditError::SequenceExhausted {
                            last_sequence: previous.last.sequence,
                        },
                    )?;
                    (first_sequence, Some(previous.link()))
                }
            };
        check_time_range(start_time)?;
        check_time_range(end_time)?;
        let mut digest = Digest {
            start_time,
            end_time,
            first_sequence,
            last: head,
            previous: link,
            public_key_fingerprint: self.public_key().fingerprint(),
            signature: DigestSignature([0; 64]),
        };
        digest.signature = self.sign(&digest.canonical_bytes())?;
        Ok(digest)
    }
}

impl Digest {
    pub fn start_time(&self) -> OffsetDateTime {
        unix_time(self.start_time)
    }

    pub fn end_time(&self) -> OffsetDateTime {
        unix_time(self.end_time)
    }

    /// The first sequence number the digest covers.
    pub fn first_sequence(&self) -> u64 {
        self.first_sequence
    }

    /// The last record covered; equal to the previous digest's when the
    /// digest covers no records.
    pub fn last(&self) -> ChainHead {
        self.last
    }

    /// How many records the digest covers.
    pub fn record_count(&self) -> u64 {
        self.last
            .sequence
            .saturating_add(1)
            .saturating_sub(self.first_sequence)
    }

    pub fn previous(&self) -> Option<&DigestLink> {
        self.previous.as_ref()
    }

    pub fn public_key_fingerprint(&self) -> Sha256Hash {
        self.public_key_fingerprint
    }

    pub fn signature(&self) -> &DigestSignature {
        &self.signature
    }

    /// SHA-256 of the canonical bytes: what the next digest links to.
    pub fn hash(&self) -> Sha256Hash {
        Sha256Hash::of(&self.canonical_bytes())
    }

    /// The link the next digest must carry.
    pub fn link(&self) -> DigestLink {
        DigestLink {
            hash: self.hash(),
            signature: self.signature,
        }
    }

    /// The bytes the signature covers (layout in the module documentation).
    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(DIGEST_DOMAIN.len() + 16 + 8 + 40 + 1 + 96 + 32);
        bytes.extend_from_slice(DIGEST_DOMAIN);
        bytes.extend_from_slice(&self.start_time.to_be_bytes());
        bytes.extend_from_slice(&self.end_time.to_be_bytes());
        bytes.extend_from_slice(&self.first_sequence.to_be_bytes());
        bytes.extend_from_slice(&self.last.sequence.to_be_bytes());
        bytes.extend_from_slice(self.last.hash.as_bytes());
        match &self.previous {
            None => bytes.push(0),
            Some(link) => {
                bytes.push(1);
                bytes.extend_from_slice(link.hash.as_bytes());
                bytes.extend_from_slice(&link.signature.0);
            }
        }
        bytes.extend_from_slice(self.public_key_fingerprint.as_bytes());
        bytes
    }

    /// The stored form: canonical bytes, then the signature.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = self.canonical_bytes();
        bytes.extend_from_slice(&self.signature.0);
        bytes
    }

    /// Reads a stored digest. Checks structure only; [`verify_digest`] checks
    /// the signature.
    pub fn decode(bytes: &[u8]) -> Result<Self, AuditError> {
        let mut reader = ByteReader::new(bytes, FORMAT);
        if reader.array::<24>()? != *DIGEST_DOMAIN {
            return Err(AuditError::InvalidField {
                format: FORMAT,
                field: "domain label",
            });
        }
        let start_time = reader.i64()?;
        let end_time = reader.i64()?;
        check_time_range(start_time)?;
        check_time_range(end_time)?;
        let first_sequence = reader.u64()?;
        let last = ChainHead {
            sequence: reader.u64()?,
            hash: reader.hash()?,
        };
        let previous = match reader.u8()? {
            0 => None,
            1 => Some(DigestLink {
                hash: reader.hash()?,
                signature: DigestSignature(reader.array()?),
            }),
            _ => {
                return Err(AuditError::InvalidField {
                    format: FORMAT,
                    field: "previous-digest flag",
                })
            }
        };
        let public_key_fingerprint = reader.hash()?;
        let signature = DigestSignature(reader.array()?);
        reader.expect_end()?;
        Ok(Digest {
            start_time,
            end_time,
            first_sequence,
            last,
            previous,
            public_key_fingerprint,
            signature,
        })
    }

    /// Rebuilds a digest from its parts, as read from an exported digest file.
    /// Nothing is checked but the time range; verify it before trusting it.
    pub(crate) fn from_parts(parts: DigestParts) -> Result<Self, AuditError> {
        check_time_range(parts.start_time)?;
        check_time_range(parts.end_time)?;
        Ok(Digest {
            start_time: parts.start_time,
            end_time: parts.end_time,
            first_sequence: parts.first_sequence,
            last: parts.last,
            previous: parts.previous,
            public_key_fingerprint: parts.public_key_fingerprint,
            signature: parts.signature,
        })
    }
}

/// Every field of a [`Digest`], for decoders in this crate.
pub(crate) struct DigestParts {
    pub(crate) start_time: i64,
    pub(crate) end_time: i64,
    pub(crate) first_sequence: u64,
    pub(crate) last: ChainHead,
    pub(crate) previous: Option<DigestLink>,
    pub(crate) public_key_fingerprint: Sha256Hash,
    pub(crate) signature: DigestSignature,
}

/// Checks one digest against one key: the key it names, and its signature.
pub fn verify_digest(digest: &Digest, public_key: &DigestPublicKey) -> Result<(), DigestFaultKind> {
    if digest.public_key_fingerprint != public_key.fingerprint() {
        return Err(DigestFaultKind::FingerprintMismatch);
    }
    if !public_key.verifies(&digest.canonical_bytes(), &digest.signature) {
        return Err(DigestFaultKind::BadSignature);
    }
    Ok(())
}

/// Checks every digest's signature (by a key in `trusted_keys`, picked by
/// fingerprint, so a key rotation is just a second trusted key) and the links
/// between consecutive digests, oldest first.
pub fn verify_digest_chain(
    digests: &[Digest],
    trusted_keys: &[DigestPublicKey],
) -> Result<DigestChainSummary, DigestFault> {
    let mut previous: Option<&Digest> = None;
    for (digest_index, digest) in digests.iter().enumerate() {
        let fault = |kind| DigestFault { digest_index, kind };
        let key = trusted_keys
            .iter()
            .find(|key| key.fingerprint() == digest.public_key_fingerprint)
            .ok_or_else(|| {
                fault(DigestFaultKind::UntrustedKey {
                    fingerprint: digest.public_key_fingerprint,
                })
            })?;
        verify_digest(digest, key).map_err(fault)?;
        check_link(previous, digest).map_err(fault)?;
        previous = Some(digest);
    }
    Ok(DigestChainSummary {
        digests: digests.len(),
        signed_head: previous.map_or(ChainHead::GENESIS, Digest::last),
    })
}

/// The rules of the module documentation's "Conventions" for one step.
fn check_link(previous: Option<&Digest>, digest: &Digest) -> Result<(), DigestFaultKind> {
    if digest.end_time < digest.start_time {
        return Err(DigestFaultKind::TimeReversed);
    }
    if u128::from(digest.last.sequence) + 1 < u128::from(digest.first_sequence) {
        return Err(DigestFaultKind::RangeReversed);
    }
    let Some(previous) = previous else {
        if digest.previous.is_some() || digest.first_sequence != 1 {
            return Err(DigestFaultKind::NotAGenesisDigest);
        }
        return Ok(());
    };
    let link = digest
        .previous
        .as_ref()
        .ok_or(DigestFaultKind::MissingLink)?;
    if link.hash != previous.hash() {
        return Err(DigestFaultKind::PreviousHashMismatch);
    }
    if link.signature != previous.signature {
        return Err(DigestFaultKind::PreviousSignatureMismatch);
    }
    let expected_first = previous.last.sequence.saturating_add(1);
    if digest.first_sequence != expected_first {
        return Err(DigestFaultKind::SequenceGap {
            expected_first,
            found_first: digest.first_sequence,
        });
    }
    if digest.record_count() == 0 && digest.last != previous.last {
        return Err(DigestFaultKind::EmptyRangeForked);
    }
    if digest.start_time < previous.end_time {
        return Err(DigestFaultKind::TimeReversed);
    }
    Ok(())
}

/// Digest times must be representable as `OffsetDateTime` (years 1..=9999
/// here), so that the accessors cannot fail.
fn check_time_range(unix_seconds: i64) -> Result<(), AuditError> {
    // 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
    const EARLIEST: i64 = -62_135_596_800;
    const LATEST: i64 = 253_402_300_799;
    if (EARLIEST..=LATEST).contains(&unix_seconds) {
        Ok(())
    } else {
        Err(AuditError::DigestTimeOutOfRange)
    }
}

fn unix_time(unix_seconds: i64) -> OffsetDateTime {
    // Every stored time passed `check_time_range`; the fallback is unreachable.
    OffsetDateTime::from_unix_timestamp(unix_seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}
