//! Bounds-checked reading for the crate's binary formats.
//!
//! Decoders take untrusted bytes (a damaged disk, a tampering attacker, a
//! fuzzer), so every read checks the remaining length first and reports a
//! typed [`AuditError::Truncated`] instead of panicking, and nothing is ever
//! allocated from a length that has not been checked against the input.

use crate::error::AuditError;
use crate::hash::Sha256Hash;

/// A cursor over one encoded value.
pub(crate) struct ByteReader<'a> {
    bytes: &'a [u8],
    offset: usize,
    format: &'static str,
}

impl<'a> ByteReader<'a> {
    pub(crate) fn new(bytes: &'a [u8], format: &'static str) -> Self {
        ByteReader {
            bytes,
            offset: 0,
            format,
        }
    }

    pub(crate) fn take(&mut self, length: usize) -> Result<&'a [u8], AuditError> {
        let available = self.bytes.len().saturating_sub(self.offset);
        let end = self
            .offset
            .checked_add(length)
            .filter(|_| length <= available)
            .ok_or(AuditError::Truncated {
                format: self.format,
                needed: length,
                available,
            })?;
        let taken = self
            .bytes
            .get(self.offset..end)
            .ok_or(AuditError::Truncated {
                format: self.format,
                needed: length,
                available,
            })?;
        self.offset = end;
        Ok(taken)
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], AuditError> {
        let mut array = [0u8; N];
        array.copy_from_slice(self.take(N)?);
        Ok(array)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, AuditError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, AuditError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, AuditError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, AuditError> {
        Ok(i64::from_be_bytes(self.array()?))
    }

    pub(crate) fn hash(&mut self) -> Result<Sha256Hash, AuditError> {
        Ok(Sha256Hash(self.array()?))
    }

    /// Bytes consumed so far.
    pub(crate) fn consumed(&self) -> usize {
        self.offset
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn expect_end(&self) -> Result<(), AuditError> {
        let length = self.bytes.len().saturating_sub(self.offset);
        if length == 0 {
            Ok(())
        } else {
            Err(AuditError::TrailingBytes {
                format: self.format,
                length,
            })
        }
    }
}
