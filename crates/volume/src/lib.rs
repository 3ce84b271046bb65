//! The gocryptfs on-disk format, pure: no I/O, no clock, no global state.
//!
//! A keyward volume is a directory tree that gocryptfs 2.x can mount with
//! `gocryptfs -masterkey=HEX` (the flags `-masterkey` mode assumes: `HKDF`,
//! `GCMIV128`, `DirIV`, `EMENames`, `LongNames` with `-longnamemax 255`,
//! `Raw64`, AES-GCM content; with `-masterkey` there is no config file and
//! gocryptfs takes these from its command-line defaults, `initFuseFrontend` in
//! its `mount.go`). This crate owns every byte of that format: the
//! key derivation from the 32-byte master key, the 18-byte file header, the
//! sealed 4 KiB content blocks and the offset arithmetic between plaintext and
//! ciphertext, the EME-encrypted names and the long-name scheme, and the
//! encrypted symlink targets. It never returns plaintext that did not
//! authenticate: a block that fails GCM is an error, never bytes.
//!
//! It deliberately knows nothing of files, directories or FUSE: the caller
//! (`keyward-workload`) reads and writes the backing directory and hands the
//! bytes here. Randomness (IVs, file ids, directory IVs) comes from AWS-LC's
//! DRBG, as in `keyward-crypto`.
//!
//! Source of truth for the format: gocryptfs' `Documentation/file-format.md`
//! and its code (`internal/contentenc`, `internal/nametransform`,
//! `internal/cryptocore`), read for behaviour, not copied.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

mod content;
mod eme;
mod error;
mod header;
mod keys;
mod names;
mod offsets;

pub use content::{
    ContentCipher, BLOCK_OVERHEAD, CIPHER_BLOCK_LEN, IV_LEN, PLAIN_BLOCK_LEN, TAG_LEN,
};
pub use error::VolumeFormatError;
pub use header::{FileHeader, FileId, FILE_ID_LEN, HEADER_LEN, HEADER_VERSION};
pub use keys::{MasterKey, VolumeCipher, MASTER_KEY_LEN};
pub use names::{
    decode_long_name_file, hash_long_name, validate_plain_name, BackingEntry, CipherName, DirIv,
    NameCipher, DIRIV_FILENAME, DIRIV_LEN, LONGNAME_PREFIX, LONGNAME_SUFFIX, LONG_NAME_MAX,
    NAME_MAX,
};
pub use offsets::{
    block_cipher_offset, block_no, block_plain_offset, blocks_of, cipher_range, cipher_size,
    plain_size, BlockSpan, CipherRange, MAX_PLAIN_SIZE,
};
