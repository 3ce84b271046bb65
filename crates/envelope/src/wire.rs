//! Big-endian field reading and writing shared by the header, body, footer
//! and provider-info codecs.
//!
//! [`FieldReader`] never indexes out of bounds and never allocates: a field
//! longer than what is left ends the read with `Truncated`, so a length
//! prefix cannot make a decoder allocate more than its input holds.

use crate::error::{EnvelopeError, MessageSection};

/// A cursor over a byte slice that reads the format's big-endian fields.
pub(crate) struct FieldReader<'a> {
    rest: &'a [u8],
    consumed: usize,
    section: MessageSection,
}

impl<'a> FieldReader<'a> {
    /// Reads `bytes`; running out reports a truncation of `section`.
    pub(crate) fn new(bytes: &'a [u8], section: MessageSection) -> Self {
        FieldReader {
            rest: bytes,
            consumed: 0,
            section,
        }
    }

    /// How many bytes have been read so far.
    pub(crate) fn consumed(&self) -> usize {
        self.consumed
    }

    /// The bytes not yet read.
    pub(crate) fn remaining(&self) -> &'a [u8] {
        self.rest
    }

    /// The next `len` bytes.
    pub(crate) fn bytes(&mut self, len: usize) -> Result<&'a [u8], EnvelopeError> {
        let (field, rest) = self
            .rest
            .split_at_checked(len)
            .ok_or(EnvelopeError::Truncated(self.section))?;
        self.rest = rest;
        self.consumed += len;
        Ok(field)
    }

    /// The next `N` bytes as an array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], EnvelopeError> {
        let (field, rest) = self
            .rest
            .split_first_chunk::<N>()
            .ok_or(EnvelopeError::Truncated(self.section))?;
        self.rest = rest;
        self.consumed += N;
        Ok(*field)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, EnvelopeError> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    pub(crate) fn u16(&mut self) -> Result<u16, EnvelopeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, EnvelopeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    pub(crate) fn u64(&mut self) -> Result<u64, EnvelopeError> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    /// A field preceded by its 16-bit length.
    pub(crate) fn u16_prefixed(&mut self) -> Result<&'a [u8], EnvelopeError> {
        let len = self.u16()?;
        self.bytes(usize::from(len))
    }
}

/// Appends `field` after its 16-bit length, or fails if it does not fit.
pub(crate) fn put_u16_prefixed(out: &mut Vec<u8>, field: &[u8]) -> Option<()> {
    let len = u16::try_from(field.len()).ok()?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(field);
    Some(())
}
