//! Known-answer messages written by an independent implementation, the AWS
//! Encryption SDK for Python 4.0.7, with a raw AES-256 wrapping key, one per
//! ESDK algorithm suite (frame length 128, 300 bytes of plaintext: three
//! frames) and one legacy non-framed message. Regenerate with
//! `python tests/esdk_interop.py make-vectors tests/vectors`.
//!
//! The specification repository has no offline vectors usable with raw keys:
//! the only decrypt vectors in `awslabs/aws-encryption-sdk-test-vectors`
//! (python-1.3.5) all need AWS KMS, so these stand in for them.

use super::*;

const KEY: [u8; 32] = {
    let mut key = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        key[i] = i as u8;
        i += 1;
    }
    key
};

const VECTORS: &[(&str, u16, &[u8])] = &[
    (
        "0014-framed",
        0x0014,
        include_bytes!("../vectors/0014-framed.bin"),
    ),
    (
        "0046-framed",
        0x0046,
        include_bytes!("../vectors/0046-framed.bin"),
    ),
    (
        "0078-framed",
        0x0078,
        include_bytes!("../vectors/0078-framed.bin"),
    ),
    (
        "0114-framed",
        0x0114,
        include_bytes!("../vectors/0114-framed.bin"),
    ),
    (
        "0146-framed",
        0x0146,
        include_bytes!("../vectors/0146-framed.bin"),
    ),
    (
        "0178-framed",
        0x0178,
        include_bytes!("../vectors/0178-framed.bin"),
    ),
    (
        "0214-framed",
        0x0214,
        include_bytes!("../vectors/0214-framed.bin"),
    ),
    (
        "0346-framed",
        0x0346,
        include_bytes!("../vectors/0346-framed.bin"),
    ),
    (
        "0378-framed",
        0x0378,
        include_bytes!("../vectors/0378-framed.bin"),
    ),
    (
        "0478-framed",
        0x0478,
        include_bytes!("../vectors/0478-framed.bin"),
    ),
    (
        "0578-framed",
        0x0578,
        include_bytes!("../vectors/0578-framed.bin"),
    ),
    (
        "0178-nonframed",
        0x0178,
        include_bytes!("../vectors/0178-nonframed.bin"),
    ),
];

fn vector_plaintext() -> Vec<u8> {
    (0..300).map(|i| (i % 251) as u8).collect()
}

fn vector_cmm() -> DefaultCmm<RawAesKeyring> {
    DefaultCmm::new(RawAesKeyring::new("keyward-vectors", "aes-256", &KEY).unwrap())
}

#[test]
fn python_sdk_messages_decrypt_to_the_known_plaintext() {
    let options =
        DecryptOptions::new().with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
    for (name, suite_id, message) in VECTORS {
        let (plaintext, header) = decrypt_to_vec(&vector_cmm(), &options, message)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(
            plaintext.as_bytes(),
            vector_plaintext().as_slice(),
            "{name}"
        );
        assert_eq!(header.algorithm_suite().id(), *suite_id, "{name}");
        assert_eq!(
            header.encryption_context().get("purpose"),
            Some("known-answer"),
            "{name}"
        );
        let framed = !name.ends_with("nonframed");
        assert_eq!(
            header.frame_length(),
            if framed { 128 } else { 0 },
            "{name}"
        );
        // Streaming gives the same plaintext.
        let streaming = options
            .clone()
            .with_signed_streaming(SignedStreaming::ReleaseBeforeSignature);
        let mut output = Vec::new();
        decrypt(&vector_cmm(), &streaming, *message, &mut output).unwrap();
        assert_eq!(output, vector_plaintext(), "{name}");
    }
}

#[test]
fn python_sdk_messages_fail_with_the_wrong_key_or_policy() {
    let wrong =
        DefaultCmm::new(RawAesKeyring::new("keyward-vectors", "aes-256", &[0u8; 32]).unwrap());
    let options =
        DecryptOptions::new().with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt);
    for (name, suite_id, message) in VECTORS {
        let error = decrypt_to_vec(&wrong, &options, message).unwrap_err();
        assert_eq!(error.kind(), ErrorKind::WrongKey, "{name}");
        let strict = decrypt_to_vec(&vector_cmm(), &DecryptOptions::new(), message);
        let committing = AlgorithmSuite::from_id(*suite_id).unwrap().is_committing();
        assert_eq!(strict.is_ok(), committing, "{name}");
    }
}
