//! Entry points for the `cargo fuzz` targets: one per decoder. Each decodes
//! arbitrary bytes and, when that succeeds, asserts that encoding the result
//! gives back exactly the bytes consumed (the rustls `msgs` discipline). A
//! decoder that panics, or that accepts two spellings of one value, fails
//! here.
//!
//! Not part of the API: hidden from the docs and free to change.
#![allow(clippy::panic)]

use crate::body;
use crate::context::EncryptionContext;
use crate::header;
use crate::raw_aes;

/// Header decode → encode.
pub fn header(data: &[u8]) {
    if let Ok(decoded) = header::decode(data, None) {
        let mut bytes = decoded
            .header
            .encode_body()
            .unwrap_or_else(|e| panic!("re-encode failed: {e}"));
        assert_eq!(bytes.len(), decoded.body_len);
        decoded
            .authentication
            .encode(decoded.header.version(), &mut bytes);
        assert_eq!(Some(bytes.as_slice()), data.get(..decoded.total_len));
    }
}

/// Frame decode → encode, for a frame length taken from the first 2 bytes.
pub fn frame(data: &[u8]) {
    let Some((length, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let frame_length = u32::from(u16::from_be_bytes(*length)).max(1);
    if let Ok(decoded) = body::decode_frame(rest, frame_length) {
        let content = rest.get(decoded.content.clone()).unwrap_or_default();
        let bytes = body::encode_frame(&decoded.fields, content, &decoded.tag);
        assert_eq!(Some(bytes.as_slice()), rest.get(..decoded.len));
    }
    if let Ok(decoded) = body::decode_non_framed(rest) {
        let content = rest.get(decoded.content.clone()).unwrap_or_default();
        let bytes = body::encode_non_framed(&decoded.iv, content, &decoded.tag);
        assert_eq!(Some(bytes.as_slice()), rest.get(..decoded.len));
    }
    if let Ok((signature, len)) = body::decode_footer(rest) {
        let bytes =
            body::encode_footer(signature).unwrap_or_else(|e| panic!("re-encode failed: {e}"));
        assert_eq!(Some(bytes.as_slice()), rest.get(..len));
    }
}

/// Encryption context decode → encode.
pub fn encryption_context(data: &[u8]) {
    if let Ok(context) = EncryptionContext::deserialize(data) {
        let bytes = context
            .serialize()
            .unwrap_or_else(|e| panic!("re-encode failed: {e}"));
        assert_eq!(bytes, data);
    }
}

/// Raw AES provider info decode → encode, for a key name length taken from
/// the first byte.
pub fn raw_aes_provider_info(data: &[u8]) {
    let Some((name_len, rest)) = data.split_first() else {
        return;
    };
    if let Ok(info) = raw_aes::decode_provider_info(rest, usize::from(*name_len)) {
        let bytes = raw_aes::encode_provider_info(info.key_name, info.tag_len_bits, info.iv);
        assert_eq!(bytes, rest);
    }
}
