//! Any bytes given to Decrypt's blob decoder: no panic, and nothing but the
//! real ciphertext opens.
#![no_main]

use keyward_crypto::{open, seal, BlobHeader, EncryptionContext, KeyMaterial, MaterialId};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let material = KeyMaterial::from_bytes([7; 32]);
    let context = EncryptionContext::from([("k", "v")]);
    if let Ok(header) = BlobHeader::decode(data) {
        let opened = open(data, &material, &context);
        // A blob sealed under this material would need the fuzzer to forge a GCM tag.
        assert!(opened.is_err(), "forged blob accepted: {header:?}");
    }
    // Round trip: what we seal we open, whatever the plaintext.
    let blob = seal([1; 16], MaterialId([2; 32]), &material, &context, data).expect("seal");
    assert_eq!(BlobHeader::decode(&blob).expect("header").key_id, [1; 16]);
    assert_eq!(open(&blob, &material, &context).expect("open").expose(), data);
});
