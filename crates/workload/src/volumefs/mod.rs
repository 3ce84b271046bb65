//! Encrypted volumes: a FUSE filesystem over a backing directory in the
//! gocryptfs format.
//!
//! `VolumeFs::mount` derives the volume's keys from its master key (which
//! is then dropped: only the derived keys stay, in memory, zeroized when the
//! volume is unmounted), checks that FUSE can be used, and mounts with
//! `fuser` on several threads. `fuser` mounts and completes the FUSE INIT
//! handshake before `mount` returns, so the mount point is usable as soon
//! as we return. Dropping the `MountedVolume` or calling `unmount` unmounts.
//!
//! What a mounted volume does not do yet: extended attributes (`ENOSYS`, as
//! the kernel then answers `EOPNOTSUPP`), `fallocate` (`EOPNOTSUPP`;
//! `posix_fallocate` falls back to writing zeros), `SEEK_DATA`/`SEEK_HOLE`
//! (the kernel treats the whole file as data), and preallocation before
//! writes, which gocryptfs uses so that a full disk cannot leave a torn
//! block behind.

mod backing;
mod content;
mod fs;
mod inodes;
mod ops;

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use fuser::{BackgroundSession, Config, MountOption, SessionACL};
use keyward_volume::{DirIv, MasterKey, VolumeCipher, VolumeFormatError, DIRIV_FILENAME};
use rustix::fs::{Mode, OFlags};
use tracing::warn;

use fs::VolumeFilesystem;
use ops::VolumeFsInner;

/// Why FUSE cannot be used on this machine.
#[derive(Debug, thiserror::Error)]
pub enum FuseUnavailable {
    #[error("/dev/fuse does not exist (load the fuse module or give the container the device)")]
    NoDevice,
    #[error("/dev/fuse cannot be opened")]
    DeviceNotOpenable(#[source] io::Error),
    #[error("mounting a volume needs root (effective uid {euid})")]
    NotRoot { euid: u32 },
}

/// Why a volume could not be set up, mounted or unmounted.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("FUSE is not available: {0}")]
    FuseUnavailable(#[from] FuseUnavailable),
    #[error("backing directory {path}")]
    BackingDir {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("backing directory {path} has no usable gocryptfs.diriv")]
    BackingDirIv {
        path: PathBuf,
        #[source]
        source: VolumeFormatError,
    },
    #[error("deriving the volume keys failed")]
    KeyDerivation(#[source] VolumeFormatError),
    #[error("mounting on {path} failed")]
    Mount {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("unmounting {path} failed: it is busy")]
    Busy { path: PathBuf },
    #[error("unmounting {path} failed")]
    Unmount {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Mount settings.
#[derive(Clone, Debug)]
pub struct MountOptions {
    /// FUSE event loops (each with its own `/dev/fuse` descriptor).
    pub threads: usize,
    /// Let users other than root use the mount (the kernel still checks
    /// permissions against the files' modes).
    pub allow_other: bool,
}

impl Default for MountOptions {
    fn default() -> Self {
        MountOptions {
            threads: 4,
            allow_other: true,
        }
    }
}

/// Entry point of the filesystem.
#[derive(Debug)]
pub struct VolumeFs;

/// Makes `backing_dir` (created if missing) the root of a new volume: writes
/// its `gocryptfs.diriv`. A directory that already has a valid one is left
/// as it is.
pub fn init_backing_dir(backing_dir: &Path) -> Result<(), VolumeError> {
    let backing_error = |source: io::Error| VolumeError::BackingDir {
        path: backing_dir.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(backing_dir).map_err(backing_error)?;
    let iv_path = backing_dir.join(DIRIV_FILENAME);
    match std::fs::read(&iv_path) {
        Ok(bytes) => {
            return DirIv::decode(&bytes)
                .map(|_| ())
                .map_err(|source| VolumeError::BackingDirIv {
                    path: backing_dir.to_path_buf(),
                    source,
                })
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(backing_error(error)),
    }
    let iv = DirIv::random().map_err(VolumeError::KeyDerivation)?;
    let fd = rustix::fs::open(
        &iv_path,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o444),
    )
    .map_err(|e| backing_error(e.into()))?;
    let mut file = File::from(fd);
    io::Write::write_all(&mut file, &iv.encode()).map_err(backing_error)?;
    file.sync_all().map_err(backing_error)?;
    Ok(())
}

impl VolumeFs {
    /// Mounts the volume stored in `backing_dir` on `mountpoint`.
    pub fn mount(
        backing_dir: &Path,
        mountpoint: &Path,
        master_key: MasterKey,
        options: &MountOptions,
    ) -> Result<MountedVolume, VolumeError> {
        check_fuse(Path::new("/dev/fuse"))?;
        let cipher = VolumeCipher::new(&master_key).map_err(VolumeError::KeyDerivation)?;
        drop(master_key);
        let backing_error = |source: io::Error| VolumeError::BackingDir {
            path: backing_dir.to_path_buf(),
            source,
        };
        let root: OwnedFd = rustix::fs::open(
            backing_dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| backing_error(e.into()))?;
        let iv_bytes = std::fs::read(backing_dir.join(DIRIV_FILENAME)).map_err(backing_error)?;
        let root_iv = DirIv::decode(&iv_bytes).map_err(|source| VolumeError::BackingDirIv {
            path: backing_dir.to_path_buf(),
            source,
        })?;
        let inner = VolumeFsInner::new(cipher, root, root_iv)
            .map_err(|errno| backing_error(io::Error::from_raw_os_error(errno.code())))?;
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName("keyward-volume".to_string()),
            MountOption::Subtype("keyward".to_string()),
            MountOption::DefaultPermissions,
            MountOption::NoDev,
            MountOption::NoSuid,
        ];
        config.acl = if options.allow_other {
            SessionACL::All
        } else {
            SessionACL::Owner
        };
        config.n_threads = Some(options.threads.max(1));
        config.clone_fd = true;
        let session = fuser::spawn_mount(VolumeFilesystem(Arc::new(inner)), mountpoint, &config)
            .map_err(|source| VolumeError::Mount {
                path: mountpoint.to_path_buf(),
                source,
            })?;
        Ok(MountedVolume {
            mountpoint: mountpoint.to_path_buf(),
            session: Some(session),
        })
    }
}

/// A mounted volume. Dropping it unmounts (lazily if a process still has
/// files open there).
#[derive(Debug)]
pub struct MountedVolume {
    mountpoint: PathBuf,
    session: Option<BackgroundSession>,
}

impl MountedVolume {
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Unmounts and waits for the filesystem threads to finish. A busy
    /// mount stays mounted and answers `Busy`.
    pub fn unmount(mut self) -> Result<(), VolumeError> {
        self.unmount_inner(false)
    }

    fn unmount_inner(&mut self, lazy_if_busy: bool) -> Result<(), VolumeError> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        match rustix::mount::unmount(&self.mountpoint, rustix::mount::UnmountFlags::empty()) {
            Ok(()) => {}
            Err(rustix::io::Errno::BUSY) if lazy_if_busy => {
                // Processes still use it: detach now, and let the threads
                // serve them until they close their files.
                let _ =
                    rustix::mount::unmount(&self.mountpoint, rustix::mount::UnmountFlags::DETACH);
                drop(session);
                return Ok(());
            }
            Err(rustix::io::Errno::BUSY) => {
                self.session = Some(session);
                return Err(VolumeError::Busy {
                    path: self.mountpoint.clone(),
                });
            }
            Err(error) => {
                self.session = Some(session);
                return Err(VolumeError::Unmount {
                    path: self.mountpoint.clone(),
                    source: error.into(),
                });
            }
        }
        // The kernel has ended the connection: the event loops read ENODEV
        // and return, then fuser drops the filesystem (and its keys).
        session.join().map_err(|source| VolumeError::Unmount {
            path: self.mountpoint.clone(),
            source,
        })
    }
}

impl Drop for MountedVolume {
    fn drop(&mut self) {
        if let Err(error) = self.unmount_inner(true) {
            warn!(%error, "volume unmount on drop failed");
        }
    }
}

/// FUSE needs the device and, for fuser's own mount(2), root.
fn check_fuse(device: &Path) -> Result<(), FuseUnavailable> {
    if !device.exists() {
        return Err(FuseUnavailable::NoDevice);
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(device)
        .map_err(FuseUnavailable::DeviceNotOpenable)?;
    let euid = rustix::process::geteuid();
    if !euid.is_root() {
        return Err(FuseUnavailable::NotRoot {
            euid: euid.as_raw(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_say_what_is_missing() {
        let cases: Vec<(VolumeError, &str)> = vec![
            (FuseUnavailable::NoDevice.into(), "/dev/fuse does not exist"),
            (
                FuseUnavailable::DeviceNotOpenable(io::Error::from_raw_os_error(13)).into(),
                "/dev/fuse cannot be opened",
            ),
            (
                FuseUnavailable::NotRoot { euid: 1000 }.into(),
                "needs root (effective uid 1000)",
            ),
            (
                VolumeError::Busy {
                    path: PathBuf::from("/m"),
                },
                "/m failed: it is busy",
            ),
        ];
        for (error, expected) in cases {
            assert!(error.to_string().contains(expected), "{error}");
        }
    }

    #[test]
    fn a_missing_or_unusable_device_is_reported_before_mounting() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            check_fuse(&dir.path().join("fuse")),
            Err(FuseUnavailable::NoDevice)
        ));
        // A directory stands in for a device that cannot be opened read-write.
        assert!(matches!(
            check_fuse(dir.path()),
            Err(FuseUnavailable::DeviceNotOpenable(_))
        ));
    }

    #[test]
    fn init_backing_dir_writes_one_dir_iv_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let backing = dir.path().join("volume");
        init_backing_dir(&backing).unwrap();
        let first = std::fs::read(backing.join(DIRIV_FILENAME)).unwrap();
        assert!(DirIv::decode(&first).is_ok());
        init_backing_dir(&backing).unwrap();
        assert_eq!(std::fs::read(backing.join(DIRIV_FILENAME)).unwrap(), first);
        std::fs::remove_file(backing.join(DIRIV_FILENAME)).unwrap();
        std::fs::write(backing.join(DIRIV_FILENAME), [0u8; 16]).unwrap();
        assert!(matches!(
            init_backing_dir(&backing).unwrap_err(),
            VolumeError::BackingDirIv { .. }
        ));
    }
}
