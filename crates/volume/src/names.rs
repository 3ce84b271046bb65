//! File names: EME under the directory's IV, PKCS#7 padding to 16 bytes,
//! unpadded base64url, and the long-name scheme.
//!
//! Every encrypted directory holds `gocryptfs.diriv`, 16 random bytes that
//! are the EME tweak for the names in it, so equal names in different
//! directories encrypt differently (`internal/nametransform/diriv.go`). A
//! plaintext name is 1 to 255 bytes, without `/` or NUL, and not `.` or
//! `..` (`valid.go`). Its encryption is `base64url_nopad(EME(pad16(name)))`
//! (`names.go`). When that is longer than 255 characters (plaintext names of
//! about 176 bytes and up), the entry on disk is
//! `gocryptfs.longname.<base64url_nopad(SHA-256(encrypted name))>` and the
//! full encrypted name is stored next to it in a file with the suffix
//! `.name` (`longnames.go`).

use aes_gcm::aes::cipher::KeyInit;
use aes_gcm::aes::Aes256;
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::eme::{self, Direction};
use crate::VolumeFormatError;

pub const DIRIV_LEN: usize = 16;
pub const DIRIV_FILENAME: &str = "gocryptfs.diriv";
pub const LONGNAME_PREFIX: &str = "gocryptfs.longname.";
pub const LONGNAME_SUFFIX: &str = ".name";
/// Longest plaintext name, as on ext4.
pub const NAME_MAX: usize = 255;
/// Longest encrypted name stored as is (gocryptfs' `-longnamemax` default).
pub const LONG_NAME_MAX: usize = 255;
/// 256 bytes (255 padded to 16) in base64 is 342 characters; gocryptfs
/// accepts up to 344 in a `.name` file.
const LONG_NAME_FILE_MAX: usize = 344;
const AES_BLOCK: usize = 16;

/// A directory's name tweak, the content of its `gocryptfs.diriv`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirIv([u8; DIRIV_LEN]);

impl DirIv {
    pub fn random() -> Result<Self, VolumeFormatError> {
        loop {
            let mut bytes = [0u8; DIRIV_LEN];
            SystemRandom::new()
                .fill(&mut bytes)
                .map_err(|_| VolumeFormatError::Random)?;
            if let Ok(iv) = Self::decode(&bytes) {
                return Ok(iv);
            }
        }
    }

    /// Parses the whole content of a `gocryptfs.diriv` file.
    pub fn decode(bytes: &[u8]) -> Result<Self, VolumeFormatError> {
        let array: [u8; DIRIV_LEN] = bytes
            .try_into()
            .map_err(|_| VolumeFormatError::DirIvLength(bytes.len()))?;
        if array == [0u8; DIRIV_LEN] {
            return Err(VolumeFormatError::DirIvAllZero);
        }
        Ok(DirIv(array))
    }

    pub fn encode(&self) -> [u8; DIRIV_LEN] {
        self.0
    }
}

/// How a plaintext name is stored in its backing directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CipherName {
    /// The encrypted name is the entry's name.
    Short(String),
    /// The entry is `hashed`; `full` goes into `hashed` + `.name`.
    Long { hashed: String, full: String },
}

impl CipherName {
    /// The name of the entry in the backing directory.
    pub fn on_disk(&self) -> &str {
        match self {
            CipherName::Short(name) => name,
            CipherName::Long { hashed, .. } => hashed,
        }
    }
}

/// What an entry of a backing directory is, by its name alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackingEntry<'a> {
    /// `gocryptfs.diriv`: never shown.
    DirIv,
    /// `gocryptfs.longname.<hash>.name`: never shown, read for its sibling.
    LongNameFile,
    /// `gocryptfs.longname.<hash>`: its name is in the `.name` file.
    LongName,
    /// An encrypted name to decrypt as it is.
    Encrypted(&'a str),
}

impl<'a> BackingEntry<'a> {
    pub fn classify(name: &'a str) -> Self {
        if name == DIRIV_FILENAME {
            BackingEntry::DirIv
        } else if name.starts_with(LONGNAME_PREFIX) {
            if name.ends_with(LONGNAME_SUFFIX) {
                BackingEntry::LongNameFile
            } else {
                BackingEntry::LongName
            }
        } else {
            BackingEntry::Encrypted(name)
        }
    }
}

/// EME under the volume's name key.
pub struct NameCipher {
    aes: Aes256,
}

impl NameCipher {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        NameCipher {
            aes: Aes256::new(key.into()),
        }
    }

    /// Encrypts a plaintext name (bytes, as Linux names are) for the
    /// directory whose IV is `dir_iv`.
    pub fn encrypt_name(
        &self,
        name: &[u8],
        dir_iv: &DirIv,
    ) -> Result<CipherName, VolumeFormatError> {
        validate_plain_name(name)?;
        let pad = AES_BLOCK - name.len() % AES_BLOCK;
        let mut padded = Vec::with_capacity(name.len() + pad);
        padded.extend_from_slice(name);
        padded.resize(name.len() + pad, pad as u8);
        eme::transform(&self.aes, &dir_iv.0, &mut padded, Direction::Encrypt)?;
        let full = URL_SAFE_NO_PAD.encode(&padded);
        if full.len() > LONG_NAME_MAX {
            Ok(CipherName::Long {
                hashed: hash_long_name(&full),
                full,
            })
        } else {
            Ok(CipherName::Short(full))
        }
    }

    /// Decrypts an encrypted name (the entry's name, or for a long name the
    /// content of its `.name` file) and checks it is a valid name.
    pub fn decrypt_name(
        &self,
        encrypted: &str,
        dir_iv: &DirIv,
    ) -> Result<Vec<u8>, VolumeFormatError> {
        // The base64 engine refuses CR/LF, padding and non-zero trailing
        // bits, as gocryptfs' strict decoder plus its CR/LF check do.
        let mut bytes = URL_SAFE_NO_PAD
            .decode(encrypted)
            .map_err(|_| VolumeFormatError::NameEncoding)?;
        if bytes.is_empty()
            || !bytes.len().is_multiple_of(AES_BLOCK)
            || bytes.len() > eme::MAX_BLOCKS * AES_BLOCK
        {
            return Err(VolumeFormatError::NameLength(bytes.len()));
        }
        eme::transform(&self.aes, &dir_iv.0, &mut bytes, Direction::Decrypt)?;
        let pad = usize::from(*bytes.last().ok_or(VolumeFormatError::NamePadding)?);
        if pad == 0 || pad > AES_BLOCK || pad >= bytes.len() {
            return Err(VolumeFormatError::NamePadding);
        }
        let name_len = bytes.len() - pad;
        if bytes[name_len..]
            .iter()
            .any(|byte| usize::from(*byte) != pad)
        {
            return Err(VolumeFormatError::NamePadding);
        }
        bytes.truncate(name_len);
        validate_plain_name(&bytes)?;
        Ok(bytes)
    }
}

/// The rules gocryptfs applies to a plaintext name both ways
/// (`IsValidName`), so a corrupted directory can never hand the kernel a
/// name with `/` or NUL.
pub fn validate_plain_name(name: &[u8]) -> Result<(), VolumeFormatError> {
    if name.is_empty() {
        return Err(VolumeFormatError::NameEmpty);
    }
    if name.len() > NAME_MAX {
        return Err(VolumeFormatError::NameTooLong);
    }
    if name.contains(&b'/') || name.contains(&0) {
        return Err(VolumeFormatError::NameForbiddenByte);
    }
    if name == b"." || name == b".." {
        return Err(VolumeFormatError::NameDot);
    }
    Ok(())
}

/// `gocryptfs.longname.` followed by the unpadded base64url SHA-256 of the
/// full encrypted name.
pub fn hash_long_name(full: &str) -> String {
    let hash = digest(&SHA256, full.as_bytes());
    format!("{LONGNAME_PREFIX}{}", URL_SAFE_NO_PAD.encode(hash.as_ref()))
}

/// Checks the content of a `.name` file and returns it as the encrypted
/// name to decrypt.
pub fn decode_long_name_file(bytes: &[u8]) -> Result<&str, VolumeFormatError> {
    if bytes.is_empty() || bytes.len() > LONG_NAME_FILE_MAX {
        return Err(VolumeFormatError::LongNameFileLength(bytes.len()));
    }
    std::str::from_utf8(bytes).map_err(|_| VolumeFormatError::NameEncoding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cipher() -> NameCipher {
        NameCipher::new(&[3u8; 32])
    }

    fn iv(byte: u8) -> DirIv {
        DirIv::decode(&[byte; 16]).unwrap()
    }

    #[test]
    fn short_and_long_names() {
        let short = cipher().encrypt_name(b"a", &iv(1)).unwrap();
        assert!(matches!(short, CipherName::Short(ref n) if n.len() == 22));
        // 175 bytes pad to 176 = 11 blocks = 235 characters: still short.
        let edge = cipher().encrypt_name(&[b'x'; 175], &iv(1)).unwrap();
        assert!(matches!(edge, CipherName::Short(ref n) if n.len() == 235));
        // 176 bytes pad to 192 = 256 characters: long.
        let long = cipher().encrypt_name(&[b'x'; 176], &iv(1)).unwrap();
        let CipherName::Long { hashed, full } = &long else {
            panic!("expected a long name")
        };
        assert_eq!(full.len(), 256);
        assert_eq!(hashed, &hash_long_name(full));
        assert_eq!(hashed.len(), LONGNAME_PREFIX.len() + 43);
        assert_eq!(long.on_disk(), hashed);
        assert_eq!(
            cipher().decrypt_name(full, &iv(1)).unwrap(),
            vec![b'x'; 176]
        );
    }

    #[test]
    fn names_depend_on_the_directory() {
        let a = cipher().encrypt_name(b"same", &iv(1)).unwrap();
        let b = cipher().encrypt_name(b"same", &iv(2)).unwrap();
        assert_ne!(a, b);
        assert_eq!(a, cipher().encrypt_name(b"same", &iv(1)).unwrap());
        assert!(cipher().decrypt_name(a.on_disk(), &iv(2)).is_err());
    }

    #[test]
    fn invalid_plain_names() {
        for (name, error) in [
            (&b""[..], VolumeFormatError::NameEmpty),
            (&b"."[..], VolumeFormatError::NameDot),
            (&b".."[..], VolumeFormatError::NameDot),
            (&b"a/b"[..], VolumeFormatError::NameForbiddenByte),
            (&b"a\0b"[..], VolumeFormatError::NameForbiddenByte),
            (&[b'y'; 256][..], VolumeFormatError::NameTooLong),
        ] {
            assert_eq!(cipher().encrypt_name(name, &iv(1)).unwrap_err(), error);
        }
        assert!(cipher().encrypt_name(&[b'y'; 255], &iv(1)).is_ok());
    }

    #[test]
    fn invalid_encrypted_names() {
        assert_eq!(
            cipher().decrypt_name("abc=", &iv(1)).unwrap_err(),
            VolumeFormatError::NameEncoding
        );
        assert_eq!(
            cipher().decrypt_name("ab\ncd", &iv(1)).unwrap_err(),
            VolumeFormatError::NameEncoding
        );
        assert_eq!(
            cipher().decrypt_name("", &iv(1)).unwrap_err(),
            VolumeFormatError::NameLength(0)
        );
        assert_eq!(
            cipher().decrypt_name("AAAA", &iv(1)).unwrap_err(),
            VolumeFormatError::NameLength(3)
        );
    }

    #[test]
    fn backing_entries() {
        assert_eq!(
            BackingEntry::classify("gocryptfs.diriv"),
            BackingEntry::DirIv
        );
        assert_eq!(
            BackingEntry::classify("gocryptfs.longname.abc.name"),
            BackingEntry::LongNameFile
        );
        assert_eq!(
            BackingEntry::classify("gocryptfs.longname.abc"),
            BackingEntry::LongName
        );
        assert_eq!(
            BackingEntry::classify("xyz"),
            BackingEntry::Encrypted("xyz")
        );
    }

    #[test]
    fn dir_iv_refusals() {
        assert_eq!(
            DirIv::decode(&[1; 15]).unwrap_err(),
            VolumeFormatError::DirIvLength(15)
        );
        assert_eq!(
            DirIv::decode(&[1; 17]).unwrap_err(),
            VolumeFormatError::DirIvLength(17)
        );
        assert_eq!(
            DirIv::decode(&[0; 16]).unwrap_err(),
            VolumeFormatError::DirIvAllZero
        );
        let random = DirIv::random().unwrap();
        assert_eq!(DirIv::decode(&random.encode()).unwrap(), random);
    }

    #[test]
    fn long_name_files() {
        assert_eq!(
            decode_long_name_file(b"").unwrap_err(),
            VolumeFormatError::LongNameFileLength(0)
        );
        assert_eq!(
            decode_long_name_file(&[b'A'; 345]).unwrap_err(),
            VolumeFormatError::LongNameFileLength(345)
        );
        assert_eq!(decode_long_name_file(b"abc").unwrap(), "abc");
    }

    proptest! {
        #[test]
        fn round_trip(name in proptest::collection::vec(any::<u8>(), 1..=255), byte in 1u8..) {
            prop_assume!(validate_plain_name(&name).is_ok());
            let encrypted = cipher().encrypt_name(&name, &iv(byte)).unwrap();
            let full = match &encrypted {
                CipherName::Short(n) => n.clone(),
                CipherName::Long { full, .. } => full.clone(),
            };
            prop_assert_eq!(cipher().decrypt_name(&full, &iv(byte)).unwrap(), name);
        }

        #[test]
        fn decrypting_arbitrary_strings_never_panics(text in ".{0,400}") {
            if let Ok(name) = cipher().decrypt_name(&text, &iv(5)) {
                prop_assert!(validate_plain_name(&name).is_ok());
            }
        }
    }
}
