//! The one error type of the format: fine-grained reasons that the
//! filesystem maps to `EIO` (corruption), `ENAMETOOLONG`, `EINVAL` or
//! `EFBIG`.

/// Why bytes from a backing directory, or a name or offset from a caller,
/// were refused. No variant carries plaintext or key material.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VolumeFormatError {
    #[error("master key is {0} bytes, not 32")]
    MasterKeyLength(usize),
    #[error("key derivation failed")]
    KeyDerivation,
    #[error("the random number generator failed")]
    Random,
    #[error("file header is {0} bytes, shorter than 18")]
    HeaderTruncated(usize),
    #[error("file header version is {0}, not 2")]
    HeaderVersion(u16),
    #[error("file id is all zero")]
    FileIdAllZero,
    #[error("content block is {0} bytes: not even an IV and a tag")]
    BlockTooShort(usize),
    #[error("content block is {0} bytes: longer than 4128")]
    BlockTooLong(usize),
    #[error("content block plaintext is {0} bytes: not 1 to 4096")]
    PlainBlockLength(usize),
    #[error("content block has an all-zero IV")]
    BlockZeroIv,
    #[error("content block failed authentication")]
    BlockAuthentication,
    #[error("symlink target is not unpadded base64url")]
    SymlinkEncoding,
    #[error("symlink target failed authentication")]
    SymlinkAuthentication,
    #[error("encrypted name is not unpadded base64url")]
    NameEncoding,
    #[error("encrypted name decodes to {0} bytes: not 16 to 2048 in steps of 16")]
    NameLength(usize),
    #[error("encrypted name has invalid padding")]
    NamePadding,
    #[error("name is empty")]
    NameEmpty,
    #[error("name is longer than 255 bytes")]
    NameTooLong,
    #[error("name contains '/' or a NUL byte")]
    NameForbiddenByte,
    #[error("name is '.' or '..'")]
    NameDot,
    #[error("long name file is {0} bytes: not 1 to 344")]
    LongNameFileLength(usize),
    #[error("directory IV is {0} bytes, not 16")]
    DirIvLength(usize),
    #[error("directory IV is all zero")]
    DirIvAllZero,
    #[error("offset or length beyond the largest file the format can address")]
    OffsetOverflow,
}

#[cfg(test)]
mod tests {
    use super::VolumeFormatError as E;

    #[test]
    fn every_variant_prints_without_secrets() {
        let all = [
            E::MasterKeyLength(3),
            E::KeyDerivation,
            E::Random,
            E::HeaderTruncated(2),
            E::HeaderVersion(7),
            E::FileIdAllZero,
            E::BlockTooShort(5),
            E::BlockTooLong(5000),
            E::PlainBlockLength(0),
            E::BlockZeroIv,
            E::BlockAuthentication,
            E::SymlinkEncoding,
            E::SymlinkAuthentication,
            E::NameEncoding,
            E::NameLength(17),
            E::NamePadding,
            E::NameEmpty,
            E::NameTooLong,
            E::NameForbiddenByte,
            E::NameDot,
            E::LongNameFileLength(0),
            E::DirIvLength(3),
            E::DirIvAllZero,
            E::OffsetOverflow,
        ];
        for error in all {
            assert!(!error.to_string().is_empty());
        }
    }
}
