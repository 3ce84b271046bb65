//! Entry points for `cargo fuzz` targets, one per decoder. Each decodes
//! arbitrary bytes and, when that succeeds, checks that encoding the result
//! gives back the bytes consumed (for the binary formats) or a value that
//! reads back the same (for the JSON formats, whose input may have any
//! whitespace). A decoder that panics or accepts two spellings of one binary
//! value fails here.
//!
//! Not part of the API: hidden from the docs and free to change.
#![allow(clippy::panic)]

use crate::chain::ChainRecord;
use crate::digest::Digest;
use crate::event::CloudTrailEvent;
use crate::export::DigestFile;

/// Chain record decode → encode.
pub fn chain_record(data: &[u8]) {
    if let Ok((record, used)) = ChainRecord::decode(data) {
        let bytes = record
            .encode()
            .unwrap_or_else(|error| panic!("re-encode failed: {error}"));
        assert_eq!(Some(bytes.as_slice()), data.get(..used));
    }
}

/// Stored digest decode → encode.
pub fn digest(data: &[u8]) {
    if let Ok(digest) = Digest::decode(data) {
        assert_eq!(digest.encode(), data);
    }
}

/// CloudTrail record decode → encode → decode.
pub fn cloudtrail_event(data: &[u8]) {
    if let Ok(event) = CloudTrailEvent::decode(data) {
        let bytes = event
            .encode()
            .unwrap_or_else(|error| panic!("re-encode failed: {error}"));
        let again = CloudTrailEvent::decode(&bytes)
            .unwrap_or_else(|error| panic!("re-decode failed: {error}"));
        assert_eq!(again, event);
        let bytes_again = again
            .encode()
            .unwrap_or_else(|error| panic!("re-encode failed: {error}"));
        assert_eq!(bytes_again, bytes);
    }
}

/// Digest file decode → encode → decode.
pub fn digest_file(data: &[u8]) {
    if let Ok(file) = DigestFile::decode(data) {
        let bytes = file
            .encode()
            .unwrap_or_else(|error| panic!("re-encode failed: {error}"));
        let again =
            DigestFile::decode(&bytes).unwrap_or_else(|error| panic!("re-decode failed: {error}"));
        assert_eq!(again, file);
    }
}
