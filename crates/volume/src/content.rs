//! File content blocks and encrypted symlink targets.
//!
//! A non-empty file is its 18-byte header followed by blocks, each sealing up
//! to 4096 plaintext bytes (only the last block may be shorter):
//!
//! ```text
//! offset  len  field
//!      0   16  IV, random for every write of the block
//!     16    n  AES-256-GCM ciphertext, 1 <= n <= 4096
//!   16+n   16  GCM tag
//! ```
//!
//! The additional data is the block number (u64 big-endian) followed by the
//! 16-byte file id (`concatAD` in gocryptfs' `internal/contentenc/content.go`),
//! so a block cannot be replayed at another position or in another file.
//!
//! A whole 4128-byte block of zeros is a hole: it reads as 4096 zero bytes
//! without any authentication, because gocryptfs leaves holes in the backing
//! file sparse (`DecryptBlock`'s "file hole passthrough"). Only a full-size
//! zero block qualifies; a shorter one has an all-zero IV, which is refused.
//!
//! A symlink target is sealed the same way as one block with block number 0
//! and no file id (the additional data is 8 zero bytes), then written as
//! unpadded base64url (`encryptSymlinkTarget` in
//! `internal/fusefrontend/root_node.go`).

use aes_gcm::aead::consts::U16;
use aes_gcm::aes::Aes256;
use aes_gcm::{AeadInOut, AesGcm, KeyInit, Nonce, Tag};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::header::FileId;
use crate::VolumeFormatError;

pub const PLAIN_BLOCK_LEN: usize = 4096;
pub const IV_LEN: usize = 16;
pub const TAG_LEN: usize = 16;
pub const BLOCK_OVERHEAD: usize = IV_LEN + TAG_LEN;
pub const CIPHER_BLOCK_LEN: usize = PLAIN_BLOCK_LEN + BLOCK_OVERHEAD;

type Gcm128 = AesGcm<Aes256, U16>;

/// AES-256-GCM with 128-bit IVs under the volume's content key.
pub struct ContentCipher {
    gcm: Gcm128,
}

impl ContentCipher {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        // Borrowed as an array reference: no unwiped copy of the key.
        ContentCipher {
            gcm: Gcm128::new(key.into()),
        }
    }

    /// Seals `plaintext` as consecutive blocks starting at `first_block` and
    /// appends them to `out`. Each block gets a fresh random IV.
    pub fn seal_blocks(
        &self,
        plaintext: &[u8],
        first_block: u64,
        file_id: &FileId,
        out: &mut Vec<u8>,
    ) -> Result<(), VolumeFormatError> {
        let n_blocks = plaintext.len().div_ceil(PLAIN_BLOCK_LEN);
        // One call to the DRBG for all the IVs of a request.
        let mut ivs = vec![0u8; n_blocks * IV_LEN];
        SystemRandom::new()
            .fill(&mut ivs)
            .map_err(|_| VolumeFormatError::Random)?;
        out.reserve(plaintext.len() + n_blocks * BLOCK_OVERHEAD);
        for (index, (chunk, iv)) in plaintext
            .chunks(PLAIN_BLOCK_LEN)
            .zip(ivs.chunks_exact(IV_LEN))
            .enumerate()
        {
            let mut iv_array = [0u8; IV_LEN];
            iv_array.copy_from_slice(iv);
            if iv_array == [0u8; IV_LEN] {
                // 2^-128; gocryptfs would refuse to read it back.
                SystemRandom::new()
                    .fill(&mut iv_array)
                    .map_err(|_| VolumeFormatError::Random)?;
            }
            let block_no = first_block
                .checked_add(index as u64)
                .ok_or(VolumeFormatError::OffsetOverflow)?;
            self.seal_block_with_iv(chunk, block_no, Some(file_id), iv_array, out)?;
        }
        Ok(())
    }

    /// Seals one block under a caller-chosen IV. Only tests choose IVs.
    pub(crate) fn seal_block_with_iv(
        &self,
        plaintext: &[u8],
        block_no: u64,
        file_id: Option<&FileId>,
        iv: [u8; IV_LEN],
        out: &mut Vec<u8>,
    ) -> Result<(), VolumeFormatError> {
        if plaintext.is_empty() || (file_id.is_some() && plaintext.len() > PLAIN_BLOCK_LEN) {
            return Err(VolumeFormatError::PlainBlockLength(plaintext.len()));
        }
        let start = out.len();
        out.extend_from_slice(&iv);
        out.extend_from_slice(plaintext);
        let aad = additional_data(block_no, file_id);
        let nonce = Nonce::<U16>::from(iv);
        let Some(body) = out.get_mut(start + IV_LEN..) else {
            return Err(VolumeFormatError::BlockTooShort(0));
        };
        let tag = self
            .gcm
            .encrypt_inout_detached(&nonce, aad.as_slice(), body.into())
            .map_err(|_| VolumeFormatError::PlainBlockLength(plaintext.len()))?;
        out.extend_from_slice(tag.as_slice());
        Ok(())
    }

    /// Opens consecutive blocks in place: on success the plaintext of all
    /// blocks sits at the front of `buffer` and its length is returned. The
    /// last block may be short; every other must be 4128 bytes. On failure
    /// the error names the first block that did not open, and nothing in
    /// `buffer` may be used.
    pub fn open_blocks_in_place(
        &self,
        buffer: &mut [u8],
        first_block: u64,
        file_id: &FileId,
    ) -> Result<usize, (u64, VolumeFormatError)> {
        let mut plain_len = 0usize;
        let mut offset = 0usize;
        let mut block_no = first_block;
        while offset < buffer.len() {
            let end = offset.saturating_add(CIPHER_BLOCK_LEN).min(buffer.len());
            let Some(block) = buffer.get_mut(offset..end) else {
                return Err((block_no, VolumeFormatError::BlockTooShort(0)));
            };
            let n = self
                .open_block_in_place(block, block_no, file_id)
                .map_err(|error| (block_no, error))?;
            // Move the block's plaintext (at block[16..16+n]) down to its
            // place in the output; ranges may overlap.
            buffer.copy_within(offset + IV_LEN..offset + IV_LEN + n, plain_len);
            plain_len += n;
            offset = end;
            block_no = block_no
                .checked_add(1)
                .ok_or((block_no, VolumeFormatError::OffsetOverflow))?;
        }
        Ok(plain_len)
    }

    /// Opens one block in place; its plaintext is then `block[16..16+n]`
    /// for the returned `n`. A full-size all-zero block is a hole whose
    /// plaintext is 4096 zero bytes (the zeros are already there).
    pub fn open_block_in_place(
        &self,
        block: &mut [u8],
        block_no: u64,
        file_id: &FileId,
    ) -> Result<usize, VolumeFormatError> {
        if block.len() > CIPHER_BLOCK_LEN {
            return Err(VolumeFormatError::BlockTooLong(block.len()));
        }
        if block.len() == CIPHER_BLOCK_LEN && block.iter().all(|byte| *byte == 0) {
            return Ok(PLAIN_BLOCK_LEN);
        }
        self.open_in_place(block, block_no, Some(file_id))
    }

    fn open_in_place(
        &self,
        block: &mut [u8],
        block_no: u64,
        file_id: Option<&FileId>,
    ) -> Result<usize, VolumeFormatError> {
        // gocryptfs never writes an empty block, so IV + tag alone is corrupt.
        if block.len() <= BLOCK_OVERHEAD {
            return Err(VolumeFormatError::BlockTooShort(block.len()));
        }
        let (iv, rest) = block.split_at_mut(IV_LEN);
        if iv.iter().all(|byte| *byte == 0) {
            return Err(VolumeFormatError::BlockZeroIv);
        }
        let body_len = rest.len() - TAG_LEN;
        let (body, tag) = rest.split_at_mut(body_len);
        let mut iv_array = [0u8; IV_LEN];
        iv_array.copy_from_slice(iv);
        let mut tag_array = [0u8; TAG_LEN];
        tag_array.copy_from_slice(tag);
        let aad = additional_data(block_no, file_id);
        self.gcm
            .decrypt_inout_detached(
                &Nonce::<U16>::from(iv_array),
                aad.as_slice(),
                (&mut *body).into(),
                &Tag::<U16>::from(tag_array),
            )
            .map_err(|_| VolumeFormatError::BlockAuthentication)?;
        Ok(body_len)
    }

    /// Encrypts a symlink target for the backing symlink. The empty target
    /// stays empty.
    pub fn encrypt_symlink_target(&self, target: &[u8]) -> Result<String, VolumeFormatError> {
        if target.is_empty() {
            return Ok(String::new());
        }
        let mut iv = [0u8; IV_LEN];
        while iv == [0u8; IV_LEN] {
            SystemRandom::new()
                .fill(&mut iv)
                .map_err(|_| VolumeFormatError::Random)?;
        }
        let mut sealed = Vec::with_capacity(target.len() + BLOCK_OVERHEAD);
        self.seal_block_with_iv(target, 0, None, iv, &mut sealed)?;
        Ok(URL_SAFE_NO_PAD.encode(sealed))
    }

    /// Decrypts a backing symlink's target.
    pub fn decrypt_symlink_target(&self, encoded: &[u8]) -> Result<Vec<u8>, VolumeFormatError> {
        if encoded.is_empty() {
            return Ok(Vec::new());
        }
        let mut sealed = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| VolumeFormatError::SymlinkEncoding)?;
        let n = self
            .open_in_place(&mut sealed, 0, None)
            .map_err(|error| match error {
                VolumeFormatError::BlockAuthentication => VolumeFormatError::SymlinkAuthentication,
                other => other,
            })?;
        sealed.truncate(IV_LEN + n);
        sealed.drain(..IV_LEN);
        Ok(sealed)
    }
}

/// Block number (u64 big-endian) followed by the file id; symlinks have no
/// file id.
fn additional_data(block_no: u64, file_id: Option<&FileId>) -> AdditionalData {
    let mut bytes = [0u8; 24];
    bytes[..8].copy_from_slice(&block_no.to_be_bytes());
    let len = match file_id {
        Some(id) => {
            bytes[8..].copy_from_slice(id.as_bytes());
            24
        }
        None => 8,
    };
    AdditionalData { bytes, len }
}

struct AdditionalData {
    bytes: [u8; 24],
    len: usize,
}

impl AdditionalData {
    fn as_slice(&self) -> &[u8] {
        self.bytes.get(..self.len).unwrap_or(&self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cipher() -> ContentCipher {
        ContentCipher::new(&[7u8; 32])
    }

    fn id(byte: u8) -> FileId {
        FileId::from_bytes([byte; 16]).unwrap()
    }

    fn seal(plaintext: &[u8], first_block: u64, file_id: &FileId) -> Vec<u8> {
        let mut out = Vec::new();
        cipher()
            .seal_blocks(plaintext, first_block, file_id, &mut out)
            .unwrap();
        out
    }

    fn open(
        sealed: &[u8],
        first_block: u64,
        file_id: &FileId,
    ) -> Result<Vec<u8>, (u64, VolumeFormatError)> {
        let mut buffer = sealed.to_vec();
        let n = cipher().open_blocks_in_place(&mut buffer, first_block, file_id)?;
        buffer.truncate(n);
        Ok(buffer)
    }

    #[test]
    fn sizes_match_the_format_document() {
        // file-format.md: a 1-byte file is 18 + 33 bytes, a 5000-byte file
        // is 18 + 4128 + 936 bytes.
        assert_eq!(seal(b"x", 0, &id(1)).len(), 33);
        assert_eq!(seal(&[5u8; 5000], 0, &id(1)).len(), 4128 + 936);
    }

    #[test]
    fn a_full_zero_block_is_a_hole_and_a_short_one_is_refused() {
        let mut hole = vec![0u8; CIPHER_BLOCK_LEN];
        assert_eq!(
            cipher().open_block_in_place(&mut hole, 3, &id(1)).unwrap(),
            PLAIN_BLOCK_LEN
        );
        assert!(hole[IV_LEN..IV_LEN + PLAIN_BLOCK_LEN]
            .iter()
            .all(|b| *b == 0));
        let mut short = vec![0u8; 100];
        assert_eq!(
            cipher()
                .open_block_in_place(&mut short, 3, &id(1))
                .unwrap_err(),
            VolumeFormatError::BlockZeroIv
        );
        // A hole between two real blocks.
        let mut file = seal(&[1u8; 4096], 0, &id(1));
        file.extend_from_slice(&vec![0u8; CIPHER_BLOCK_LEN]);
        file.extend_from_slice(&seal(b"end", 2, &id(1)));
        let plain = open(&file, 0, &id(1)).unwrap();
        assert_eq!(plain.len(), 4096 * 2 + 3);
        assert!(plain[4096..8192].iter().all(|b| *b == 0));
        assert_eq!(&plain[8192..], b"end");
    }

    #[test]
    fn blocks_are_bound_to_position_and_file() {
        let sealed = seal(b"block", 5, &id(1));
        assert_eq!(open(&sealed, 5, &id(1)).unwrap(), b"block");
        assert_eq!(
            open(&sealed, 6, &id(1)).unwrap_err(),
            (6, VolumeFormatError::BlockAuthentication)
        );
        assert_eq!(
            open(&sealed, 5, &id(2)).unwrap_err(),
            (5, VolumeFormatError::BlockAuthentication)
        );
    }

    #[test]
    fn overhead_only_and_oversized_blocks_are_refused() {
        let mut tiny = vec![1u8; BLOCK_OVERHEAD];
        assert_eq!(
            cipher()
                .open_block_in_place(&mut tiny, 0, &id(1))
                .unwrap_err(),
            VolumeFormatError::BlockTooShort(32)
        );
        let mut big = vec![1u8; CIPHER_BLOCK_LEN + 1];
        assert_eq!(
            cipher()
                .open_block_in_place(&mut big, 0, &id(1))
                .unwrap_err(),
            VolumeFormatError::BlockTooLong(CIPHER_BLOCK_LEN + 1)
        );
    }

    #[test]
    fn symlink_targets() {
        let encoded = cipher().encrypt_symlink_target(b"../some/where").unwrap();
        assert!(!encoded.contains('='));
        assert_eq!(
            cipher().decrypt_symlink_target(encoded.as_bytes()).unwrap(),
            b"../some/where"
        );
        assert_eq!(cipher().encrypt_symlink_target(b"").unwrap(), "");
        assert!(cipher().decrypt_symlink_target(b"").unwrap().is_empty());
        assert_eq!(
            cipher().decrypt_symlink_target(b"not base64!").unwrap_err(),
            VolumeFormatError::SymlinkEncoding
        );
        let mut tampered = encoded.into_bytes();
        let last = tampered.len() - 3;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            cipher().decrypt_symlink_target(&tampered).unwrap_err(),
            VolumeFormatError::SymlinkAuthentication
        );
    }

    proptest! {
        #[test]
        fn round_trip(plaintext in proptest::collection::vec(any::<u8>(), 1..10_000), first in 0u64..1000) {
            let sealed = seal(&plaintext, first, &id(9));
            prop_assert_eq!(open(&sealed, first, &id(9)).unwrap(), plaintext);
        }

        #[test]
        fn any_flipped_bit_is_detected(
            plaintext in proptest::collection::vec(any::<u8>(), 1..9000),
            position in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let mut sealed = seal(&plaintext, 0, &id(4));
            let index = position.index(sealed.len());
            sealed[index] ^= 1 << bit;
            prop_assert!(open(&sealed, 0, &id(4)).is_err());
        }

        #[test]
        fn opening_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..9000)) {
            let mut buffer = bytes.clone();
            let _ = cipher().open_blocks_in_place(&mut buffer, 0, &id(1));
        }
    }
}
