//! The state of a mounted volume and the operations behind the FUSE
//! calls: plaintext names to backing names (`keyward-volume`), system calls
//! on the backing directory, the node table, open files and directory
//! listings. `fs.rs` only adapts these to fuser's callbacks.
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

use fuser::{Errno, FileAttr, FileHandle, FileType, RenameFlags, Request};
use keyward_volume::{BackingEntry, CipherName, DirIv, VolumeCipher, VolumeFormatError};
use rustix::fs::{AtFlags, Mode, OFlags, RenameFlags as BackingRenameFlags};
use rustix::process::{Gid, Uid};
use tracing::warn;

use super::backing::{self, errno, join};
use super::content::{self, OpenFile};
use super::inodes::{InodeTable, ROOT_ID};

pub(crate) struct VolumeFsInner {
    pub(crate) cipher: VolumeCipher,
    pub(crate) root: OwnedFd,
    pub(crate) table: Mutex<InodeTable>,
    pub(crate) open_files: Mutex<HashMap<u64, (Arc<OpenFile>, usize)>>,
    pub(crate) handles: Mutex<HashMap<u64, Arc<Handle>>>,
    pub(crate) dirs: Mutex<HashMap<u64, Arc<DirListing>>>,
    pub(crate) next_handle: AtomicU64,
}

pub(crate) struct Handle {
    pub(crate) node: u64,
    pub(crate) file: File,
    pub(crate) state: Arc<OpenFile>,
}

pub(crate) struct DirEntry {
    pub(crate) ino: u64,
    pub(crate) kind: FileType,
    pub(crate) name: OsString,
    /// The entry's name in the backing directory; empty for `.` and `..`.
    pub(crate) cipher_name: String,
}

/// A directory listing taken at `opendir`, served by offset.
pub(crate) struct DirListing {
    pub(crate) node: u64,
    pub(crate) entries: Vec<DirEntry>,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> Result<MutexGuard<'_, T>, Errno> {
    mutex.lock().map_err(|_| Errno::EIO)
}

pub(crate) fn name_errno(error: VolumeFormatError) -> Errno {
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

    pub(crate) fn path(&self, id: u64) -> Result<String, Errno> {
        lock(&self.table)?.path(id).ok_or(Errno::ENOENT)
    }

    pub(crate) fn dir_iv(&self, id: u64) -> Result<DirIv, Errno> {
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
    pub(crate) fn child(&self, parent: u64, name: &OsStr) -> Result<(CipherName, String), Errno> {
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
    pub(crate) fn entry(
        &self,
        parent: u64,
        cipher_name: &str,
        dir_path: &str,
    ) -> Result<FileAttr, Errno> {
        let path = join(dir_path, cipher_name);
        let stat = backing::stat_at(&self.root, &path)?;
        let id = lock(&self.table)?.remember(parent, cipher_name, backing::backing_id(&stat), None);
        Ok(backing::attr(id, &stat, &self.root, &path, &self.cipher))
    }

    pub(crate) fn attr_of(&self, id: u64, handle: Option<&Handle>) -> Result<FileAttr, Errno> {
        let path = self.path(id)?;
        let stat = match handle {
            Some(handle) => rustix::fs::fstat(&handle.file).map_err(errno)?,
            None => backing::stat_at(&self.root, &path)?,
        };
        Ok(backing::attr(id, &stat, &self.root, &path, &self.cipher))
    }

    /// Gives a new entry the caller's ownership (we run as root).
    pub(crate) fn own(&self, path: &str, req: &Request) -> Result<(), Errno> {
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

    pub(crate) fn handle(&self, fh: FileHandle) -> Result<Arc<Handle>, Errno> {
        lock(&self.handles)?.get(&fh.0).cloned().ok_or(Errno::EBADF)
    }

    pub(crate) fn open_state(&self, node: u64) -> Result<Arc<OpenFile>, Errno> {
        let mut files = lock(&self.open_files)?;
        let entry = files
            .entry(node)
            .or_insert_with(|| (Arc::new(OpenFile::default()), 0));
        entry.1 += 1;
        Ok(entry.0.clone())
    }

    pub(crate) fn close_state(&self, node: u64) {
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

    pub(crate) fn add_handle(&self, node: u64, file: File) -> Result<u64, Errno> {
        let state = self.open_state(node)?;
        let fh = self.next_handle.fetch_add(1, Ordering::Relaxed);
        lock(&self.handles)?.insert(fh, Arc::new(Handle { node, file, state }));
        Ok(fh)
    }

    /// Opens the backing file for content I/O. Writers also need to read
    /// (read-modify-write of partial blocks), so write access means O_RDWR.
    /// O_APPEND is dropped: the kernel already gives appends their offset,
    /// and an O_APPEND backing file would ignore our block offsets.
    pub(crate) fn open_backing(&self, path: &str, flags: i32) -> Result<File, Errno> {
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

    pub(crate) fn lookup_entry(&self, parent: u64, name: &OsStr) -> Result<FileAttr, Errno> {
        let (cipher_name, dir_path) = self.child(parent, name)?;
        self.entry(parent, cipher_name.on_disk(), &dir_path)
    }

    pub(crate) fn read_content(
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

    pub(crate) fn set_size(
        &self,
        node: u64,
        handle: Option<&Handle>,
        size: u64,
    ) -> Result<(), Errno> {
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

    pub(crate) fn read_dir(&self, node: u64) -> Result<Vec<DirEntry>, Errno> {
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

    pub(crate) fn do_mkdir(
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

    pub(crate) fn do_create(
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

    pub(crate) fn do_unlink(
        &self,
        parent: u64,
        name: &OsStr,
        directory: bool,
    ) -> Result<(), Errno> {
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
    pub(crate) fn remove_dir(&self, path: &str) -> Result<(), Errno> {
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

    pub(crate) fn do_rename(
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
