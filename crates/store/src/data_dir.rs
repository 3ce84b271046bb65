//! The data directory: an exclusive lock, the root key file and the database.
//!
//! ```text
//! <data-dir>/keyward.lock     held (flock) while a server runs
//! <data-dir>/root-key         the root key, hex, mode 0600
//! <data-dir>/keyward.sqlite   the embedded database (+ -wal, -shm)
//! ```
//! The root key is the one secret that unlocks everything else; it is kept
//! out of the database so that a copy of the database alone reveals no key
//! material. (Passphrase and PKCS#11 roots come later, behind the same
//! `RootKey` value.)

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use keyward_crypto::{RootKey, ROOT_KEY_LEN};
use zeroize::Zeroizing;

use crate::{SqliteStore, StoreError};

pub const ROOT_KEY_FILE: &str = "root-key";
pub const DATABASE_FILE: &str = "keyward.sqlite";
const LOCK_FILE: &str = "keyward.lock";

/// An opened, locked data directory.
pub struct DataDir {
    pub path: PathBuf,
    pub root_key: RootKey,
    pub store: Arc<SqliteStore>,
    /// True when this open created the directory's root key.
    pub created: bool,
    _lock: File,
}

impl DataDir {
    /// Opens `path`, creating it and its root key on first use.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let io = |action: &'static str, p: &Path| {
            let p = p.to_path_buf();
            move |source| StoreError::Io {
                action,
                path: p,
                source,
            }
        };
        fs::create_dir_all(path).map_err(io("create", path))?;
        restrict_dir(path).map_err(io("set permissions of", path))?;
        let DirLock(lock) = DirLock::take(path)?;
        let key_path = path.join(ROOT_KEY_FILE);
        let (root_key, created) = if key_path.exists() {
            (read_root_key(&key_path)?, false)
        } else {
            let key = RootKey::generate().map_err(|_| StoreError::Random)?;
            write_secret_file(&key_path, hex::encode(key.expose()).as_bytes())
                .map_err(io("write", &key_path))?;
            (key, true)
        };
        let store = Arc::new(SqliteStore::open(&path.join(DATABASE_FILE))?);
        Ok(DataDir {
            path: path.to_path_buf(),
            root_key,
            store,
            created,
            _lock: lock,
        })
    }
}

/// The data directory's lock, held by a running server; tools that change
/// what a server writes (pruning the trail) take it too.
pub struct DirLock(File);

impl DirLock {
    /// Takes the lock of the existing data directory `path`, or fails with
    /// [`StoreError::Locked`] when a server holds it.
    pub fn take(path: &Path) -> Result<Self, StoreError> {
        let lock_path = path.join(LOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| StoreError::Io {
                action: "open",
                path: lock_path.clone(),
                source,
            })?;
        if lock.try_lock().is_err() {
            return Err(StoreError::Locked(path.to_path_buf()));
        }
        Ok(DirLock(lock))
    }
}

fn read_root_key(path: &Path) -> Result<RootKey, StoreError> {
    let text = Zeroizing::new(fs::read_to_string(path).map_err(|source| StoreError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?);
    let mut bytes = Zeroizing::new([0u8; ROOT_KEY_LEN]);
    hex::decode_to_slice(text.trim(), &mut bytes[..])
        .map_err(|_| StoreError::MalformedRootKey(path.to_path_buf()))?;
    Ok(RootKey::from_bytes(*bytes))
}

/// Writes a file readable by its owner only, durably (file and directory fsynced).
pub fn write_secret_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    if let Some(parent) = path.parent() {
        File::open(parent)?.sync_all()?;
    }
    Ok(())
}

fn restrict_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_key_is_created_once_with_mode_0600_and_the_dir_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let first = DataDir::open(&path).unwrap();
        assert!(first.created);
        assert!(matches!(DataDir::open(&path), Err(StoreError::Locked(_))));
        let key = *first.root_key.expose();
        drop(first);
        let second = DataDir::open(&path).unwrap();
        assert!(!second.created);
        assert_eq!(*second.root_key.expose(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(path.join(ROOT_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
