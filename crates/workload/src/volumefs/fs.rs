//! The FUSE callbacks: each one calls the operation in `ops.rs` and
//! answers the kernel; content goes through `content.rs`.

use std::ffi::OsStr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, Errno, FileHandle, Filesystem, FopenFlags, Generation, INodeNo, InitFlags,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData,
    ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs, ReplyWrite,
    Request, TimeOrNow, WriteFlags,
};
use rustix::fs::{AtFlags, Mode, OFlags, Timespec, Timestamps};
use rustix::process::{Gid, Uid};

use super::backing::{self, errno, join};
use super::content;
use super::ops::{lock, DirListing, VolumeFsInner};

/// How long the kernel may cache entries and attributes, as gocryptfs.
const TTL: Duration = Duration::from_secs(1);
const GENERATION: Generation = Generation(0);
/// Largest request the kernel may send us (its default page limit allows 1 MiB).
const MAX_WRITE: u32 = 1 << 20;

/// The filesystem as fuser sees it.
pub(crate) struct VolumeFilesystem(pub(crate) Arc<VolumeFsInner>);

impl Filesystem for VolumeFilesystem {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> std::io::Result<()> {
        // Big requests are what makes streaming fast: fewer round trips and
        // one seal call per MiB. Errors only mean "the kernel caps it lower".
        let _ = config.set_max_write(MAX_WRITE);
        let _ = config.set_max_readahead(MAX_WRITE);
        let _ = config.set_max_background(64);
        for flag in [
            InitFlags::FUSE_PARALLEL_DIROPS,
            InitFlags::FUSE_BIG_WRITES,
            InitFlags::FUSE_DO_READDIRPLUS,
            InitFlags::FUSE_READDIRPLUS_AUTO,
        ] {
            let _ = config.add_capabilities(flag);
        }
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        match self.0.lookup_entry(parent.0, name) {
            Ok(attr) => reply.entry(&TTL, &attr, GENERATION),
            Err(error) => reply.error(error),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        if let Ok(mut table) = lock(&self.0.table) {
            table.forget(ino.0, nlookup);
        }
    }

    fn getattr(&self, _req: &Request, ino: INodeNo, fh: Option<FileHandle>, reply: ReplyAttr) {
        let handle = fh.and_then(|fh| self.0.handle(fh).ok());
        match self.0.attr_of(ino.0, handle.as_deref()) {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(error) => reply.error(error),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<fuser::BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        let inner = &self.0;
        let result = (|| {
            let handle = fh.and_then(|fh| inner.handle(fh).ok());
            let path = inner.path(ino.0)?;
            if let Some(mode) = mode {
                rustix::fs::chmodat(
                    &inner.root,
                    path.as_str(),
                    Mode::from_raw_mode(mode & 0o7777),
                    AtFlags::empty(),
                )
                .map_err(errno)?;
            }
            if uid.is_some() || gid.is_some() {
                rustix::fs::chownat(
                    &inner.root,
                    path.as_str(),
                    uid.map(Uid::from_raw),
                    gid.map(Gid::from_raw),
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(errno)?;
            }
            if let Some(size) = size {
                inner.set_size(ino.0, handle.as_deref(), size)?;
            }
            if atime.is_some() || mtime.is_some() {
                let times = Timestamps {
                    last_access: timespec(atime),
                    last_modification: timespec(mtime),
                };
                rustix::fs::utimensat(
                    &inner.root,
                    path.as_str(),
                    &times,
                    AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(errno)?;
            }
            inner.attr_of(ino.0, handle.as_deref())
        })();
        match result {
            Ok(attr) => reply.attr(&TTL, &attr),
            Err(error) => reply.error(error),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        match self
            .0
            .path(ino.0)
            .and_then(|path| backing::read_symlink(&self.0.root, &path, &self.0.cipher))
        {
            Ok(target) => reply.data(&target),
            Err(error) => reply.error(error),
        }
    }

    fn mknod(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        rdev: u32,
        reply: ReplyEntry,
    ) {
        let inner = &self.0;
        let result = (|| {
            let (cipher_name, dir_path) = inner.child(parent.0, name)?;
            let path = join(&dir_path, cipher_name.on_disk());
            backing::write_long_name(&inner.root, &dir_path, &cipher_name)?;
            let kind = rustix::fs::FileType::from_raw_mode(mode);
            if let Err(error) = rustix::fs::mknodat(
                &inner.root,
                path.as_str(),
                kind,
                Mode::from_raw_mode(mode & 0o7777),
                u64::from(rdev),
            ) {
                backing::remove_long_name(&inner.root, &dir_path, &cipher_name);
                return Err(errno(error));
            }
            inner.own(&path, req)?;
            inner.entry(parent.0, cipher_name.on_disk(), &dir_path)
        })();
        match result {
            Ok(attr) => reply.entry(&TTL, &attr, GENERATION),
            Err(error) => reply.error(error),
        }
    }

    fn mkdir(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        reply: ReplyEntry,
    ) {
        match self.0.do_mkdir(req, parent.0, name, mode) {
            Ok(attr) => reply.entry(&TTL, &attr, GENERATION),
            Err(error) => reply.error(error),
        }
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.0.do_unlink(parent.0, name, false) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.0.do_unlink(parent.0, name, true) {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn symlink(
        &self,
        req: &Request,
        parent: INodeNo,
        link_name: &OsStr,
        target: &std::path::Path,
        reply: ReplyEntry,
    ) {
        let inner = &self.0;
        let result = (|| {
            let (cipher_name, dir_path) = inner.child(parent.0, link_name)?;
            let path = join(&dir_path, cipher_name.on_disk());
            let encrypted = inner
                .cipher
                .content()
                .encrypt_symlink_target(backing::name_bytes(target.as_os_str()))
                .map_err(|_| Errno::EIO)?;
            backing::write_long_name(&inner.root, &dir_path, &cipher_name)?;
            if let Err(error) =
                rustix::fs::symlinkat(encrypted.as_str(), &inner.root, path.as_str())
            {
                backing::remove_long_name(&inner.root, &dir_path, &cipher_name);
                return Err(errno(error));
            }
            inner.own(&path, req)?;
            inner.entry(parent.0, cipher_name.on_disk(), &dir_path)
        })();
        match result {
            Ok(attr) => reply.entry(&TTL, &attr, GENERATION),
            Err(error) => reply.error(error),
        }
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        match self
            .0
            .do_rename(parent.0, name, newparent.0, newname, flags)
        {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn link(
        &self,
        _req: &Request,
        ino: INodeNo,
        newparent: INodeNo,
        newname: &OsStr,
        reply: ReplyEntry,
    ) {
        let inner = &self.0;
        let result = (|| {
            let old_path = inner.path(ino.0)?;
            let (cipher_name, dir_path) = inner.child(newparent.0, newname)?;
            let path = join(&dir_path, cipher_name.on_disk());
            backing::write_long_name(&inner.root, &dir_path, &cipher_name)?;
            if let Err(error) = rustix::fs::linkat(
                &inner.root,
                old_path.as_str(),
                &inner.root,
                path.as_str(),
                AtFlags::empty(),
            ) {
                backing::remove_long_name(&inner.root, &dir_path, &cipher_name);
                return Err(errno(error));
            }
            inner.entry(newparent.0, cipher_name.on_disk(), &dir_path)
        })();
        match result {
            Ok(attr) => reply.entry(&TTL, &attr, GENERATION),
            Err(error) => reply.error(error),
        }
    }

    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        let inner = &self.0;
        let result = inner
            .path(ino.0)
            .and_then(|path| inner.open_backing(&path, flags.0))
            .and_then(|file| inner.add_handle(ino.0, file));
        match result {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(error) => reply.error(error),
        }
    }

    fn read(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyData,
    ) {
        let result = self
            .0
            .handle(fh)
            .and_then(|handle| self.0.read_content(&handle, offset, size));
        match result {
            Ok((buffer, range)) => reply.data(buffer.get(range).unwrap_or(&[])),
            Err(error) => reply.error(error),
        }
    }

    fn write(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        data: &[u8],
        _write_flags: WriteFlags,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        let result = self.0.handle(fh).and_then(|handle| {
            let mut state = handle.state.write()?;
            content::write(&self.0.cipher, &handle.file, &mut state, offset, data)
        });
        match result {
            Ok(n) => reply.written(u32::try_from(n).unwrap_or(u32::MAX)),
            Err(error) => reply.error(error),
        }
    }

    fn flush(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _lock_owner: LockOwner,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        _lock_owner: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        let removed = lock(&self.0.handles).ok().and_then(|mut h| h.remove(&fh.0));
        if let Some(handle) = removed {
            self.0.close_state(handle.node);
        }
        reply.ok();
    }

    fn fsync(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        datasync: bool,
        reply: ReplyEmpty,
    ) {
        let result = self.0.handle(fh).and_then(|handle| {
            let fd = backing::fd_of(&handle.file);
            if datasync {
                rustix::fs::fdatasync(fd).map_err(errno)
            } else {
                rustix::fs::fsync(fd).map_err(errno)
            }
        });
        match result {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        let inner = &self.0;
        let result = inner.read_dir(ino.0).and_then(|entries| {
            let fh = inner.next_handle.fetch_add(1, Ordering::Relaxed);
            lock(&inner.dirs)?.insert(
                fh,
                Arc::new(DirListing {
                    node: ino.0,
                    entries,
                }),
            );
            Ok(fh)
        });
        match result {
            Ok(fh) => reply.opened(FileHandle(fh), FopenFlags::empty()),
            Err(error) => reply.error(error),
        }
    }

    fn readdir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectory,
    ) {
        let entries = match lock(&self.0.dirs).map(|dirs| dirs.get(&fh.0).cloned()) {
            Ok(Some(entries)) => entries,
            Ok(None) => return reply.error(Errno::EBADF),
            Err(error) => return reply.error(error),
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (index, entry) in entries.entries.iter().enumerate().skip(start) {
            if reply.add(
                INodeNo(entry.ino),
                index as u64 + 1,
                entry.kind,
                &entry.name,
            ) {
                break;
            }
        }
        reply.ok();
    }

    fn readdirplus(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        offset: u64,
        mut reply: ReplyDirectoryPlus,
    ) {
        let inner = &self.0;
        let listing = match lock(&inner.dirs).map(|dirs| dirs.get(&fh.0).cloned()) {
            Ok(Some(listing)) => listing,
            Ok(None) => return reply.error(Errno::EBADF),
            Err(error) => return reply.error(error),
        };
        let Ok(dir_path) = inner.path(listing.node) else {
            return reply.error(Errno::ENOENT);
        };
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        for (index, entry) in listing.entries.iter().enumerate().skip(start) {
            let next = index as u64 + 1;
            if entry.cipher_name.is_empty() {
                // `.` and `..`: the kernel takes no reference on them.
                let attr = match inner.attr_of(entry.ino, None) {
                    Ok(attr) => attr,
                    Err(_) => continue,
                };
                if reply.add(
                    INodeNo(entry.ino),
                    next,
                    &entry.name,
                    &TTL,
                    &attr,
                    GENERATION,
                ) {
                    break;
                }
                continue;
            }
            // Each entry handed over counts as one lookup of it.
            let attr = match inner.entry(listing.node, &entry.cipher_name, &dir_path) {
                Ok(attr) => attr,
                // Gone since opendir: leave it out.
                Err(_) => continue,
            };
            if reply.add(attr.ino, next, &entry.name, &TTL, &attr, GENERATION) {
                // The buffer is full and this entry did not go out.
                if let Ok(mut table) = lock(&inner.table) {
                    table.forget(attr.ino.0, 1);
                }
                break;
            }
        }
        reply.ok();
    }

    fn releasedir(
        &self,
        _req: &Request,
        _ino: INodeNo,
        fh: FileHandle,
        _flags: OpenFlags,
        reply: ReplyEmpty,
    ) {
        if let Ok(mut dirs) = lock(&self.0.dirs) {
            dirs.remove(&fh.0);
        }
        reply.ok();
    }

    fn fsyncdir(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        _datasync: bool,
        reply: ReplyEmpty,
    ) {
        let inner = &self.0;
        let result = inner.path(ino.0).and_then(|path| {
            let fd = rustix::fs::openat(
                &inner.root,
                path.as_str(),
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(errno)?;
            rustix::fs::fsync(&fd).map_err(errno)
        });
        match result {
            Ok(()) => reply.ok(),
            Err(error) => reply.error(error),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match rustix::fs::fstatvfs(&self.0.root) {
            Ok(st) => reply.statfs(
                st.f_blocks,
                st.f_bfree,
                st.f_bavail,
                st.f_files,
                st.f_ffree,
                u32::try_from(st.f_bsize).unwrap_or(4096),
                255,
                u32::try_from(st.f_frsize).unwrap_or(4096),
            ),
            Err(error) => reply.error(errno(error)),
        }
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        // The mount uses default_permissions: the kernel has checked already.
        reply.ok();
    }

    fn create(
        &self,
        req: &Request,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        _umask: u32,
        flags: i32,
        reply: ReplyCreate,
    ) {
        match self.0.do_create(req, parent.0, name, mode, flags) {
            Ok((attr, fh)) => {
                reply.created(&TTL, &attr, GENERATION, FileHandle(fh), FopenFlags::empty())
            }
            Err(error) => reply.error(error),
        }
    }

    fn fallocate(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _offset: u64,
        _length: u64,
        _mode: i32,
        reply: ReplyEmpty,
    ) {
        // posix_fallocate falls back to writing zeros, which we encrypt.
        reply.error(Errno::EOPNOTSUPP);
    }
}

fn timespec(time: Option<TimeOrNow>) -> Timespec {
    match time {
        None => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_OMIT,
        },
        Some(TimeOrNow::Now) => Timespec {
            tv_sec: 0,
            tv_nsec: rustix::fs::UTIME_NOW,
        },
        Some(TimeOrNow::SpecificTime(time)) => match time.duration_since(SystemTime::UNIX_EPOCH) {
            Ok(since) => Timespec {
                tv_sec: i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(since.subsec_nanos()),
            },
            Err(before) => Timespec {
                tv_sec: -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
                tv_nsec: 0,
            },
        },
    }
}
