//! The stored form of a chain record, for stores that keep the trail as bytes
//! (an append-only segment file) rather than as table columns.
//!
//! ```text
//! version        1 byte   = 1
//! sequence       8 bytes  big-endian
//! previous_hash 32 bytes
//! hash          32 bytes
//! event_length   4 bytes  big-endian
//! event          event_length bytes (canonical event JSON)
//! ```
//!
//! Records are self-delimiting, so a segment is records back to back and
//! [`ChainRecord::decode`] reports how many bytes it consumed. Decoding checks
//! structure only; whether the hashes are right is [`crate::chain`]'s job, so
//! that a tampered record can still be read and reported by position.

use crate::chain::ChainRecord;
use crate::error::AuditError;
use crate::hash::Sha256Hash;
use crate::reader::ByteReader;

/// The version byte of the current record format.
pub const RECORD_FORMAT_VERSION: u8 = 1;

/// Bytes before the event in an encoded record.
pub const RECORD_HEADER_BYTES: usize = 1 + 8 + 32 + 32 + 4;

const FORMAT: &str = "chain record";

/// Appends the stored bytes of a record to `out` without building a
/// [`ChainRecord`], so that a store writing many records back to back (a
/// block of one group commit) copies each event once.
pub fn encode_record_into(
    out: &mut Vec<u8>,
    sequence: u64,
    previous_hash: &Sha256Hash,
    hash: &Sha256Hash,
    event: &[u8],
) -> Result<(), AuditError> {
    let event_length = u32::try_from(event.len()).map_err(|_| AuditError::EventTooLarge {
        length: event.len(),
        limit: u32::MAX as usize,
    })?;
    out.reserve(RECORD_HEADER_BYTES + event.len());
    out.push(RECORD_FORMAT_VERSION);
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(previous_hash.as_bytes());
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(&event_length.to_be_bytes());
    out.extend_from_slice(event);
    Ok(())
}

impl ChainRecord {
    /// The stored bytes of this record.
    pub fn encode(&self) -> Result<Vec<u8>, AuditError> {
        let mut bytes = Vec::with_capacity(RECORD_HEADER_BYTES + self.event.len());
        encode_record_into(
            &mut bytes,
            self.sequence,
            &self.previous_hash,
            &self.hash,
            &self.event,
        )?;
        Ok(bytes)
    }

    /// Reads the record at the start of `bytes`; returns it and the number of
    /// bytes it took. Bytes after it are left for the next call.
    pub fn decode(bytes: &[u8]) -> Result<(ChainRecord, usize), AuditError> {
        let mut reader = ByteReader::new(bytes, FORMAT);
        let version = reader.u8()?;
        if version != RECORD_FORMAT_VERSION {
            return Err(AuditError::UnknownVersion {
                format: FORMAT,
                version,
            });
        }
        let sequence = reader.u64()?;
        let previous_hash = reader.hash()?;
        let hash = reader.hash()?;
        let event_length =
            usize::try_from(reader.u32()?).map_err(|_| AuditError::InvalidField {
                format: FORMAT,
                field: "event length",
            })?;
        // `take` checks the length against the input before anything is copied.
        let event = reader.take(event_length)?.to_vec();
        let record = ChainRecord {
            sequence,
            previous_hash,
            hash,
            event,
        };
        Ok((record, reader.consumed()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::ChainHead;

    #[test]
    fn decode_reads_back_what_encode_wrote_and_reports_its_length() {
        let mut head = ChainHead::GENESIS;
        let first = head.append(br#"{"a":1}"#.to_vec()).unwrap();
        let second = head.append(Vec::new()).unwrap();
        let mut segment = first.encode().unwrap();
        segment.extend(second.encode().unwrap());
        let (read_first, used) = ChainRecord::decode(&segment).unwrap();
        assert_eq!(read_first, first);
        let (read_second, rest) = ChainRecord::decode(&segment[used..]).unwrap();
        assert_eq!(read_second, second);
        assert_eq!(used + rest, segment.len());
    }

    #[test]
    fn append_encoded_writes_what_append_returns() {
        let mut returned = ChainHead::GENESIS;
        let mut encoded = ChainHead::GENESIS;
        let mut block = Vec::new();
        let mut expected = Vec::new();
        for event in [&br#"{"a":1}"#[..], b"", b"{\"b\":2}"] {
            expected.extend(returned.append(event.to_vec()).unwrap().encode().unwrap());
            encoded.append_encoded(event, &mut block).unwrap();
            assert_eq!(encoded, returned);
        }
        assert_eq!(block, expected);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut head = ChainHead::GENESIS;
        let bytes = head.append(b"{}".to_vec()).unwrap().encode().unwrap();
        for length in 0..bytes.len() {
            assert!(
                ChainRecord::decode(&bytes[..length]).is_err(),
                "length {length}"
            );
        }
    }

    #[test]
    fn a_huge_length_field_does_not_allocate() {
        let mut bytes = vec![RECORD_FORMAT_VERSION];
        bytes.extend([0u8; 8 + 64]);
        bytes.extend(u32::MAX.to_be_bytes());
        assert!(matches!(
            ChainRecord::decode(&bytes),
            Err(AuditError::Truncated { .. })
        ));
    }

    #[test]
    fn unknown_versions_are_rejected() {
        let mut head = ChainHead::GENESIS;
        let mut bytes = head.append(b"{}".to_vec()).unwrap().encode().unwrap();
        bytes[0] = 2;
        assert!(matches!(
            ChainRecord::decode(&bytes),
            Err(AuditError::UnknownVersion { version: 2, .. })
        ));
    }
}
