//! The backing directory: system calls relative to its root descriptor,
//! directory IVs and long-name files, and stat-to-attribute conversion.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{Errno, FileAttr, FileType, INodeNo};
use keyward_volume::{
    decode_long_name_file, plain_size, CipherName, DirIv, VolumeCipher, DIRIV_FILENAME, DIRIV_LEN,
    LONGNAME_SUFFIX,
};
use rustix::fs::{AtFlags, Mode, OFlags, Stat};
use tracing::warn;

pub(crate) fn errno(error: rustix::io::Errno) -> Errno {
    Errno::from_i32(error.raw_os_error())
}

/// Reads and checks a directory's `gocryptfs.diriv`.
pub(crate) fn read_dir_iv(root: &OwnedFd, dir_path: &str) -> Result<DirIv, Errno> {
    let path = join(dir_path, DIRIV_FILENAME);
    let bytes = read_small_file(root, &path, DIRIV_LEN + 1)?;
    DirIv::decode(&bytes).map_err(|error| {
        warn!(%error, "unusable gocryptfs.diriv");
        Errno::EIO
    })
}

/// Creates `gocryptfs.diriv` in a new directory: 16 random bytes, mode 0444,
/// never changed afterwards (gocryptfs' `WriteDirIVAt`).
pub(crate) fn write_dir_iv(root: &OwnedFd, dir_path: &str, dir_iv: &DirIv) -> Result<(), Errno> {
    let path = join(dir_path, DIRIV_FILENAME);
    write_new_file(root, &path, &dir_iv.encode())
}

/// Writes `<hashed>.name` next to a long name; `EEXIST` is reported as is.
pub(crate) fn write_long_name(
    root: &OwnedFd,
    dir_path: &str,
    name: &CipherName,
) -> Result<(), Errno> {
    if let CipherName::Long { hashed, full } = name {
        let path = join(dir_path, &format!("{hashed}{LONGNAME_SUFFIX}"));
        write_new_file(root, &path, full.as_bytes())?;
    }
    Ok(())
}

pub(crate) fn remove_long_name(root: &OwnedFd, dir_path: &str, name: &CipherName) {
    if let CipherName::Long { hashed, .. } = name {
        let path = join(dir_path, &format!("{hashed}{LONGNAME_SUFFIX}"));
        if let Err(error) = rustix::fs::unlinkat(root, path.as_str(), AtFlags::empty()) {
            warn!(%error, "could not remove a long-name file");
        }
    }
}

/// The encrypted name stored in `<entry>.name`.
pub(crate) fn read_long_name(root: &OwnedFd, dir_path: &str, entry: &str) -> Result<String, Errno> {
    let path = join(dir_path, &format!("{entry}{LONGNAME_SUFFIX}"));
    let bytes = read_small_file(root, &path, 345)?;
    decode_long_name_file(&bytes)
        .map(str::to_string)
        .map_err(|_| Errno::EIO)
}

fn write_new_file(root: &OwnedFd, path: &str, content: &[u8]) -> Result<(), Errno> {
    let fd = rustix::fs::openat(
        root,
        path,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o444),
    )
    .map_err(errno)?;
    let written = rustix::io::write(&fd, content);
    match written {
        Ok(n) if n == content.len() => Ok(()),
        other => {
            let _ = rustix::fs::unlinkat(root, path, AtFlags::empty());
            Err(match other {
                Err(error) => errno(error),
                Ok(_) => Errno::EIO,
            })
        }
    }
}

fn read_small_file(root: &OwnedFd, path: &str, limit: usize) -> Result<Vec<u8>, Errno> {
    let fd = rustix::fs::openat(
        root,
        path,
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(errno)?;
    let mut buffer = vec![0u8; limit];
    let mut done = 0;
    while done < limit {
        let Some(rest) = buffer.get_mut(done..) else {
            break;
        };
        let n = rustix::io::read(&fd, rest).map_err(errno)?;
        if n == 0 {
            break;
        }
        done += n;
    }
    buffer.truncate(done);
    Ok(buffer)
}

pub(crate) fn join(dir_path: &str, name: &str) -> String {
    if dir_path == "." {
        name.to_string()
    } else {
        format!("{dir_path}/{name}")
    }
}

pub(crate) fn stat_at(root: &OwnedFd, path: &str) -> Result<Stat, Errno> {
    rustix::fs::statat(root, path, AtFlags::SYMLINK_NOFOLLOW).map_err(errno)
}

pub(crate) fn backing_id(stat: &Stat) -> (u64, u64) {
    (stat.st_dev, stat.st_ino)
}

/// A symlink's plaintext target, decrypted from the backing link.
pub(crate) fn read_symlink(
    root: &OwnedFd,
    path: &str,
    cipher: &VolumeCipher,
) -> Result<Vec<u8>, Errno> {
    let target = rustix::fs::readlinkat(root, path, Vec::new()).map_err(errno)?;
    cipher
        .content()
        .decrypt_symlink_target(target.as_bytes())
        .map_err(|error| {
            warn!(%error, "symlink target failed to decrypt: answering EIO");
            Errno::EIO
        })
}

/// FUSE attributes of a backing entry, with the plaintext size: files from
/// their backing size, symlinks from their decrypted target.
pub(crate) fn attr(
    id: u64,
    stat: &Stat,
    root: &OwnedFd,
    path: &str,
    cipher: &VolumeCipher,
) -> FileAttr {
    let kind = file_type(stat.st_mode);
    let backing_size = u64::try_from(stat.st_size).unwrap_or(0);
    let size = match kind {
        FileType::RegularFile => plain_size(backing_size),
        FileType::Symlink => read_symlink(root, path, cipher)
            .map(|target| target.len() as u64)
            .unwrap_or(0),
        _ => backing_size,
    };
    FileAttr {
        ino: INodeNo(id),
        size,
        blocks: u64::try_from(stat.st_blocks).unwrap_or(0),
        atime: time(stat.st_atime, stat.st_atime_nsec),
        mtime: time(stat.st_mtime, stat.st_mtime_nsec),
        ctime: time(stat.st_ctime, stat.st_ctime_nsec),
        crtime: UNIX_EPOCH,
        kind,
        perm: (stat.st_mode & 0o7777) as u16,
        nlink: u32::try_from(stat.st_nlink).unwrap_or(u32::MAX),
        uid: stat.st_uid,
        gid: stat.st_gid,
        rdev: u32::try_from(stat.st_rdev).unwrap_or(0),
        blksize: 4096,
        flags: 0,
    }
}

pub(crate) fn file_type(mode: u32) -> FileType {
    match rustix::fs::FileType::from_raw_mode(mode) {
        rustix::fs::FileType::Directory => FileType::Directory,
        rustix::fs::FileType::Symlink => FileType::Symlink,
        rustix::fs::FileType::Fifo => FileType::NamedPipe,
        rustix::fs::FileType::Socket => FileType::Socket,
        rustix::fs::FileType::CharacterDevice => FileType::CharDevice,
        rustix::fs::FileType::BlockDevice => FileType::BlockDevice,
        _ => FileType::RegularFile,
    }
}

fn time<S: TryInto<i64>, N: TryInto<u64>>(seconds: S, nanos: N) -> SystemTime {
    let seconds: i64 = seconds.try_into().unwrap_or(0);
    let nanos: u64 = nanos.try_into().unwrap_or(0);
    let nanos = Duration::from_nanos(nanos.min(999_999_999));
    if seconds >= 0 {
        UNIX_EPOCH + Duration::from_secs(seconds.unsigned_abs()) + nanos
    } else {
        UNIX_EPOCH - Duration::from_secs(seconds.unsigned_abs()) + nanos
    }
}

/// The bytes of a name the kernel gave us.
pub(crate) fn name_bytes(name: &OsStr) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    name.as_bytes()
}

pub(crate) fn fd_of(file: &std::fs::File) -> std::os::fd::BorrowedFd<'_> {
    file.as_fd()
}
