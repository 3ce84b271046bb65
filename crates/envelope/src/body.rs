//! The message body — frames and the legacy non-framed block — and the body
//! AAD that binds each of them to its message and position
//! (`data-format/message-body.md`, `data-format/message-body-aad.md`).
//!
//! Like `header`, this module only lays bytes out; encryption, decryption and
//! sequence checks belong to `encrypt` and `decrypt`.

use std::ops::Range;

use crate::error::{EnvelopeError, Malformation, MessageSection};
use crate::suite::{IV_LEN, TAG_LEN};
use crate::wire::FieldReader;

/// The "sequence number end" that starts a final frame.
pub(crate) const FINAL_FRAME_MARKER: u32 = 0xFFFF_FFFF;
/// Bytes before the content of a regular frame: sequence number and IV.
pub(crate) const REGULAR_PREFIX_LEN: usize = 4 + IV_LEN;
/// Bytes before the content of a final frame: marker, sequence number, IV, length.
pub(crate) const FINAL_PREFIX_LEN: usize = 4 + 4 + IV_LEN + 4;
/// The non-framed body's limit, from the spec: `2^36 - 32` bytes, what
/// AES-GCM allows under one IV.
pub(crate) const MAX_NON_FRAMED_LEN: u64 = (1 << 36) - 32;

/// Which body AAD content string a block is authenticated with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyAadContent {
    RegularFrame,
    FinalFrame,
    SingleBlock,
}

impl BodyAadContent {
    fn label(self) -> &'static [u8] {
        match self {
            BodyAadContent::RegularFrame => b"AWSKMSEncryptionClient Frame",
            BodyAadContent::FinalFrame => b"AWSKMSEncryptionClient Final Frame",
            BodyAadContent::SingleBlock => b"AWSKMSEncryptionClient Single Block",
        }
    }
}

/// Writes the body AAD into `out` (cleared first): message id, content
/// string, sequence number, plaintext length.
pub(crate) fn body_aad(
    message_id: &[u8],
    content: BodyAadContent,
    sequence_number: u32,
    content_length: u64,
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(message_id);
    out.extend_from_slice(content.label());
    out.extend_from_slice(&sequence_number.to_be_bytes());
    out.extend_from_slice(&content_length.to_be_bytes());
}

/// Writes the body AAD of the frame `fields` describes into `out`.
pub(crate) fn frame_aad(message_id: &[u8], fields: &FrameFields, out: &mut Vec<u8>) {
    let content = if fields.is_final {
        BodyAadContent::FinalFrame
    } else {
        BodyAadContent::RegularFrame
    };
    body_aad(
        message_id,
        content,
        fields.sequence_number,
        u64::from(fields.content_length),
        out,
    );
}

/// The IV of a frame: its sequence number, big-endian, left-padded with
/// zeros to 12 bytes (encrypt spec, "Construct a frame").
pub(crate) fn sequence_iv(sequence_number: u32) -> [u8; IV_LEN] {
    let mut iv = [0; IV_LEN];
    let (_, tail) = iv.split_at_mut(IV_LEN - 4);
    tail.copy_from_slice(&sequence_number.to_be_bytes());
    iv
}

/// The fields of one frame, without its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FrameFields {
    pub(crate) sequence_number: u32,
    pub(crate) is_final: bool,
    pub(crate) iv: [u8; IV_LEN],
    /// The encrypted content length (equal to the plaintext length).
    pub(crate) content_length: u32,
}

/// A frame found in a byte string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DecodedFrame {
    pub(crate) fields: FrameFields,
    /// Where the encrypted content is, relative to the start of the frame.
    pub(crate) content: Range<usize>,
    pub(crate) tag: [u8; TAG_LEN],
    /// The whole frame's length.
    pub(crate) len: usize,
}

impl FrameFields {
    /// The serialized prefix (everything before the content), in a fixed
    /// buffer so that the streaming encryptor writes it without allocating.
    pub(crate) fn prefix(&self) -> ([u8; FINAL_PREFIX_LEN], usize) {
        let mut out = [0u8; FINAL_PREFIX_LEN];
        let mut len = 0;
        if self.is_final {
            put(&mut out, &mut len, &FINAL_FRAME_MARKER.to_be_bytes());
        }
        put(&mut out, &mut len, &self.sequence_number.to_be_bytes());
        put(&mut out, &mut len, &self.iv);
        if self.is_final {
            put(&mut out, &mut len, &self.content_length.to_be_bytes());
        }
        (out, len)
    }
}

fn put(out: &mut [u8], len: &mut usize, field: &[u8]) {
    if let Some(slot) = out.get_mut(*len..*len + field.len()) {
        slot.copy_from_slice(field);
    }
    *len += field.len();
}

/// Serializes a whole frame.
pub(crate) fn encode_frame(fields: &FrameFields, content: &[u8], tag: &[u8; TAG_LEN]) -> Vec<u8> {
    let (prefix, prefix_len) = fields.prefix();
    let mut out = Vec::with_capacity(prefix_len + content.len() + TAG_LEN);
    out.extend_from_slice(prefix.get(..prefix_len).unwrap_or_default());
    out.extend_from_slice(content);
    out.extend_from_slice(tag);
    out
}

/// Parses one frame from the start of `bytes`. A regular frame's content is
/// `frame_length` bytes; a final frame's may not exceed it (decrypt spec).
pub(crate) fn decode_frame(bytes: &[u8], frame_length: u32) -> Result<DecodedFrame, EnvelopeError> {
    let mut reader = FieldReader::new(bytes, MessageSection::Body);
    let first = reader.u32()?;
    let is_final = first == FINAL_FRAME_MARKER;
    let sequence_number = if is_final { reader.u32()? } else { first };
    let iv = reader.array::<IV_LEN>()?;
    let content_length = if is_final {
        let length = reader.u32()?;
        if length > frame_length {
            return Err(Malformation::FinalFrameTooLong {
                length,
                frame_length,
            }
            .into());
        }
        length
    } else {
        frame_length
    };
    let start = reader.consumed();
    let content_len = usize::try_from(content_length)
        .map_err(|_| EnvelopeError::Truncated(MessageSection::Body))?;
    reader.bytes(content_len)?;
    let tag = reader.array::<TAG_LEN>()?;
    Ok(DecodedFrame {
        fields: FrameFields {
            sequence_number,
            is_final,
            iv,
            content_length,
        },
        content: start..start + content_len,
        tag,
        len: reader.consumed(),
    })
}

/// The non-framed body: IV, 64-bit length, content, tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DecodedNonFramed {
    pub(crate) iv: [u8; IV_LEN],
    pub(crate) content: Range<usize>,
    pub(crate) tag: [u8; TAG_LEN],
    pub(crate) len: usize,
}

/// Bytes before the content of a non-framed body.
pub(crate) const NON_FRAMED_PREFIX_LEN: usize = IV_LEN + 8;

/// Parses a non-framed body from the start of `bytes`.
pub(crate) fn decode_non_framed(bytes: &[u8]) -> Result<DecodedNonFramed, EnvelopeError> {
    let mut reader = FieldReader::new(bytes, MessageSection::Body);
    let iv = reader.array::<IV_LEN>()?;
    let length = reader.u64()?;
    if length > MAX_NON_FRAMED_LEN {
        return Err(Malformation::BodyTooLong.into());
    }
    let content_len =
        usize::try_from(length).map_err(|_| EnvelopeError::Truncated(MessageSection::Body))?;
    let start = reader.consumed();
    reader.bytes(content_len)?;
    let tag = reader.array::<TAG_LEN>()?;
    Ok(DecodedNonFramed {
        iv,
        content: start..start + content_len,
        tag,
        len: reader.consumed(),
    })
}

/// Serializes a non-framed body.
pub(crate) fn encode_non_framed(iv: &[u8; IV_LEN], content: &[u8], tag: &[u8; TAG_LEN]) -> Vec<u8> {
    let mut out = Vec::with_capacity(NON_FRAMED_PREFIX_LEN + content.len() + TAG_LEN);
    out.extend_from_slice(iv);
    out.extend_from_slice(&(content.len() as u64).to_be_bytes());
    out.extend_from_slice(content);
    out.extend_from_slice(tag);
    out
}

/// The footer: the signature after its 16-bit length
/// (`data-format/message-footer.md`).
pub(crate) fn encode_footer(signature: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let mut out = Vec::with_capacity(2 + signature.len());
    crate::wire::put_u16_prefixed(&mut out, signature)
        .ok_or(EnvelopeError::Internal("signature too long"))?;
    Ok(out)
}

/// Parses a footer from the start of `bytes`: the signature and the footer length.
pub(crate) fn decode_footer(bytes: &[u8]) -> Result<(&[u8], usize), EnvelopeError> {
    let mut reader = FieldReader::new(bytes, MessageSection::Footer);
    let signature = reader.u16_prefixed()?;
    Ok((signature, reader.consumed()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sequence_iv_is_left_padded() {
        assert_eq!(sequence_iv(1), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(
            sequence_iv(0x0102_0304),
            [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]
        );
    }

    #[test]
    fn body_aad_layout() {
        let mut aad = Vec::new();
        body_aad(&[7; 32], BodyAadContent::FinalFrame, 3, 5, &mut aad);
        let mut expected = vec![7; 32];
        expected.extend_from_slice(b"AWSKMSEncryptionClient Final Frame");
        expected.extend_from_slice(&[0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(aad, expected);
    }

    /// The framed body of the spec's example (`data-format/message-body.md`,
    /// "Framed Data", "Example Bytes"): its final frame, whose layout the
    /// spec spells out byte by byte, parses into the fields it names.
    #[test]
    fn final_frame_from_spec_example() {
        let content = hex::decode(
            concat!(
                "F7A53D372F4672376FBD0B57D1DFE830B965AD1FA910AA5F5EFFFFF4BC7D431C",
                "BA9FA7C4B25AF82E64A04E3AA091552688859500 7096FABB3ACAD32A75CFED0C",
                "4A4E52A38E41484D270B7A0FED61810C3A043180DF25E5C53676E4490986557F",
                "C051AD55A437F6BC139E9E556199FD606ADC017DBA41CDA4C9F17A833823F9EC",
                "B66B6A5A80FDB4338A48D6A421CB",
            )
            .replace(' ', ""),
        )
        .unwrap();
        assert_eq!(content.len(), 142);
        let mut frame = hex::decode("FFFFFFFF0000000335F74F1125410F01DD9E04BF0000008E").unwrap();
        frame.extend_from_slice(&content);
        frame.extend_from_slice(&hex::decode("811234FD8D58968351F6F39A040B3E3B").unwrap());
        let decoded = decode_frame(&frame, 256).unwrap();
        assert!(decoded.fields.is_final);
        assert_eq!(decoded.fields.sequence_number, 3);
        assert_eq!(decoded.fields.content_length, 142);
        assert_eq!(&frame[decoded.content.clone()], content.as_slice());
        assert_eq!(decoded.len, frame.len());
        assert_eq!(encode_frame(&decoded.fields, &content, &decoded.tag), frame);
        // The same frame under a smaller header frame length is malformed.
        assert!(matches!(
            decode_frame(&frame, 100),
            Err(EnvelopeError::Malformed(
                Malformation::FinalFrameTooLong { .. }
            ))
        ));
    }

    proptest! {
        #[test]
        fn frames_round_trip(
            sequence_number in 1u32..u32::MAX,
            is_final: bool,
            iv: [u8; 12],
            frame_length in 1u32..64,
            content_seed: Vec<u8>,
            tag: [u8; 16],
        ) {
            let length = if is_final { content_seed.len().min(frame_length as usize) } else { frame_length as usize };
            let content: Vec<u8> = content_seed.iter().copied().chain(std::iter::repeat(0)).take(length).collect();
            let fields = FrameFields { sequence_number, is_final, iv, content_length: length as u32 };
            let bytes = encode_frame(&fields, &content, &tag);
            let decoded = decode_frame(&bytes, frame_length).unwrap();
            prop_assert_eq!(decoded.fields, fields);
            prop_assert_eq!(&bytes[decoded.content.clone()], content.as_slice());
            prop_assert_eq!(decoded.len, bytes.len());
            // Every strict prefix is a truncation, never a different frame.
            for cut in 0..bytes.len() {
                prop_assert!(matches!(decode_frame(&bytes[..cut], frame_length), Err(EnvelopeError::Truncated(_))));
            }
        }

        #[test]
        fn non_framed_round_trips(iv: [u8; 12], content: Vec<u8>, tag: [u8; 16]) {
            let bytes = encode_non_framed(&iv, &content, &tag);
            let decoded = decode_non_framed(&bytes).unwrap();
            prop_assert_eq!(decoded.iv, iv);
            prop_assert_eq!(&bytes[decoded.content.clone()], content.as_slice());
            prop_assert_eq!(decoded.len, bytes.len());
        }

        #[test]
        fn footer_round_trips(signature in proptest::collection::vec(any::<u8>(), 0..120)) {
            let bytes = encode_footer(&signature).unwrap();
            let (decoded, len) = decode_footer(&bytes).unwrap();
            prop_assert_eq!(decoded, signature.as_slice());
            prop_assert_eq!(len, bytes.len());
        }
    }
}
