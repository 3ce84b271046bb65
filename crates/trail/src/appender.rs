//! Durable appends to the segment being written, and segments made ready
//! ahead of time.
//!
//! **Why `O_DIRECT | O_DSYNC` into a file written out in advance.** Every
//! call waits for its frame to be on disk, so the cost of one durable write
//! is paid on the path of every call (amortised over a group commit). On the
//! virtual disk this was measured on, a buffered `pwrite` + `fdatasync` cost
//! about 50 µs of CPU, a direct synchronous write about 30 µs (the page
//! cache's writeback machinery is skipped), and a write that grows the file
//! about twice the time of one into blocks already written, because the new
//! size and block map must go through the filesystem journal too
//! (BENCHMARKS.md, "The audit trail"). So a segment is written out in zeros
//! by [`prepare_segment`] before it is used (off the path of any call), and
//! frames are then written into it in place.
//!
//! Direct I/O writes whole pages from page-aligned memory: each append
//! rewrites the partly filled last page, its earlier bytes unchanged, so a
//! write torn at any sector boundary never damages an acknowledged frame.
//! Where the filesystem refuses direct I/O (tmpfs, some network and FUSE
//! filesystems), appends fall back to `pwrite` + `fdatasync`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::error::TrailError;

/// The unit of direct I/O: offsets, lengths and memory are aligned to it.
pub const PAGE: usize = 4096;

/// How appends reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteMode {
    /// `O_DIRECT | O_DSYNC`: whole pages, durable when the write returns.
    Direct,
    /// `pwrite` then `fdatasync`.
    Buffered,
}

/// The segment frames are appended to.
pub struct ActiveSegment {
    number: u64,
    path: PathBuf,
    file: File,
    mode: WriteMode,
    size: u64,
    /// Where the next frame goes: everything before it is durable.
    end: u64,
    /// Direct mode: the bytes of the last, partly filled page come first.
    pages: AlignedPages,
}

impl ActiveSegment {
    /// Opens segment `number` at `path` (`size` bytes, written out) to append
    /// at `end`. `written` is the file's content up to `end` at least (only
    /// its last partial page is kept).
    pub fn open(
        number: u64,
        path: &Path,
        size: u64,
        end: u64,
        written: &[u8],
        mode: WriteMode,
    ) -> Result<Self, TrailError> {
        let (file, mode) = open_for_writes(path, mode)?;
        let mut pages = AlignedPages::new(PAGE * 256);
        let page_start = page_floor(end) as usize;
        let end_index = usize::try_from(end)
            .unwrap_or(usize::MAX)
            .min(written.len());
        let kept = &written[page_start.min(end_index)..end_index];
        pages.bytes_mut(kept.len()).copy_from_slice(kept);
        Ok(ActiveSegment {
            number,
            path: path.to_path_buf(),
            file,
            mode,
            size,
            end,
            pages,
        })
    }

    pub fn number(&self) -> u64 {
        self.number
    }

    /// Where the next frame goes.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// Bytes that still fit.
    pub fn remaining(&self) -> u64 {
        self.size.saturating_sub(self.end)
    }

    pub fn mode(&self) -> WriteMode {
        self.mode
    }

    /// Appends `parts` back to back; they are on disk when this returns. On
    /// error nothing after the old end may be trusted, and the end stays.
    pub fn append(&mut self, parts: &[&[u8]]) -> Result<(), TrailError> {
        let length: usize = parts.iter().map(|p| p.len()).sum();
        if length as u64 > self.remaining() {
            return Err(TrailError::WriteFailed(format!(
                "{} bytes do not fit in segment {} ({} left)",
                length,
                self.number,
                self.remaining()
            )));
        }
        match self.mode {
            WriteMode::Direct => match self.append_direct(parts, length) {
                // Some filesystems accept O_DIRECT at open and refuse the write.
                Err(error) if is_invalid_argument(&error) => {
                    tracing::info!(path = %self.path.display(), "direct I/O refused; the trail falls back to buffered writes with fdatasync");
                    self.switch_to_buffered()?;
                    self.append_buffered(parts, length)
                }
                other => other.map_err(TrailError::io("write", &self.path)),
            },
            WriteMode::Buffered => self.append_buffered(parts, length),
        }
    }

    fn append_direct(&mut self, parts: &[&[u8]], length: usize) -> std::io::Result<()> {
        let page_start = page_floor(self.end);
        let kept = (self.end - page_start) as usize;
        let filled = kept + length;
        let padded = page_ceil(filled as u64) as usize;
        self.pages.reserve(padded, kept);
        let buffer = self.pages.bytes_mut(padded);
        let mut at = kept;
        for part in parts {
            buffer[at..at + part.len()].copy_from_slice(part);
            at += part.len();
        }
        buffer[filled..].fill(0);
        let written = self.file.write_at(buffer, page_start)?;
        if written != padded {
            return Err(std::io::Error::new(
                std::io::ErrorKind::WriteZero,
                format!("short direct write: {written} of {padded} bytes"),
            ));
        }
        self.end += length as u64;
        // Keep the new last partial page for the next append.
        let keep_from = (page_floor(self.end) - page_start) as usize;
        buffer.copy_within(keep_from..filled, 0);
        Ok(())
    }

    fn append_buffered(&mut self, parts: &[&[u8]], length: usize) -> Result<(), TrailError> {
        let mut at = self.end;
        for part in parts {
            self.file
                .write_all_at(part, at)
                .map_err(TrailError::io("write", &self.path))?;
            at += part.len() as u64;
        }
        self.file
            .sync_data()
            .map_err(TrailError::io("fsync", &self.path))?;
        self.end += length as u64;
        Ok(())
    }

    fn switch_to_buffered(&mut self) -> Result<(), TrailError> {
        let (file, mode) = open_for_writes(&self.path, WriteMode::Buffered)?;
        self.file = file;
        self.mode = mode;
        Ok(())
    }

    /// Overwrites `end..until` with zeros (a frame a crash cut short), durably,
    /// so that the segment reads as ending at `end` again.
    pub fn clear_after_end(&mut self, until: u64) -> Result<(), TrailError> {
        let until = until.min(self.size);
        if until <= self.end {
            return Ok(());
        }
        let end = self.end;
        let kept_length = (end - page_floor(end)) as usize;
        let kept = self.pages.bytes_mut(kept_length).to_vec();
        self.append(&[&vec![0u8; (until - end) as usize]])?;
        // The zeros are no frame: the next frame goes where they start.
        self.end = end;
        self.pages.bytes_mut(kept_length).copy_from_slice(&kept);
        Ok(())
    }
}

fn is_invalid_argument(error: &std::io::Error) -> bool {
    error.raw_os_error() == Some(libc::EINVAL)
}

/// The open flag of direct I/O where the platform has one (Linux); elsewhere
/// the trail writes buffered.
#[cfg(target_os = "linux")]
const DIRECT: Option<i32> = Some(libc::O_DIRECT);
#[cfg(not(target_os = "linux"))]
const DIRECT: Option<i32> = None;

/// Opens `path` for appends in `mode`, or buffered when the filesystem
/// refuses direct I/O.
fn open_for_writes(path: &Path, mode: WriteMode) -> Result<(File, WriteMode), TrailError> {
    if let (WriteMode::Direct, Some(direct)) = (mode, DIRECT) {
        match OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(direct | libc::O_DSYNC)
            .open(path)
        {
            Ok(file) => return Ok((file, WriteMode::Direct)),
            Err(error) if is_invalid_argument(&error) => {
                tracing::info!(path = %path.display(), "the filesystem refuses direct I/O; the trail uses buffered writes with fdatasync");
            }
            Err(error) => return Err(TrailError::io("open", path)(error)),
        }
    }
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(TrailError::io("open", path))?;
    Ok((file, WriteMode::Buffered))
}

/// Creates `path` as `size` bytes of zeros, durably (its blocks allocated and
/// written, so that later writes into it change no metadata). Used for the
/// spare segment, off the path of any call.
pub fn prepare_segment(path: &Path, size: u64, mode: WriteMode) -> Result<(), TrailError> {
    if mode == WriteMode::Direct && DIRECT.is_some() {
        match write_zeros(path, size, true) {
            // Direct I/O refused (at open or at the first write): buffered.
            Err(error) if is_invalid_argument(&error) => {}
            other => return other.map_err(TrailError::io("prepare", path)),
        }
    }
    write_zeros(path, size, false).map_err(TrailError::io("prepare", path))
}

fn write_zeros(path: &Path, size: u64, direct: bool) -> std::io::Result<()> {
    // Few, large writes: on a virtual disk every request costs the machine
    // CPU time whatever its size (BENCHMARKS.md, "The audit trail").
    const CHUNK: usize = 4 * 1024 * 1024;
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if let (true, Some(flag)) = (direct, DIRECT) {
        options.custom_flags(flag);
    }
    let file = options.open(path)?;
    let mut pages = AlignedPages::new(CHUNK);
    let zeros = pages.bytes_mut(CHUNK);
    let mut offset = 0u64;
    while offset < size {
        let length = ((size - offset) as usize).min(CHUNK);
        file.write_all_at(&zeros[..length], offset)?;
        offset += length as u64;
    }
    file.sync_all()
}

/// A segment's size rounded up to whole pages (direct I/O writes pages, and
/// never past the prepared end).
pub fn segment_size(requested: u64) -> u64 {
    page_ceil(requested.max((PAGE * 4) as u64))
}

fn page_floor(offset: u64) -> u64 {
    offset / PAGE as u64 * PAGE as u64
}

fn page_ceil(offset: u64) -> u64 {
    offset.div_ceil(PAGE as u64) * PAGE as u64
}

/// Page-aligned memory for direct I/O, without `unsafe`: a byte vector one
/// page longer than needed, used from its first page-aligned address.
struct AlignedPages {
    storage: Vec<u8>,
    start: usize,
}

impl AlignedPages {
    fn new(capacity: usize) -> Self {
        let storage = vec![0u8; capacity + PAGE];
        let start = (PAGE - storage.as_ptr() as usize % PAGE) % PAGE;
        AlignedPages { storage, start }
    }

    fn capacity(&self) -> usize {
        self.storage.len() - self.start
    }

    /// The first `length` aligned bytes.
    fn bytes_mut(&mut self, length: usize) -> &mut [u8] {
        &mut self.storage[self.start..self.start + length]
    }

    /// Makes room for `length` bytes, keeping the first `kept`.
    fn reserve(&mut self, length: usize, kept: usize) {
        if length <= self.capacity() {
            return;
        }
        let mut bigger = AlignedPages::new(page_ceil(length as u64) as usize);
        bigger
            .bytes_mut(kept)
            .copy_from_slice(&self.storage[self.start..self.start + kept]);
        *self = bigger;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prepared(mode: WriteMode) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("segment");
        prepare_segment(&path, segment_size(64 * 1024), mode).unwrap();
        (dir, path)
    }

    #[test]
    fn appends_land_back_to_back_in_either_mode() {
        for mode in [WriteMode::Direct, WriteMode::Buffered] {
            let (_dir, path) = prepared(mode);
            assert_eq!(std::fs::metadata(&path).unwrap().len(), 64 * 1024);
            let mut segment = ActiveSegment::open(1, &path, 64 * 1024, 0, &[], mode).unwrap();
            let mut expected = Vec::new();
            for (index, length) in [5usize, 4091, 1, 8192, 3000].into_iter().enumerate() {
                let part: Vec<u8> = (0..length).map(|i| (i + index) as u8 | 1).collect();
                let split = length.min(2);
                segment.append(&[&part[..split], &part[split..]]).unwrap();
                expected.extend_from_slice(&part);
            }
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(&bytes[..expected.len()], &expected[..], "{mode:?}");
            assert!(bytes[expected.len()..].iter().all(|&b| b == 0));
            assert_eq!(segment.end(), expected.len() as u64);
            assert!(segment.append(&[&vec![1u8; 64 * 1024]]).is_err());
        }
    }

    #[test]
    fn reopening_continues_after_a_partial_page() {
        let (_dir, path) = prepared(WriteMode::Direct);
        let mut segment =
            ActiveSegment::open(1, &path, 64 * 1024, 0, &[], WriteMode::Direct).unwrap();
        segment.append(&[&[7u8; 5000]]).unwrap();
        drop(segment);
        let written = std::fs::read(&path).unwrap();
        let mut segment =
            ActiveSegment::open(1, &path, 64 * 1024, 5000, &written, WriteMode::Direct).unwrap();
        segment.append(&[&[9u8; 10]]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes[..5000].iter().all(|&b| b == 7));
        assert!(bytes[5000..5010].iter().all(|&b| b == 9));
        assert!(bytes[5010..].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_cut_short_write_is_cleared() {
        let (_dir, path) = prepared(WriteMode::Direct);
        let mut segment =
            ActiveSegment::open(1, &path, 64 * 1024, 0, &[], WriteMode::Direct).unwrap();
        segment.append(&[&[7u8; 100]]).unwrap();
        segment.append(&[&[8u8; 6000]]).unwrap();
        drop(segment);
        let written = std::fs::read(&path).unwrap();
        // As if the second write had not been acknowledged.
        let mut segment =
            ActiveSegment::open(1, &path, 64 * 1024, 100, &written, WriteMode::Direct).unwrap();
        segment.clear_after_end(6100).unwrap();
        segment.append(&[&[9u8; 3]]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(bytes[..100].iter().all(|&b| b == 7));
        assert_eq!(&bytes[100..103], &[9, 9, 9]);
        assert!(bytes[103..].iter().all(|&b| b == 0));
    }
}
