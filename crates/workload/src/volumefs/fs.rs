//! The FUSE operations. Each one turns plaintext names into backing names
//! (`keyward-volume`), runs the system call on the backing directory and
//! answers the kernel; content goes through `content.rs`.
//!
//! Entries are created as the calling user (the mount allows other users
//! and lets the kernel check permissions), so a workload that runs as an
//! ordinary user sees ordinary ownership.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStringExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{
    AccessFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation,
    INodeNo, InitFlags, KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate,
    ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty, ReplyEntry, ReplyOpen, ReplyStatfs,
    ReplyWrite, Request, TimeOrNow, WriteFlags,
};
use keyward_volume::{BackingEntry, CipherName, DirIv, VolumeCipher, VolumeFormatError};
use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags as BackingRenameFlags, Timespec, Timestamps};
use rustix::process::{Gid, Uid};
use tracing::warn;

use super::backing::{self, errno, join};
use super::content::{self, OpenFile};
use super::inodes::{InodeTable, ROOT_ID};

/// How long the kernel may cache entries and attributes, as gocryptfs.
const TTL: Duration = Duration::from_secs(1);
const GENERATION: Generation = Generation(0);
/// Largest request the kernel may send us (its default page limit allows 1 MiB).
const MAX_WRITE: u32 = 1 << 20;

pub(crate) struct VolumeFsInner {
    pub(crate) cipher: VolumeCipher,
    pub(crate) root: OwnedFd,
    table: Mutex<InodeTable>,
    open_files: Mutex<HashMap<u64, (Arc<OpenFile>, usize)>>,
    handles: Mutex<HashMap<u64, Arc<Handle>>>,
    dirs: Mutex<HashMap<u64, Arc<DirListing>>>,
    next_handle: AtomicU64,
}

struct Handle {
    node: u64,
    file: File,
    state: Arc<OpenFile>,
}

struct DirEntry {
    ino: u64,
    kind: FileType,
    name: OsString,
    /// The entry's name in the backing directory; empty for `.` and `..`.
    cipher_name: String,
}

/// A directory listing taken at `opendir`, served by offset.
struct DirListing {
    node: u64,
    entries: Vec<DirEntry>,
}

fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>, Errno> {
    mutex.lock().map_err(|_| Errno::EIO)
}

fn name_errno(error: VolumeFormatError) -> Errno {
    match error {
        VolumeFormatError::NameTooLong => Errno::ENAMETOOLONG,
        VolumeFormatError::NameEmpty
        | VolumeFormatError::NameDot
        | VolumeFormatError::NameForbiddenByte => Errno::EINVAL,
        _ => Errno::EIO,
    }
}

impl VolumeFsInner {
    pub(crate) fn new(cipher: VolumeCipher, root: OwnedFd, root_iv: DirIv) -> Result<Self, Errno> {
        let root_stat = rustix::fs::fstat(&root).map_err(errno)?;
        Ok(VolumeFsInner {
            cipher,
            table: Mutex::new(InodeTable::new(backing::backing_id(&root_stat), root_iv)),
            root,
            open_files: Mutex::new(HashMap::new()),
            handles: Mutex::new(HashMap::new()),
            dirs: Mutex::new(HashMap::new()),
            next_handle: AtomicU64::new(1),
        })
    }

    fn path(&self, id: u64) -> Result<String, Errno> {
        lock(&self.table)?.path(id).ok_or(Errno::ENOENT)
    }

    fn dir_iv(&self, id: u64) -> Result<DirIv, Errno> {
        let path = {
            let table = lock(&self.table)?;
            let node = table.get(id).ok_or(Errno::ENOENT)?;
            if let Some(iv) = node.dir_iv {
                return Ok(iv);
            }
            table.path(id).ok_or(Errno::ENOENT)?
        };
        let iv = backing::read_dir_iv(&self.root, &path)?;
        if let Some(node) = lock(&self.table)?.get_mut(id) {
            node.dir_iv = Some(iv);
        }
        Ok(iv)
    }

    /// The backing name of `name` in directory `parent` and the directory's
    /// backing path.
    fn child(&self, parent: u64, name: &OsStr) -> Result<(CipherName, String), Errno> {
        let iv = self.dir_iv(parent)?;
        let cipher_name = self
            .cipher
            .names()
            .encrypt_name(backing::name_bytes(name), &iv)
            .map_err(name_errno)?;
        Ok((cipher_name, self.path(parent)?))
    }

    /// Stats a backing entry, records the kernel's reference and builds its
    /// attributes.
    fn entry(&self, parent: u64, cipher_name: &str, dir_path: &str) -> Result<FileAttr, Errno> {
        let path = join(dir_path, cipher_name);
        let stat = backing::stat_at(&self.root, &path)?;
        let id = lock(&self.table)?.remember(parent, cipher_name, backing::backing_id(&stat), None);
        Ok(backing::attr(id, &stat, &self.root, &path, &self.cipher))
    }

    fn attr_of(&self, id: u64, handle: Option<&Handle>) -> Result<FileAttr, Errno> {
        let path = self.path(id)?;
        let stat = match handle {
            Some(handle) => rustix::fs::fstat(&handle.file).map_err(errno)?,
            None => backing::stat_at(&self.root, &path)?,
        };
        Ok(backing::attr(id, &stat, &self.root, &path, &self.cipher))
    }

    /// Gives a new entry the caller's ownership (we run as root).
    fn own(&self, path: &str, req: &Request) -> Result<(), Errno> {
        if req.uid() == 0 && req.gid() == 0 {
            return Ok(());
        }
        rustix::fs::chownat(
            &self.root,
            path,
            Some(Uid::from_raw(req.uid())),
            Some(Gid::from_raw(req.gid())),
            AtFlags::SYMLINK_NOFOLLOW,
        )
        .map_err(errno)
    }

    fn handle(&self, fh: FileHandle) -> Result<Arc<Handle>, Errno> {
        lock(&self.handles)?.get(&fh.0).cloned().ok_or(Errno::EBADF)
    }

    fn open_state(&self, node: u64) -> Result<Arc<OpenFile>, Errno> {
        let mut files = lock(&self.open_files)?;
        let entry = files
            .entry(node)
            .or_insert_with(|| (Arc::new(OpenFile::default()), 0));
        entry.1 += 1;
        Ok(entry.0.clone())
    }

    fn close_state(&self, node: u64) {
        if let Ok(mut files) = lock(&self.open_files) {
            let remove = match files.get_mut(&node) {
                Some(entry) => {
                    entry.1 = entry.1.saturating_sub(1);
                    entry.1 == 0
                }
                None => false,
            };
            if remove {
                files.remove(&node);
            }
        }
    }

    fn add_handle(&self, node: u64, file: File) -> Result<u64, Errno> {
        let state = self.open_state(node)?;
        let fh = self.next_handle.fetch_add(1, Ordering::Relaxed);
        lock(&self.handles)?.insert(fh, Arc::new(Handle { node, file, state }));
        Ok(fh)
    }

    /// Opens the backing file for content I/O. Writers also need to read
    /// (read-modify-write of partial blocks), so write access means O_RDWR.
    /// O_APPEND is dropped: the kernel already gives appends their offset,
    /// and an O_APPEND backing file would ignore our block offsets.
    fn open_backing(&self, path: &str, flags: i32) -> Result<File, Errno> {
        let accmode = flags & rustix::fs::OFlags::ACCMODE.bits() as i32;
        let mut oflags = if accmode == OFlags::RDONLY.bits() as i32 {
            OFlags::RDONLY
        } else {
            OFlags::RDWR
        };
        oflags |= OFlags::NOFOLLOW | OFlags::CLOEXEC;
        for keep in [OFlags::SYNC, OFlags::DSYNC] {
            if flags & keep.bits() as i32 != 0 {
                oflags |= keep;
            }
        }
        let fd = rustix::fs::openat(&self.root, path, oflags, Mode::empty()).map_err(errno)?;
        Ok(File::from(fd))
    }

    fn lookup_entry(&self, parent: u64, name: &OsStr) -> Result<FileAttr, Errno> {
        let (cipher_name, dir_path) = self.child(parent, name)?;
        self.entry(parent, cipher_name.on_disk(), &dir_path)
    }

    fn read_content(
        &self,
        handle: &Handle,
        offset: u64,
        size: u32,
    ) -> Result<(Vec<u8>, std::ops::Range<usize>), Errno> {
        {
            let state = handle.state.read()?;
            if !content::needs_file_id(&state) {
                let file_id = content::cached_file_id(&state);
                return content::read(&self.cipher, &handle.file, file_id, offset, u64::from(size));
            }
        }
        let mut state = handle.state.write()?;
        let file_id = content::load_file_id(&handle.file, &mut state)?;
        content::read(&self.cipher, &handle.file, file_id, offset, u64::from(size))
    }

    fn set_size(&self, node: u64, handle: Option<&Handle>, size: u64) -> Result<(), Errno> {
        match handle {
            Some(handle) => {
                let mut state = handle.state.write()?;
                content::truncate(&self.cipher, &handle.file, &mut state, size)
            }
            None => {
                let path = self.path(node)?;
                let file = self.open_backing(&path, OFlags::RDWR.bits() as i32)?;
                let state = self.open_state(node)?;
                let result = state
                    .write()
                    .and_then(|mut guard| content::truncate(&self.cipher, &file, &mut guard, size));
                self.close_state(node);
                result
            }
        }
    }

    fn read_dir(&self, node: u64) -> Result<Vec<DirEntry>, Errno> {
        let path = self.path(node)?;
        let iv = self.dir_iv(node)?;
        let parent = lock(&self.table)?
            .get(node)
            .map(|n| n.parent)
            .unwrap_or(ROOT_ID);
        let fd = rustix::fs::openat(
            &self.root,
            path.as_str(),
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        let dir = rustix::fs::Dir::new(fd).map_err(errno)?;
        let mut entries = vec![
            DirEntry {
                ino: node,
                kind: FileType::Directory,
                name: OsString::from("."),
                cipher_name: String::new(),
            },
            DirEntry {
                ino: parent,
                kind: FileType::Directory,
                name: OsString::from(".."),
                cipher_name: String::new(),
            },
        ];
        for item in dir {
            let item = item.map_err(errno)?;
            let Ok(cipher_name) = item.file_name().to_str() else {
                continue;
            };
            if cipher_name == "." || cipher_name == ".." {
                continue;
            }
            let encrypted = match BackingEntry::classify(cipher_name) {
                BackingEntry::DirIv | BackingEntry::LongNameFile => continue,
                BackingEntry::LongName => {
                    match backing::read_long_name(&self.root, &path, cipher_name) {
                        Ok(full) => full,
                        Err(_) => {
                            warn!("directory entry without a readable .name file: skipped");
                            continue;
                        }
                    }
                }
                BackingEntry::Encrypted(name) => name.to_string(),
            };
            match self.cipher.names().decrypt_name(&encrypted, &iv) {
                Ok(plain) => entries.push(DirEntry {
                    ino: item.ino(),
                    kind: match item.file_type() {
                        rustix::fs::FileType::Directory => FileType::Directory,
                        rustix::fs::FileType::Symlink => FileType::Symlink,
                        rustix::fs::FileType::Fifo => FileType::NamedPipe,
                        rustix::fs::FileType::Socket => FileType::Socket,
                        rustix::fs::FileType::CharacterDevice => FileType::CharDevice,
                        rustix::fs::FileType::BlockDevice => FileType::BlockDevice,
                        _ => FileType::RegularFile,
                    },
                    name: OsString::from_vec(plain),
                    cipher_name: cipher_name.to_string(),
                }),
                Err(error) => {
                    // gocryptfs.conf in the root is not ours to show either.
                    if !(node == ROOT_ID && cipher_name == "gocryptfs.conf") {
                        warn!(%error, "directory entry name failed to decrypt: skipped");
                    }
                }
            }
        }
        Ok(entries)
    }

    fn do_mkdir(
        &self,
        req: &Request,
        parent: u64,
        name: &OsStr,
        mode: u32,
    ) -> Result<FileAttr, Errno> {
        let (cipher_name, dir_path) = self.child(parent, name)?;
        let path = join(&dir_path, cipher_name.on_disk());
        backing::write_long_name(&self.root, &dir_path, &cipher_name)?;
        // We need to write gocryptfs.diriv into it whatever the caller's mode.
        let result = rustix::fs::mkdirat(
            &self.root,
            path.as_str(),
            Mode::from_raw_mode((mode & 0o7777) | 0o700),
        )
        .map_err(errno)
        .and_then(|()| {
            let iv = DirIv::random().map_err(|_| Errno::EIO)?;
            backing::write_dir_iv(&self.root, &path, &iv).inspect_err(|_| {
                let _ = rustix::fs::unlinkat(&self.root, path.as_str(), AtFlags::REMOVEDIR);
            })?;
            Ok(iv)
        });
        let iv = match result {
            Ok(iv) => iv,
            Err(error) => {
                backing::remove_long_name(&self.root, &dir_path, &cipher_name);
                return Err(error);
            }
        };
        if mode & 0o700 != 0o700 {
            rustix::fs::chmodat(
                &self.root,
                path.as_str(),
                Mode::from_raw_mode(mode & 0o7777),
                AtFlags::empty(),
            )
            .map_err(errno)?;
        }
        self.own(&path, req)?;
        let stat = backing::stat_at(&self.root, &path)?;
        let id = lock(&self.table)?.remember(
            parent,
            cipher_name.on_disk(),
            backing::backing_id(&stat),
            Some(iv),
        );
        Ok(backing::attr(id, &stat, &self.root, &path, &self.cipher))
    }

    fn do_create(
        &self,
        req: &Request,
        parent: u64,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> Result<(FileAttr, u64), Errno> {
        let (cipher_name, dir_path) = self.child(parent, name)?;
        let path = join(&dir_path, cipher_name.on_disk());
        backing::write_long_name(&self.root, &dir_path, &cipher_name)?;
        // One open both creates the file and serves the handle: read-write
        // for read-modify-write, never O_APPEND (see `open_backing`).
        let mut create_flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        for keep in [OFlags::EXCL, OFlags::SYNC, OFlags::DSYNC] {
            if flags & keep.bits() as i32 != 0 {
                create_flags |= keep;
            }
        }
        let created = rustix::fs::openat(
            &self.root,
            path.as_str(),
            create_flags,
            Mode::from_raw_mode(mode & 0o7777),
        );
        let fd = match created {
            Ok(fd) => fd,
            Err(error) => {
                if error != rustix::io::Errno::EXIST {
                    backing::remove_long_name(&self.root, &dir_path, &cipher_name);
                }
                return Err(errno(error));
            }
        };
        let file = File::from(fd);
        self.own(&path, req)?;
        let stat = rustix::fs::fstat(&file).map_err(errno)?;
        let id = lock(&self.table)?.remember(
            parent,
            cipher_name.on_disk(),
            backing::backing_id(&stat),
            None,
        );
        let attr = backing::attr(id, &stat, &self.root, &path, &self.cipher);
        let fh = self.add_handle(id, file)?;
        Ok((attr, fh))
    }

    fn do_unlink(&self, parent: u64, name: &OsStr, directory: bool) -> Result<(), Errno> {
        let (cipher_name, dir_path) = self.child(parent, name)?;
        let path = join(&dir_path, cipher_name.on_disk());
        let stat = backing::stat_at(&self.root, &path)?;
        if directory {
            self.remove_dir(&path)?;
        } else {
            rustix::fs::unlinkat(&self.root, path.as_str(), AtFlags::empty()).map_err(errno)?;
        }
        backing::remove_long_name(&self.root, &dir_path, &cipher_name);
        if directory || stat.st_nlink <= 1 {
            lock(&self.table)?.backing_removed(backing::backing_id(&stat));
        }
        Ok(())
    }

    /// Removes a backing directory that holds nothing but its
    /// `gocryptfs.diriv`: the IV goes first, and comes back if the
    /// directory turns out not to be empty.
    fn remove_dir(&self, path: &str) -> Result<(), Errno> {
        let fd = rustix::fs::openat(
            &self.root,
            path,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        let mut others = 0usize;
        for item in rustix::fs::Dir::new(fd).map_err(errno)? {
            let item = item.map_err(errno)?;
            let name = item.file_name().to_bytes();
            if name != b"." && name != b".." && name != keyward_volume::DIRIV_FILENAME.as_bytes() {
                others += 1;
            }
        }
        if others > 0 {
            return Err(Errno::ENOTEMPTY);
        }
        let iv = backing::read_dir_iv(&self.root, path).ok();
        let iv_path = join(path, keyward_volume::DIRIV_FILENAME);
        match rustix::fs::unlinkat(&self.root, iv_path.as_str(), AtFlags::empty()) {
            Ok(()) | Err(rustix::io::Errno::NOENT) => {}
            Err(error) => return Err(errno(error)),
        }
        if let Err(error) = rustix::fs::unlinkat(&self.root, path, AtFlags::REMOVEDIR) {
            if let Some(iv) = iv {
                let _ = backing::write_dir_iv(&self.root, path, &iv);
            }
            return Err(errno(error));
        }
        Ok(())
    }

    fn do_rename(
        &self,
        parent: u64,
        name: &OsStr,
        new_parent: u64,
        new_name: &OsStr,
        flags: RenameFlags,
    ) -> Result<(), Errno> {
        let (from, from_dir) = self.child(parent, name)?;
        let (to, to_dir) = self.child(new_parent, new_name)?;
        let from_path = join(&from_dir, from.on_disk());
        let to_path = join(&to_dir, to.on_disk());
        let mut backing_flags = BackingRenameFlags::empty();
        if flags.contains(RenameFlags::RENAME_NOREPLACE) {
            backing_flags |= BackingRenameFlags::NOREPLACE;
        }
        let exchange = flags.contains(RenameFlags::RENAME_EXCHANGE);
        if exchange {
            backing_flags |= BackingRenameFlags::EXCHANGE;
        }
        if flags.contains(RenameFlags::RENAME_WHITEOUT) {
            return Err(Errno::EINVAL);
        }
        let name_file_existed = match backing::write_long_name(&self.root, &to_dir, &to) {
            Ok(()) => false,
            Err(error) if error == Errno::EEXIST => true,
            Err(error) => return Err(error),
        };
        let replaced = backing::stat_at(&self.root, &to_path).ok();
        let rename = || {
            rustix::fs::renameat_with(
                &self.root,
                from_path.as_str(),
                &self.root,
                to_path.as_str(),
                backing_flags,
            )
        };
        let mut result = rename();
        if let (Err(rustix::io::Errno::NOTEMPTY | rustix::io::Errno::EXIST), false) = (
            result,
            backing_flags.contains(BackingRenameFlags::NOREPLACE) || exchange,
        ) {
            // An "empty" directory still holds its gocryptfs.diriv.
            if self.remove_dir(&to_path).is_ok() {
                result = rename();
            }
        }
        if let Err(error) = result {
            if !name_file_existed {
                backing::remove_long_name(&self.root, &to_dir, &to);
            }
            return Err(errno(error));
        }
        let moved = backing::stat_at(&self.root, &to_path)?;
        let mut table = lock(&self.table)?;
        if exchange {
            if let Ok(other) = backing::stat_at(&self.root, &from_path) {
                table.moved(backing::backing_id(&other), parent, from.on_disk());
            }
        } else {
            if let Some(old) = replaced {
                if old.st_nlink <= 1 || backing::file_type(old.st_mode) == FileType::Directory {
                    table.backing_removed(backing::backing_id(&old));
                }
            }
            backing::remove_long_name(&self.root, &from_dir, &from);
        }
        table.moved(backing::backing_id(&moved), new_parent, to.on_disk());
        Ok(())
    }
}

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
