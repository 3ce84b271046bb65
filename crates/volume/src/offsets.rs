//! Offset arithmetic between a file's plaintext and its backing file
//! (gocryptfs' `internal/contentenc/offsets.go`).
//!
//! Plaintext block `n` covers plaintext bytes `[4096 n, 4096 (n+1))` and sits
//! at backing offset `18 + 4128 n`. Only the last block may be short. The
//! backing file is addressed with `off_t`, so the largest plaintext size is
//! the one whose backing size still fits in an `i64`.

use crate::content::{BLOCK_OVERHEAD, CIPHER_BLOCK_LEN, PLAIN_BLOCK_LEN};
use crate::header::HEADER_LEN;
use crate::VolumeFormatError;

const PLAIN: u64 = PLAIN_BLOCK_LEN as u64;
const CIPHER: u64 = CIPHER_BLOCK_LEN as u64;
const HEADER: u64 = HEADER_LEN as u64;
const OVERHEAD: u64 = BLOCK_OVERHEAD as u64;

/// Largest plaintext size: whole blocks whose backing bytes end at or below
/// `i64::MAX`.
pub const MAX_PLAIN_SIZE: u64 = ((i64::MAX as u64 - HEADER) / CIPHER) * PLAIN;

/// The block holding plaintext offset `plain_offset`.
pub fn block_no(plain_offset: u64) -> u64 {
    plain_offset / PLAIN
}

/// Plaintext offset where block `block_no` starts.
pub fn block_plain_offset(block_no: u64) -> Result<u64, VolumeFormatError> {
    block_no
        .checked_mul(PLAIN)
        .ok_or(VolumeFormatError::OffsetOverflow)
}

/// Backing offset where block `block_no` starts.
pub fn block_cipher_offset(block_no: u64) -> Result<u64, VolumeFormatError> {
    block_no
        .checked_mul(CIPHER)
        .and_then(|offset| offset.checked_add(HEADER))
        .filter(|offset| *offset <= i64::MAX as u64)
        .ok_or(VolumeFormatError::OffsetOverflow)
}

/// The plaintext size of a backing file of `cipher_size` bytes.
///
/// As in gocryptfs' `CipherSizeToPlainSize`, sizes the format cannot produce
/// get a best guess instead of an error: a header alone (a write
/// interrupted after the header) or less is empty, and a last block of at
/// most 32 bytes (torn, no room for content) counts as one byte, which
/// then fails authentication when read.
pub fn plain_size(cipher_size: u64) -> u64 {
    if cipher_size <= HEADER {
        return 0;
    }
    let mut size = cipher_size;
    let last_block = (size - HEADER) % CIPHER;
    if last_block > 0 && last_block <= OVERHEAD {
        size = size - last_block + OVERHEAD + 1;
    }
    let n_blocks = (size - 1 - HEADER) / CIPHER + 1;
    let overhead = n_blocks * OVERHEAD + HEADER;
    size.saturating_sub(overhead)
}

/// The backing size of a file of `plain_size` plaintext bytes.
pub fn cipher_size(plain_size: u64) -> Result<u64, VolumeFormatError> {
    if plain_size == 0 {
        return Ok(0);
    }
    if plain_size > MAX_PLAIN_SIZE {
        return Err(VolumeFormatError::OffsetOverflow);
    }
    let last = plain_size - 1;
    Ok(HEADER + block_no(last) * CIPHER + last % PLAIN + OVERHEAD + 1)
}

/// A piece of a plaintext range that falls into one block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockSpan {
    pub block_no: u64,
    /// Offset of the piece inside the block's plaintext.
    pub skip: usize,
    /// Length of the piece, at most `4096 - skip`.
    pub len: usize,
}

impl BlockSpan {
    /// Whether writing this piece needs the block's old content.
    pub fn is_partial(&self) -> bool {
        self.skip > 0 || self.len < PLAIN_BLOCK_LEN
    }
}

/// Splits the plaintext range `[offset, offset + len)` into per-block pieces.
pub fn blocks_of(offset: u64, len: u64) -> impl Iterator<Item = BlockSpan> {
    let mut offset = offset;
    let mut remaining = len;
    std::iter::from_fn(move || {
        if remaining == 0 {
            return None;
        }
        let skip = offset % PLAIN;
        let piece = remaining.min(PLAIN - skip);
        let span = BlockSpan {
            block_no: block_no(offset),
            skip: skip as usize,
            len: piece as usize,
        };
        offset = offset.saturating_add(piece);
        remaining -= piece;
        Some(span)
    })
}

/// The whole blocks of the backing file that hold a plaintext range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CipherRange {
    pub first_block: u64,
    pub n_blocks: u64,
    /// Backing offset of the first block.
    pub offset: u64,
    /// Backing bytes of all the blocks, the last one counted whole.
    pub len: u64,
}

/// The blocks to read for the plaintext range `[offset, offset + len)`;
/// `len == 0` gives no blocks.
pub fn cipher_range(offset: u64, len: u64) -> Result<CipherRange, VolumeFormatError> {
    let end = offset
        .checked_add(len)
        .filter(|end| *end <= MAX_PLAIN_SIZE)
        .ok_or(VolumeFormatError::OffsetOverflow)?;
    let first_block = block_no(offset);
    let n_blocks = if len == 0 {
        0
    } else {
        block_no(end - 1) - first_block + 1
    };
    Ok(CipherRange {
        first_block,
        n_blocks,
        offset: block_cipher_offset(first_block)?,
        len: n_blocks * CIPHER,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes_from_the_format_document() {
        assert_eq!(cipher_size(0).unwrap(), 0);
        assert_eq!(cipher_size(1).unwrap(), 51);
        assert_eq!(cipher_size(5000).unwrap(), 5082);
        assert_eq!(cipher_size(4096).unwrap(), 18 + 4128);
        assert_eq!(plain_size(51), 1);
        assert_eq!(plain_size(5082), 5000);
        assert_eq!(plain_size(18 + 4128), 4096);
    }

    #[test]
    fn best_guesses_for_impossible_sizes() {
        assert_eq!(plain_size(0), 0);
        assert_eq!(plain_size(5), 0);
        assert_eq!(plain_size(18), 0);
        // A torn last block of 1..=32 bytes counts as one byte.
        assert_eq!(plain_size(19), 1);
        assert_eq!(plain_size(50), 1);
        assert_eq!(plain_size(18 + 4128 + 10), 4097);
    }

    #[test]
    fn limits() {
        let max_cipher = cipher_size(MAX_PLAIN_SIZE).unwrap();
        assert!(max_cipher <= i64::MAX as u64);
        assert_eq!(plain_size(max_cipher), MAX_PLAIN_SIZE);
        assert_eq!(
            cipher_size(MAX_PLAIN_SIZE + 1).unwrap_err(),
            VolumeFormatError::OffsetOverflow
        );
        assert_eq!(
            cipher_range(u64::MAX, 1).unwrap_err(),
            VolumeFormatError::OffsetOverflow
        );
        assert_eq!(
            block_cipher_offset(u64::MAX / 1000).unwrap_err(),
            VolumeFormatError::OffsetOverflow
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(
            cipher_range(4000, 200).unwrap(),
            CipherRange {
                first_block: 0,
                n_blocks: 2,
                offset: 18,
                len: 8256
            }
        );
        assert_eq!(cipher_range(4096, 0).unwrap().n_blocks, 0);
        let spans: Vec<_> = blocks_of(4000, 5000).collect();
        assert_eq!(
            spans,
            vec![
                BlockSpan {
                    block_no: 0,
                    skip: 4000,
                    len: 96
                },
                BlockSpan {
                    block_no: 1,
                    skip: 0,
                    len: 4096
                },
                BlockSpan {
                    block_no: 2,
                    skip: 0,
                    len: 808
                },
            ]
        );
        assert!(spans[0].is_partial() && !spans[1].is_partial() && spans[2].is_partial());
    }

    proptest! {
        #[test]
        fn plain_and_cipher_sizes_invert(size in 0u64..(1 << 40)) {
            prop_assert_eq!(plain_size(cipher_size(size).unwrap()), size);
        }

        #[test]
        fn spans_cover_the_range(offset in 0u64..(1 << 40), len in 0u64..100_000) {
            let spans: Vec<_> = blocks_of(offset, len).collect();
            prop_assert_eq!(spans.iter().map(|s| s.len as u64).sum::<u64>(), len);
            let range = cipher_range(offset, len).unwrap();
            prop_assert_eq!(range.n_blocks, spans.len() as u64);
            if let Some(first) = spans.first() {
                prop_assert_eq!(first.block_no, range.first_block);
                prop_assert_eq!(block_plain_offset(first.block_no).unwrap() + first.skip as u64, offset);
            }
        }
    }
}
