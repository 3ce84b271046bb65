//! The trail's Ed25519 digest-signing key, kept in the data directory.
//!
//! ```text
//! <data-dir>/trail-signing-key     32-byte Ed25519 seed, hex, mode 0600
//! <data-dir>/trail-public-key.pem  its public key (SPKI PEM), for auditors
//! ```
//!
//! Why a file of its own rather than a row in `trail.sqlite`: whoever can
//! rewrite the trail database must not thereby hold the key that vouches for
//! it. An auditor who copied `trail-public-key.pem` (or its fingerprint)
//! somewhere safe verifies with `keyward trail verify --public-key`, and then
//! even a thief of the whole data directory cannot forge old digests without
//! the verification failing on the key fingerprint.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use keyward_audit::{DigestPublicKey, DigestSigningKey};
use zeroize::Zeroizing;

use crate::error::TrailError;

pub const SIGNING_KEY_FILE: &str = "trail-signing-key";
pub const PUBLIC_KEY_FILE: &str = "trail-public-key.pem";

/// Loads the signing key of `data_dir`, creating it (and the public key file)
/// on first use.
pub fn load_or_create(data_dir: &Path) -> Result<DigestSigningKey, TrailError> {
    let path = data_dir.join(SIGNING_KEY_FILE);
    let key = if path.exists() {
        read_signing_key(&path)?
    } else {
        let mut seed = Zeroizing::new([0u8; 32]);
        aws_lc_rs::rand::fill(seed.as_mut()).map_err(|_| TrailError::Random)?;
        let hex_seed = Zeroizing::new(hex::encode(seed.as_ref()));
        write_private(&path, hex_seed.as_bytes()).map_err(TrailError::io("write", &path))?;
        DigestSigningKey::from_seed(&seed)?
    };
    let public_path = data_dir.join(PUBLIC_KEY_FILE);
    let pem = key.public_key().to_pem();
    if fs::read_to_string(&public_path).ok().as_deref() != Some(pem.as_str()) {
        fs::write(&public_path, pem).map_err(TrailError::io("write", &public_path))?;
    }
    Ok(key)
}

fn read_signing_key(path: &Path) -> Result<DigestSigningKey, TrailError> {
    let bad = |reason: &str| TrailError::SigningKey {
        path: path.to_path_buf(),
        reason: reason.to_owned(),
    };
    let text = Zeroizing::new(fs::read_to_string(path).map_err(TrailError::io("read", path))?);
    let bytes = Zeroizing::new(hex::decode(text.trim()).map_err(|_| bad("not hex"))?);
    let seed: Zeroizing<[u8; 32]> = Zeroizing::new(
        bytes
            .as_slice()
            .try_into()
            .map_err(|_| bad("not 32 bytes"))?,
    );
    Ok(DigestSigningKey::from_seed(&seed)?)
}

/// The public key a verifier trusts for `data_dir`: the one in `explicit`
/// (a PEM or hex file the auditor kept), else the data directory's own.
pub fn trusted_public_key(
    data_dir: &Path,
    explicit: Option<&Path>,
) -> Result<DigestPublicKey, TrailError> {
    let path: PathBuf = match explicit {
        Some(path) => path.to_path_buf(),
        None => {
            let pem = data_dir.join(PUBLIC_KEY_FILE);
            if !pem.exists() {
                // Derive it from the private key, as the server would.
                return Ok(read_signing_key(&data_dir.join(SIGNING_KEY_FILE))?.public_key());
            }
            pem
        }
    };
    let text = fs::read_to_string(&path).map_err(TrailError::io("read", &path))?;
    parse_public_key(&text).ok_or_else(|| TrailError::SigningKey {
        path,
        reason: "not an Ed25519 public key (PEM or 64 hex digits)".to_owned(),
    })
}

/// Reads an SPKI PEM (as written to `trail-public-key.pem`) or raw hex.
pub fn parse_public_key(text: &str) -> Option<DigestPublicKey> {
    let text = text.trim();
    if let Ok(raw) = hex::decode(text) {
        return DigestPublicKey::from_bytes(&raw).ok();
    }
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    let der = base64_decode(&body)?;
    // SPKI of Ed25519 is a 12-byte prefix and the 32 key bytes (RFC 8410).
    let raw = der.get(der.len().checked_sub(32)?..)?;
    let key = DigestPublicKey::from_bytes(raw).ok()?;
    (key.to_spki_der() == der).then_some(key)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// Writes a secret file with mode 0600, fsynced, through a rename.
fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
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
    fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_created_once_private_and_its_public_half_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let first = load_or_create(dir.path()).unwrap().public_key();
        let second = load_or_create(dir.path()).unwrap().public_key();
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.path().join(SIGNING_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(trusted_public_key(dir.path(), None).unwrap(), first);
        assert_eq!(
            parse_public_key(&hex::encode(first.as_bytes())),
            Some(first)
        );
        assert_eq!(parse_public_key(&first.to_pem()), Some(first));
    }
}
