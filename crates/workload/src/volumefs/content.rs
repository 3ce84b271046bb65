//! Reading and writing file content through the format: read-modify-write
//! of partial blocks, zero padding before holes, and truncation, the way
//! gocryptfs' `internal/fusefrontend/file*.go` does them, so both programs
//! leave the same bytes behind.
//!
//! Every function here runs under the file's content lock (`OpenFile`):
//! reads share it, writes and truncation hold it alone.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use fuser::Errno;
use keyward_volume::{
    block_cipher_offset, block_no, block_plain_offset, blocks_of, cipher_range, cipher_size,
    plain_size, FileHeader, FileId, VolumeCipher, HEADER_LEN, PLAIN_BLOCK_LEN,
};
use tracing::warn;

/// Shared state of one backing file while any handle on it is open.
#[derive(Debug, Default)]
pub(crate) struct OpenFile {
    content: RwLock<ContentState>,
}

/// What the content lock protects.
#[derive(Debug, Default)]
pub(crate) struct ContentState {
    /// The file id from the header; `None` until read, or while the file is
    /// empty.
    file_id: Option<FileId>,
}

impl OpenFile {
    pub(crate) fn read(&self) -> Result<RwLockReadGuard<'_, ContentState>, Errno> {
        self.content.read().map_err(|_| Errno::EIO)
    }

    pub(crate) fn write(&self) -> Result<RwLockWriteGuard<'_, ContentState>, Errno> {
        self.content.write().map_err(|_| Errno::EIO)
    }
}

pub(crate) fn io_errno(error: &io::Error) -> Errno {
    error
        .raw_os_error()
        .map(Errno::from_i32)
        .unwrap_or(Errno::EIO)
}

/// The plaintext size of the backing file behind `file`.
pub(crate) fn file_plain_size(file: &File) -> Result<u64, Errno> {
    let metadata = file.metadata().map_err(|e| io_errno(&e))?;
    Ok(plain_size(metadata.len()))
}

/// Whether the file id still has to be read (then take the write lock).
pub(crate) fn needs_file_id(state: &ContentState) -> bool {
    state.file_id.is_none()
}

pub(crate) fn cached_file_id(state: &ContentState) -> Option<FileId> {
    state.file_id
}

/// Reads the header if it is not cached. A file with no byte after its
/// header counts as empty, as in gocryptfs (`readFileID` reads 19 bytes),
/// which makes a lone header harmless.
pub(crate) fn load_file_id(file: &File, state: &mut ContentState) -> Result<Option<FileId>, Errno> {
    if let Some(id) = state.file_id {
        return Ok(Some(id));
    }
    let mut header = [0u8; HEADER_LEN + 1];
    let n = read_full_at(file, &mut header, 0)?;
    if n < header.len() {
        return Ok(None);
    }
    let parsed = FileHeader::decode(&header).map_err(|error| {
        warn!(%error, "corrupt file header");
        Errno::EIO
    })?;
    state.file_id = Some(parsed.file_id);
    Ok(Some(parsed.file_id))
}

/// Reads plaintext `[offset, offset + len)`; shorter at the end of the file.
/// Returns the buffer and the range of it that holds the plaintext.
pub(crate) fn read(
    cipher: &VolumeCipher,
    file: &File,
    file_id: Option<FileId>,
    offset: u64,
    len: u64,
) -> Result<(Vec<u8>, Range<usize>), Errno> {
    let Some(file_id) = file_id else {
        return Ok((Vec::new(), 0..0));
    };
    let range = cipher_range(offset, len).map_err(|_| Errno::EFBIG)?;
    if range.n_blocks == 0 {
        return Ok((Vec::new(), 0..0));
    }
    let buffer_len = usize::try_from(range.len).map_err(|_| Errno::EFBIG)?;
    let mut buffer = vec![0u8; buffer_len];
    let n = read_full_at(file, &mut buffer, range.offset)?;
    buffer.truncate(n);
    if n == 0 {
        return Ok((buffer, 0..0));
    }
    let plain_len = cipher
        .content()
        .open_blocks_in_place(&mut buffer, range.first_block, &file_id)
        .map_err(|(block, error)| {
            // Never plaintext in a log: the block number and the reason only.
            warn!(block, %error, "content block failed to open: answering EIO");
            Errno::EIO
        })?;
    let first_plain = block_plain_offset(range.first_block).map_err(|_| Errno::EFBIG)?;
    let skip = usize::try_from(offset - first_plain).map_err(|_| Errno::EFBIG)?;
    let want_end = skip.saturating_add(usize::try_from(len).map_err(|_| Errno::EFBIG)?);
    let end = want_end.min(plain_len);
    if end <= skip {
        return Ok((buffer, 0..0));
    }
    Ok((buffer, skip..end))
}

/// Writes `data` at plaintext `offset`, padding the old last block first
/// when the write leaves a hole. Returns the bytes written.
pub(crate) fn write(
    cipher: &VolumeCipher,
    file: &File,
    state: &mut ContentState,
    offset: u64,
    data: &[u8],
) -> Result<usize, Errno> {
    if data.is_empty() {
        return Ok(0);
    }
    let size = file_plain_size(file)?;
    // A write beyond the block after the last one leaves a hole: the old
    // last block must be completed with zeros first, or it would end short
    // in the middle of the file (gocryptfs' `writePadHole`).
    if block_no(offset) > block_no(size) {
        zero_pad(cipher, file, state, size)?;
    }
    write_blocks(cipher, file, state, offset, data)
}

fn zero_pad(
    cipher: &VolumeCipher,
    file: &File,
    state: &mut ContentState,
    plain_size: u64,
) -> Result<(), Errno> {
    let in_last_block = (plain_size % PLAIN_BLOCK_LEN as u64) as usize;
    if in_last_block == 0 {
        return Ok(());
    }
    let zeros = vec![0u8; PLAIN_BLOCK_LEN - in_last_block];
    write_blocks(cipher, file, state, plain_size, &zeros).map(|_| ())
}

fn write_blocks(
    cipher: &VolumeCipher,
    file: &File,
    state: &mut ContentState,
    offset: u64,
    data: &[u8],
) -> Result<usize, Errno> {
    let file_id = match load_file_id(file, state)? {
        Some(id) => id,
        None => create_header(file, state)?,
    };
    let spans: Vec<_> = blocks_of(offset, data.len() as u64).collect();
    let (Some(first), Some(last)) = (spans.first().copied(), spans.last().copied()) else {
        return Ok(0);
    };
    let mut sealed = Vec::new();
    if !first.is_partial() && !last.is_partial() {
        // Whole blocks: seal straight from the caller's buffer.
        cipher
            .content()
            .seal_blocks(data, first.block_no, &file_id, &mut sealed)
            .map_err(|_| Errno::EIO)?;
    } else {
        let mut plain = Vec::with_capacity(spans.len() * PLAIN_BLOCK_LEN);
        let mut consumed = 0usize;
        for span in &spans {
            let piece = data.get(consumed..consumed + span.len).ok_or(Errno::EIO)?;
            consumed += span.len;
            if span.is_partial() {
                let block_start = block_plain_offset(span.block_no).map_err(|_| Errno::EFBIG)?;
                let (old, range) = read(
                    cipher,
                    file,
                    Some(file_id),
                    block_start,
                    PLAIN_BLOCK_LEN as u64,
                )?;
                let old = old.get(range).unwrap_or(&[]);
                // The block grows to cover the new bytes; a gap between the
                // old end and the write reads as zeros.
                let new_len = old.len().max(span.skip + span.len);
                let start = plain.len();
                plain.resize(start + new_len, 0);
                plain[start..start + old.len()].copy_from_slice(old);
                plain[start + span.skip..start + span.skip + span.len].copy_from_slice(piece);
            } else {
                plain.extend_from_slice(piece);
            }
        }
        cipher
            .content()
            .seal_blocks(&plain, first.block_no, &file_id, &mut sealed)
            .map_err(|_| Errno::EIO)?;
    }
    let cipher_offset = block_cipher_offset(first.block_no).map_err(|_| Errno::EFBIG)?;
    file.write_all_at(&sealed, cipher_offset)
        .map_err(|e| io_errno(&e))?;
    Ok(data.len())
}

fn create_header(file: &File, state: &mut ContentState) -> Result<FileId, Errno> {
    let header = FileHeader::random().map_err(|_| Errno::EIO)?;
    file.write_all_at(&header.encode(), 0)
        .map_err(|e| io_errno(&e))?;
    state.file_id = Some(header.file_id);
    Ok(header.file_id)
}

/// Sets the plaintext size to `new_size` (gocryptfs' `truncate` and
/// `truncateGrowFile`): shrinking rewrites the new last block, growing pads
/// the old last block and leaves whole new blocks as holes.
pub(crate) fn truncate(
    cipher: &VolumeCipher,
    file: &File,
    state: &mut ContentState,
    new_size: u64,
) -> Result<(), Errno> {
    if new_size == 0 {
        file.set_len(0).map_err(|e| io_errno(&e))?;
        state.file_id = None;
        return Ok(());
    }
    cipher_size(new_size).map_err(|_| Errno::EFBIG)?;
    let old_size = file_plain_size(file)?;
    if new_size == old_size {
        return Ok(());
    }
    if new_size > old_size {
        return grow(cipher, file, state, old_size, new_size);
    }
    let block = block_no(new_size);
    let block_start = block_plain_offset(block).map_err(|_| Errno::EFBIG)?;
    let keep = new_size - block_start;
    let tail = if keep > 0 {
        let (buffer, range) = read(cipher, file, load_file_id(file, state)?, block_start, keep)?;
        Some(buffer.get(range).ok_or(Errno::EIO)?.to_vec())
    } else {
        None
    };
    let cut = block_cipher_offset(block).map_err(|_| Errno::EFBIG)?;
    file.set_len(cut).map_err(|e| io_errno(&e))?;
    if let Some(tail) = tail {
        write_blocks(cipher, file, state, block_start, &tail)?;
    }
    Ok(())
}

fn grow(
    cipher: &VolumeCipher,
    file: &File,
    state: &mut ContentState,
    old_size: u64,
    new_size: u64,
) -> Result<(), Errno> {
    let last_byte = new_size - 1;
    if old_size > 0 && block_no(old_size - 1) == block_no(last_byte) {
        // Growing inside the last block: write one zero at the new end.
        write_blocks(cipher, file, state, last_byte, &[0])?;
        return Ok(());
    }
    zero_pad(cipher, file, state, old_size)?;
    if new_size.is_multiple_of(PLAIN_BLOCK_LEN as u64) {
        if load_file_id(file, state)?.is_none() {
            create_header(file, state)?;
        }
        let size = cipher_size(new_size).map_err(|_| Errno::EFBIG)?;
        file.set_len(size).map_err(|e| io_errno(&e))?;
        return Ok(());
    }
    write_blocks(cipher, file, state, last_byte, &[0])?;
    Ok(())
}

/// `pread` until `buffer` is full or the file ends.
pub(crate) fn read_full_at(file: &File, buffer: &mut [u8], offset: u64) -> Result<usize, Errno> {
    let mut done = 0usize;
    while done < buffer.len() {
        let Some(rest) = buffer.get_mut(done..) else {
            break;
        };
        match file.read_at(rest, offset + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(io_errno(&error)),
        }
    }
    Ok(done)
}
