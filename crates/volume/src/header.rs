//! The per-file header.
//!
//! ```text
//! offset  len  field
//!      0    2  version, big-endian u16 = 2
//!      2   16  file id (random, never all zero)
//! ```
//!
//! An empty file has no header: gocryptfs writes the header with the first
//! byte of content (`internal/contentenc/file_header.go`). The file id goes
//! into every block's additional data, so blocks cannot be moved between
//! files.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::VolumeFormatError;

pub const HEADER_VERSION: u16 = 2;
pub const FILE_ID_LEN: usize = 16;
pub const HEADER_LEN: usize = 2 + FILE_ID_LEN;

/// The random 128-bit identity of one file's content.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileId([u8; FILE_ID_LEN]);

impl FileId {
    pub fn random() -> Result<Self, VolumeFormatError> {
        loop {
            let mut bytes = [0u8; FILE_ID_LEN];
            SystemRandom::new()
                .fill(&mut bytes)
                .map_err(|_| VolumeFormatError::Random)?;
            if let Ok(id) = Self::from_bytes(bytes) {
                return Ok(id);
            }
        }
    }

    /// gocryptfs refuses an all-zero id: it is what a zero-filled (torn or
    /// preallocated) header looks like.
    pub fn from_bytes(bytes: [u8; FILE_ID_LEN]) -> Result<Self, VolumeFormatError> {
        if bytes == [0u8; FILE_ID_LEN] {
            return Err(VolumeFormatError::FileIdAllZero);
        }
        Ok(FileId(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; FILE_ID_LEN] {
        &self.0
    }
}

/// A parsed file header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileHeader {
    pub file_id: FileId,
}

impl FileHeader {
    pub fn random() -> Result<Self, VolumeFormatError> {
        Ok(FileHeader {
            file_id: FileId::random()?,
        })
    }

    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..2].copy_from_slice(&HEADER_VERSION.to_be_bytes());
        out[2..].copy_from_slice(self.file_id.as_bytes());
        out
    }

    /// Parses the first 18 bytes of `bytes`; what follows is content.
    pub fn decode(bytes: &[u8]) -> Result<Self, VolumeFormatError> {
        let Some(header) = bytes.get(..HEADER_LEN) else {
            return Err(VolumeFormatError::HeaderTruncated(bytes.len()));
        };
        let mut version = [0u8; 2];
        version.copy_from_slice(&header[..2]);
        let version = u16::from_be_bytes(version);
        if version != HEADER_VERSION {
            return Err(VolumeFormatError::HeaderVersion(version));
        }
        let mut id = [0u8; FILE_ID_LEN];
        id.copy_from_slice(&header[2..]);
        Ok(FileHeader {
            file_id: FileId::from_bytes(id)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn layout() {
        let header = FileHeader {
            file_id: FileId::from_bytes([0xab; 16]).unwrap(),
        };
        let bytes = header.encode();
        assert_eq!(&bytes[..2], &[0, 2]);
        assert_eq!(&bytes[2..], &[0xab; 16]);
    }

    #[test]
    fn refusals() {
        assert_eq!(
            FileHeader::decode(&[0, 2, 1]).unwrap_err(),
            VolumeFormatError::HeaderTruncated(3)
        );
        let mut bytes = [1u8; 18];
        bytes[0] = 0;
        bytes[1] = 1;
        assert_eq!(
            FileHeader::decode(&bytes).unwrap_err(),
            VolumeFormatError::HeaderVersion(1)
        );
        let mut zero_id = [0u8; 18];
        zero_id[1] = 2;
        assert_eq!(
            FileHeader::decode(&zero_id).unwrap_err(),
            VolumeFormatError::FileIdAllZero
        );
        assert_eq!(
            FileHeader::decode(&[0u8; 18]).unwrap_err(),
            VolumeFormatError::HeaderVersion(0)
        );
    }

    #[test]
    fn random_ids_differ() {
        assert_ne!(FileId::random().unwrap(), FileId::random().unwrap());
    }

    proptest! {
        #[test]
        fn round_trip(id in any::<[u8; 16]>(), tail in proptest::collection::vec(any::<u8>(), 0..40)) {
            prop_assume!(id != [0u8; 16]);
            let header = FileHeader { file_id: FileId::from_bytes(id).unwrap() };
            let mut bytes = header.encode().to_vec();
            bytes.extend_from_slice(&tail);
            prop_assert_eq!(FileHeader::decode(&bytes).unwrap(), header);
        }

        #[test]
        fn decode_never_panics_and_reencodes(bytes in proptest::collection::vec(any::<u8>(), 0..40)) {
            if let Ok(header) = FileHeader::decode(&bytes) {
                prop_assert_eq!(&header.encode()[..], &bytes[..HEADER_LEN]);
            }
        }
    }
}
