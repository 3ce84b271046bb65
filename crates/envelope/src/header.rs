//! The message header: its body (versions 1.0 and 2.0) and its
//! authentication, with one `encode` and one `decode`
//! (`data-format/message-header.md`).
//!
//! This module only lays bytes out and checks structure. Verifying the
//! header tag, the key commitment and the caller's limits on what the header
//! asks for belongs to `decrypt`; the one exception is the encrypted data key
//! limit, which the decrypt spec wants enforced "as soon as that can be
//! determined during deserializing", so `decode` takes it as an argument.

use crate::context::EncryptionContext;
use crate::error::{EnvelopeError, Malformation, MessageSection};
use crate::suite::{AlgorithmSuite, MessageFormatVersion, COMMIT_KEY_LEN, IV_LEN, TAG_LEN};
use crate::wire::{put_u16_prefixed, FieldReader};

/// The version 1.0 type byte: "Customer Authenticated Encrypted Data".
const TYPE_CUSTOMER_AED: u8 = 0x80;

/// One encrypted copy of the data key, as a keyring wrote it
/// (`framework/structures.md`, "Encrypted Data Key").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EncryptedDataKey {
    provider_id: String,
    provider_info: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl EncryptedDataKey {
    /// An encrypted data key. Each field must fit in 65535 bytes to be
    /// written into a header.
    pub fn new(
        provider_id: impl Into<String>,
        provider_info: Vec<u8>,
        ciphertext: Vec<u8>,
    ) -> Self {
        EncryptedDataKey {
            provider_id: provider_id.into(),
            provider_info,
            ciphertext,
        }
    }

    /// Which kind of keyring wrote it (`aws-kms`, a raw key namespace…).
    pub fn provider_id(&self) -> &str {
        &self.provider_id
    }

    /// The keyring's own data: a KMS key ARN, or the raw AES key name and IV.
    pub fn provider_info(&self) -> &[u8] {
        &self.provider_info
    }

    /// The wrapped data key.
    pub fn ciphertext(&self) -> &[u8] {
        &self.ciphertext
    }
}

/// How the body is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentType {
    /// One block (legacy; decrypt only).
    NonFramed,
    /// A sequence of frames (the only type written since the committing suites).
    Framed,
}

impl ContentType {
    fn byte(self) -> u8 {
        match self {
            ContentType::NonFramed => 0x01,
            ContentType::Framed => 0x02,
        }
    }
}

/// The parsed header body of a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageHeader {
    pub(crate) suite: AlgorithmSuite,
    pub(crate) message_id: Vec<u8>,
    pub(crate) encryption_context: EncryptionContext,
    pub(crate) encrypted_data_keys: Vec<EncryptedDataKey>,
    pub(crate) content_type: ContentType,
    pub(crate) frame_length: u32,
    /// The algorithm suite data of a version 2 header: the commit key.
    pub(crate) commitment_key: Option<[u8; COMMIT_KEY_LEN]>,
}

/// The header authentication that follows the body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderAuthentication {
    /// The IV written by version 1.0 (all zeros in practice); version 2.0
    /// writes none and uses zeros.
    pub(crate) iv: [u8; IV_LEN],
    pub(crate) tag: [u8; TAG_LEN],
}

/// A decoded header and where its parts end.
#[derive(Clone, Debug)]
pub(crate) struct DecodedHeader {
    pub(crate) header: MessageHeader,
    pub(crate) authentication: HeaderAuthentication,
    /// Length of the header body (the AAD of the header tag).
    pub(crate) body_len: usize,
    /// Length of body plus authentication.
    pub(crate) total_len: usize,
}

impl MessageHeader {
    /// The message format version (from the suite).
    pub fn version(&self) -> MessageFormatVersion {
        self.suite.message_format_version()
    }

    /// The algorithm suite.
    pub fn algorithm_suite(&self) -> AlgorithmSuite {
        self.suite
    }

    /// The random message id (16 bytes in version 1, 32 in version 2).
    pub fn message_id(&self) -> &[u8] {
        &self.message_id
    }

    /// The encryption context stored in the header, including the SDK's own
    /// `aws-crypto-public-key` for signed suites.
    pub fn encryption_context(&self) -> &EncryptionContext {
        &self.encryption_context
    }

    /// The encrypted copies of the data key.
    pub fn encrypted_data_keys(&self) -> &[EncryptedDataKey] {
        &self.encrypted_data_keys
    }

    /// Framed or not.
    pub fn content_type(&self) -> ContentType {
        self.content_type
    }

    /// The plaintext length of each regular frame (0 when non-framed).
    pub fn frame_length(&self) -> u32 {
        self.frame_length
    }

    /// Serializes the header body.
    pub(crate) fn encode_body(&self) -> Result<Vec<u8>, EnvelopeError> {
        let version = self.version();
        if self.message_id.len() != version.message_id_len()
            || self.commitment_key.is_some() != self.suite.is_committing()
            || (version == MessageFormatVersion::V2 && self.content_type != ContentType::Framed)
        {
            return Err(EnvelopeError::Internal("inconsistent header fields"));
        }
        let context = self.encryption_context.serialize()?;
        let mut out = Vec::with_capacity(128 + context.len());
        out.push(version.byte());
        if version == MessageFormatVersion::V1 {
            out.push(TYPE_CUSTOMER_AED);
        }
        out.extend_from_slice(&self.suite.id().to_be_bytes());
        out.extend_from_slice(&self.message_id);
        put_u16_prefixed(&mut out, &context).ok_or(EnvelopeError::EncryptionContextTooLarge)?;
        let count = u16::try_from(self.encrypted_data_keys.len())
            .ok()
            .filter(|count| *count > 0)
            .ok_or(EnvelopeError::Internal(
                "encrypted data key count out of range",
            ))?;
        out.extend_from_slice(&count.to_be_bytes());
        for key in &self.encrypted_data_keys {
            put_u16_prefixed(&mut out, key.provider_id.as_bytes())
                .and_then(|()| put_u16_prefixed(&mut out, &key.provider_info))
                .and_then(|()| put_u16_prefixed(&mut out, &key.ciphertext))
                .ok_or(EnvelopeError::Internal("encrypted data key field too long"))?;
        }
        out.push(self.content_type.byte());
        if version == MessageFormatVersion::V1 {
            out.extend_from_slice(&[0, 0, 0, 0]);
            out.push(IV_LEN as u8);
        }
        out.extend_from_slice(&self.frame_length.to_be_bytes());
        if let Some(commitment_key) = &self.commitment_key {
            out.extend_from_slice(commitment_key);
        }
        Ok(out)
    }
}

impl HeaderAuthentication {
    /// Serializes the authentication for a header of `version`.
    pub(crate) fn encode(&self, version: MessageFormatVersion, out: &mut Vec<u8>) {
        if version == MessageFormatVersion::V1 {
            out.extend_from_slice(&self.iv);
        }
        out.extend_from_slice(&self.tag);
    }
}

/// Parses a header (body and authentication) from the start of `bytes`.
///
/// `Truncated(Header)` means the bytes end inside the header: a streaming
/// caller reads more and tries again. `max_encrypted_data_keys` is checked as
/// soon as the count is read, before any key is parsed.
pub(crate) fn decode(
    bytes: &[u8],
    max_encrypted_data_keys: Option<usize>,
) -> Result<DecodedHeader, EnvelopeError> {
    let mut reader = FieldReader::new(bytes, MessageSection::Header);
    let version = match reader.u8()? {
        0x01 => MessageFormatVersion::V1,
        0x02 => MessageFormatVersion::V2,
        // 'A': the first letter of the Base64 of both versions' first bytes
        // ("AY…" for 01 80, "Ag…" for 02).
        b'A' => return Err(EnvelopeError::Base64Encoded),
        other => return Err(Malformation::UnknownVersion(other).into()),
    };
    if version == MessageFormatVersion::V1 {
        let message_type = reader.u8()?;
        if message_type != TYPE_CUSTOMER_AED {
            return Err(Malformation::UnknownType(message_type).into());
        }
    }
    let suite_id = reader.u16()?;
    let suite = AlgorithmSuite::from_id(suite_id).ok_or(Malformation::UnknownSuite(suite_id))?;
    if suite.message_format_version() != version {
        return Err(Malformation::SuiteVersionMismatch {
            suite: suite_id,
            version: version.byte(),
        }
        .into());
    }
    let message_id = reader.bytes(version.message_id_len())?.to_vec();
    let encryption_context = decode_context_field(reader.u16_prefixed()?)?;

    let count = usize::from(reader.u16()?);
    if count == 0 {
        return Err(Malformation::NoEncryptedDataKeys.into());
    }
    if let Some(max) = max_encrypted_data_keys {
        if count > max {
            return Err(EnvelopeError::TooManyEncryptedDataKeys { count, max });
        }
    }
    // Each entry takes at least 6 bytes, which bounds the allocation by the input.
    let mut encrypted_data_keys = Vec::with_capacity(count.min(reader.remaining().len() / 6));
    for _ in 0..count {
        let provider_id = std::str::from_utf8(reader.u16_prefixed()?)
            .map_err(|_| Malformation::ProviderIdNotUtf8)?
            .to_owned();
        let provider_info = reader.u16_prefixed()?.to_vec();
        let ciphertext = reader.u16_prefixed()?.to_vec();
        encrypted_data_keys.push(EncryptedDataKey {
            provider_id,
            provider_info,
            ciphertext,
        });
    }

    let content_type = match reader.u8()? {
        0x01 => ContentType::NonFramed,
        0x02 => ContentType::Framed,
        other => return Err(Malformation::UnknownContentType(other).into()),
    };
    if version == MessageFormatVersion::V2 && content_type != ContentType::Framed {
        return Err(Malformation::NonFramedVersion2.into());
    }
    if version == MessageFormatVersion::V1 {
        if reader.u32()? != 0 {
            return Err(Malformation::ReservedNotZero.into());
        }
        let iv_len = reader.u8()?;
        if usize::from(iv_len) != IV_LEN {
            return Err(Malformation::IvLengthMismatch(iv_len).into());
        }
    }
    let frame_length = reader.u32()?;
    if (content_type == ContentType::Framed) != (frame_length > 0) {
        return Err(Malformation::FrameLengthMismatch(frame_length).into());
    }
    let commitment_key = match version {
        MessageFormatVersion::V2 => Some(reader.array::<COMMIT_KEY_LEN>()?),
        MessageFormatVersion::V1 => None,
    };
    let body_len = reader.consumed();

    let iv = match version {
        MessageFormatVersion::V1 => reader.array::<IV_LEN>()?,
        MessageFormatVersion::V2 => [0; IV_LEN],
    };
    let tag = reader.array::<TAG_LEN>()?;
    Ok(DecodedHeader {
        header: MessageHeader {
            suite,
            message_id,
            encryption_context,
            encrypted_data_keys,
            content_type,
            frame_length,
            commitment_key,
        },
        authentication: HeaderAuthentication { iv, tag },
        body_len,
        total_len: reader.consumed(),
    })
}

/// The AAD field holds exactly one serialized context; running out inside it
/// is a length mismatch, not a truncated message.
fn decode_context_field(field: &[u8]) -> Result<EncryptionContext, EnvelopeError> {
    EncryptionContext::deserialize(field).map_err(|error| match error {
        EnvelopeError::Truncated(_) => Malformation::EncryptionContextLength.into(),
        other => other,
    })
}

#[cfg(test)]
#[path = "header_test.rs"]
mod tests;
