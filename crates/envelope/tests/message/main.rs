//! Whole-message tests through the public API: round trips in every shape,
//! tampering and truncation anywhere, the caller's rules (commitment policy,
//! limits, expected context, signed streaming), keyrings, and known-answer
//! messages written by the AWS Encryption SDK for Python.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{self, Read, Write};

use keyward_envelope::{
    decrypt, decrypt_to_vec, encrypt, encrypt_to_vec, AlgorithmSuite, CommitmentPolicy,
    DecryptOptions, DefaultCmm, EncryptOptions, EncryptingWriter, EncryptionContext, EnvelopeError,
    ErrorKind, Keyring, KeyringError, Malformation, MessageSection, MultiKeyring, RawAesKeyring,
    SignedStreaming, ALL_SUITES,
};
use proptest::prelude::*;

mod threads;
mod vectors;

const COMMITTING: [AlgorithmSuite; 2] = [
    AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
    AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
];

fn keyring(name: &str, byte: u8) -> RawAesKeyring {
    RawAesKeyring::new("keyward-test", name, &[byte; 32]).unwrap()
}

fn cmm() -> DefaultCmm<RawAesKeyring> {
    DefaultCmm::new(keyring("key-1", 1))
}

fn context() -> EncryptionContext {
    EncryptionContext::from([("purpose", "test"), ("tenant", "t-1")])
}

fn encrypt_options(suite: AlgorithmSuite, frame_length: u32) -> EncryptOptions {
    let policy = if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    EncryptOptions::new()
        .with_algorithm_suite(suite)
        .with_frame_length(frame_length)
        .with_commitment_policy(policy)
        .with_encryption_context(context())
}

fn decrypt_options(suite: AlgorithmSuite) -> DecryptOptions {
    let policy = if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::RequireEncryptAllowDecrypt
    };
    DecryptOptions::new()
        .with_commitment_policy(policy)
        .with_signed_streaming(SignedStreaming::ReleaseBeforeSignature)
}

/// Deterministic, incompressible-looking plaintext.
fn plaintext(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ len as u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A reader that hands out at most `chunk` bytes per call, to exercise
/// partial reads on both sides.
struct Trickle<R> {
    inner: R,
    chunk: usize,
}

impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let len = buf.len().min(self.chunk);
        self.inner.read(&mut buf[..len])
    }
}

fn round_trip_streaming(
    suite: AlgorithmSuite,
    frame_length: u32,
    data: &[u8],
    chunk: usize,
) -> Vec<u8> {
    let cmm = cmm();
    let mut message = Vec::new();
    let reader = Trickle { inner: data, chunk };
    encrypt(
        &cmm,
        &encrypt_options(suite, frame_length),
        reader,
        &mut message,
    )
    .unwrap();
    let mut output = Vec::new();
    let reader = Trickle {
        inner: message.as_slice(),
        chunk,
    };
    let header = decrypt(&cmm, &decrypt_options(suite), reader, &mut output).unwrap();
    assert_eq!(header.algorithm_suite(), suite);
    assert_eq!(header.frame_length(), frame_length);
    assert_eq!(header.encryption_context().get("tenant"), Some("t-1"));
    assert_eq!(
        output,
        data,
        "{suite:?} frame {frame_length} len {}",
        data.len()
    );
    message
}

#[test]
fn committing_suites_round_trip_every_length_shape() {
    for suite in COMMITTING {
        for frame_length in [1u32, 7, 64, 4096] {
            let fl = frame_length as usize;
            for len in [0, 1, fl - 1, fl, fl + 1, 2 * fl, 3 * fl + 5] {
                let data = plaintext(len);
                let message =
                    encrypt_to_vec(&cmm(), &encrypt_options(suite, frame_length), &data).unwrap();
                let (decrypted, header) =
                    decrypt_to_vec(&cmm(), &decrypt_options(suite), &message).unwrap();
                assert_eq!(decrypted.as_bytes(), data.as_slice());
                assert_eq!(header.algorithm_suite(), suite);
                round_trip_streaming(suite, frame_length, &data, 3);
            }
        }
    }
}

#[test]
fn every_suite_round_trips_under_a_policy_that_allows_it() {
    for suite in ALL_SUITES {
        for len in [0, 100, 1000] {
            let data = plaintext(len);
            round_trip_streaming(suite, 128, &data, 1 << 20);
        }
    }
}

/// A plaintext that is an exact multiple of the frame length ends with a
/// full final frame, not an empty one (encrypt spec: the final frame
/// "SHOULD be equal to the frame length"); the message length tells.
#[test]
fn exact_multiples_end_with_a_full_final_frame() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
    let frame_length = 32u32;
    let fl = frame_length as usize;
    let options = encrypt_options(suite, frame_length);
    let empty = encrypt_to_vec(&cmm(), &options, &[]).unwrap();
    let final_overhead = 4 + 4 + 12 + 4 + 16;
    let header_len = empty.len() - final_overhead;
    for frames in 1..4 {
        let message = encrypt_to_vec(&cmm(), &options, &plaintext(frames * fl)).unwrap();
        let regular = (frames - 1) * (4 + 12 + fl + 16);
        assert_eq!(
            message.len(),
            header_len + regular + final_overhead + fl,
            "{frames} frames"
        );
        // The writer API gives the same layout, whatever the write sizes.
        let mut writer = EncryptingWriter::new(&cmm(), &options, Vec::new()).unwrap();
        for piece in plaintext(frames * fl).chunks(5) {
            writer.write_all(piece).unwrap();
        }
        let (streamed, _) = writer.finish().unwrap();
        assert_eq!(streamed.len(), message.len());
    }
}

/// With `with_empty_final_frame`, an exact multiple ends with a full regular
/// frame and an empty final frame (what the Python SDK writes, and all that
/// its versions before 4.0 read); other lengths are unchanged. Both decrypt.
#[test]
fn exact_multiples_can_end_with_an_empty_final_frame() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
    let frame_length = 32u32;
    let fl = frame_length as usize;
    let options = encrypt_options(suite, frame_length).with_empty_final_frame(true);
    let empty = encrypt_to_vec(&cmm(), &options, &[]).unwrap();
    let final_overhead = 4 + 4 + 12 + 4 + 16;
    let regular_frame = 4 + 12 + fl + 16;
    let header_len = empty.len() - final_overhead;
    for len in [fl, 2 * fl, 3 * fl, 2 * fl + 1] {
        let data = plaintext(len);
        let message = encrypt_to_vec(&cmm(), &options, &data).unwrap();
        let expected = header_len + (len / fl) * regular_frame + final_overhead + len % fl;
        assert_eq!(message.len(), expected, "{len} bytes");
        let mut writer = EncryptingWriter::new(&cmm(), &options, Vec::new()).unwrap();
        for piece in data.chunks(7) {
            writer.write_all(piece).unwrap();
        }
        let (streamed, _) = writer.finish().unwrap();
        assert_eq!(streamed.len(), expected);
        let mut streamed_copy = Vec::new();
        encrypt(&cmm(), &options, &data[..], &mut streamed_copy).unwrap();
        assert_eq!(streamed_copy.len(), expected);
        let (decrypted, _) = decrypt_to_vec(&cmm(), &DecryptOptions::new(), &message).unwrap();
        assert_eq!(decrypted.as_bytes(), data.as_slice());
    }
}

#[test]
fn large_input_streams_through_small_reads() {
    for suite in COMMITTING {
        let data = plaintext(3 << 20);
        round_trip_streaming(suite, 65536, &data, 10_000);
        round_trip_streaming(suite, 4096, &data, 1 << 16);
    }
}

#[test]
fn encrypting_writer_matches_encrypt() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384;
    let data = plaintext(10_000);
    let mut writer =
        EncryptingWriter::new(&cmm(), &encrypt_options(suite, 100), Vec::new()).unwrap();
    for piece in data.chunks(333) {
        writer.write_all(piece).unwrap();
    }
    writer.flush().unwrap();
    let (message, header) = writer.finish().unwrap();
    assert_eq!(header.encrypted_data_keys().len(), 1);
    let (decrypted, _) = decrypt_to_vec(&cmm(), &decrypt_options(suite), &message).unwrap();
    assert_eq!(decrypted.as_bytes(), data.as_slice());
}

#[test]
fn default_options_use_the_signed_committing_suite() {
    let message = encrypt_to_vec(&cmm(), &EncryptOptions::new(), b"default").unwrap();
    assert_eq!(&message[..3], &[0x02, 0x05, 0x78]);
    let (_, header) = decrypt_to_vec(&cmm(), &DecryptOptions::new(), &message).unwrap();
    assert_eq!(
        header.algorithm_suite(),
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384
    );
    assert_eq!(header.frame_length(), 4096);
    assert!(header
        .encryption_context()
        .get("aws-crypto-public-key")
        .is_some());
}

// --- Tampering and truncation -------------------------------------------------

struct Layout {
    message: Vec<u8>,
    header_len: usize,
    footer_len: usize,
}

/// A message of three frames (two regular, one final), with its header and
/// footer lengths.
fn layout(suite: AlgorithmSuite) -> Layout {
    let frame_length = 16;
    let options = encrypt_options(suite, frame_length);
    let message = encrypt_to_vec(&cmm(), &options, &plaintext(40)).unwrap();
    // The signature of P-384 is always 103 bytes long (we sign until it is,
    // as the SDKs do), so the footer is 105.
    let footer_len = if suite.is_signed() { 105 } else { 0 };
    let body_len = 2 * (4 + 12 + 16 + 16) + (4 + 4 + 12 + 4 + 8 + 16);
    Layout {
        header_len: message.len() - body_len - footer_len,
        message,
        footer_len,
    }
}

fn try_decrypt(suite: AlgorithmSuite, message: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    decrypt_to_vec(&cmm(), &decrypt_options(suite), message).map(|(p, _)| p.as_bytes().to_vec())
}

#[test]
fn flipping_any_bit_anywhere_is_detected() {
    for suite in COMMITTING {
        let Layout { message, .. } = layout(suite);
        assert!(try_decrypt(suite, &message).is_ok());
        for at in 0..message.len() {
            for bit in [0x01u8, 0x80] {
                let mut tampered = message.clone();
                tampered[at] ^= bit;
                assert!(
                    try_decrypt(suite, &tampered).is_err(),
                    "{suite:?}: byte {at} ^ {bit:#x} went unnoticed"
                );
            }
        }
    }
}

#[test]
fn tampering_names_the_part_that_was_changed() {
    for suite in COMMITTING {
        let Layout {
            message,
            header_len,
            footer_len,
        } = layout(suite);
        let flip = |at: usize| {
            let mut tampered = message.clone();
            tampered[at] ^= 0x01;
            try_decrypt(suite, &tampered).unwrap_err()
        };
        // The header tag (last 16 header bytes).
        assert!(matches!(
            flip(header_len - 1),
            EnvelopeError::HeaderAuthenticationFailed
        ));
        // The commit key (the 32 bytes before the header tag).
        assert!(matches!(
            flip(header_len - 16 - 1),
            EnvelopeError::CommitmentMismatch
        ));
        // The frame length just before the commit key: authenticated by the tag.
        assert!(matches!(
            flip(header_len - 48 - 1),
            EnvelopeError::HeaderAuthenticationFailed
        ));
        // The encrypted data key's ciphertext ends right before content type,
        // frame length and commit key.
        let edk_end = header_len - 16 - 32 - 4 - 1;
        let error = flip(edk_end - 1);
        assert!(
            matches!(
                error,
                EnvelopeError::DataKeyNotDecrypted(KeyringError::UnwrapFailed { .. })
            ),
            "{error:?}"
        );
        assert_eq!(error.kind(), ErrorKind::WrongKey);
        // The first frame's ciphertext, and the second frame's tag.
        assert!(matches!(
            flip(header_len + 4 + 12),
            EnvelopeError::FrameAuthenticationFailed { sequence_number: 1 }
        ));
        assert!(matches!(
            flip(header_len + 2 * 48 - 1),
            EnvelopeError::FrameAuthenticationFailed { sequence_number: 2 }
        ));
        // The second frame's sequence number.
        assert!(matches!(
            flip(header_len + 48 + 3),
            EnvelopeError::Malformed(Malformation::FrameOutOfOrder {
                expected: 2,
                found: 3
            })
        ));
        if suite.is_signed() {
            assert_eq!(footer_len, 105);
            assert!(matches!(
                flip(message.len() - 1),
                EnvelopeError::SignatureInvalid
            ));
            // The aws-crypto-public-key value in the header context: the
            // header tag fails, or the key no longer parses.
            let at = message
                .windows(21)
                .position(|w| w == b"aws-crypto-public-key")
                .unwrap()
                + 21
                + 2
                + 10;
            // The raw AES keyring binds its wrapping to the context, so this
            // may also surface as a key that no longer unwraps.
            assert!(matches!(
                flip(at).kind(),
                ErrorKind::Tampered | ErrorKind::WrongKey
            ));
        }
    }
}

#[test]
fn every_truncation_is_detected_and_trailing_bytes_refused() {
    for suite in COMMITTING {
        let Layout { message, .. } = layout(suite);
        for cut in 0..message.len() {
            let error = try_decrypt(suite, &message[..cut]).unwrap_err();
            assert_eq!(
                error.kind(),
                ErrorKind::Malformed,
                "{suite:?} cut at {cut}: {error:?}"
            );
        }
        let mut longer = message.clone();
        longer.push(0);
        assert!(matches!(
            try_decrypt(suite, &longer),
            Err(EnvelopeError::TrailingData)
        ));
    }
}

/// Cutting a streamed message at a frame boundary (the final frame and the
/// footer gone) releases the verified regular frames, then fails: the output
/// is never a complete-looking plaintext.
#[test]
fn a_message_cut_at_a_frame_boundary_fails_after_the_regular_frames() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
    let Layout {
        message,
        header_len,
        ..
    } = layout(suite);
    let cut = header_len + 2 * 48;
    let mut output = Vec::new();
    let error = decrypt(
        &cmm(),
        &decrypt_options(suite),
        &message[..cut],
        &mut output,
    )
    .unwrap_err();
    assert!(matches!(
        error,
        EnvelopeError::Truncated(MessageSection::Body)
    ));
    assert_eq!(output, plaintext(40)[..32]);

    // With the whole message, the final frame comes only at the end.
    let mut output = Vec::new();
    decrypt(
        &cmm(),
        &decrypt_options(suite),
        message.as_slice(),
        &mut output,
    )
    .unwrap();
    assert_eq!(output, plaintext(40));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Random XOR masks at random places, on random plaintexts and frame lengths.
    #[test]
    fn random_tampering_is_detected(
        signed: bool,
        frame_length in 1u32..64,
        data in proptest::collection::vec(any::<u8>(), 0..300),
        at: prop::sample::Index,
        mask in 1u8..=255,
    ) {
        let suite = COMMITTING[usize::from(signed)];
        let message = encrypt_to_vec(&cmm(), &encrypt_options(suite, frame_length), &data).unwrap();
        let (decrypted, _) = decrypt_to_vec(&cmm(), &decrypt_options(suite), &message).unwrap();
        prop_assert_eq!(decrypted.as_bytes(), data.as_slice());
        let mut tampered = message.clone();
        tampered[at.index(message.len())] ^= mask;
        prop_assert!(try_decrypt(suite, &tampered).is_err());
    }

    #[test]
    fn random_bytes_never_decrypt_or_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        prop_assert!(try_decrypt(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey, &bytes).is_err());
    }
}

// --- The caller's rules -------------------------------------------------------

#[test]
fn streaming_decrypt_refuses_signed_messages_unless_asked() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384;
    let message = encrypt_to_vec(&cmm(), &encrypt_options(suite, 16), &plaintext(100)).unwrap();
    let mut output = Vec::new();
    let error = decrypt(
        &cmm(),
        &DecryptOptions::new(),
        message.as_slice(),
        &mut output,
    )
    .unwrap_err();
    assert!(matches!(error, EnvelopeError::SignedMessageNeedsOptIn));
    assert!(output.is_empty());
    // In memory it is fine: nothing is returned before the signature verifies.
    assert!(decrypt_to_vec(&cmm(), &DecryptOptions::new(), &message).is_ok());
    // A tampered signature with the opt-in: the verified regular frames were
    // written, the final one was not, and the call fails.
    let mut tampered = message.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 1;
    let options =
        DecryptOptions::new().with_signed_streaming(SignedStreaming::ReleaseBeforeSignature);
    let error = decrypt(&cmm(), &options, tampered.as_slice(), &mut output).unwrap_err();
    assert!(matches!(error, EnvelopeError::SignatureInvalid));
    assert_eq!(output, plaintext(100)[..96]);
}

#[test]
fn commitment_policy_gates_legacy_suites_both_ways() {
    let legacy = AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha256;
    let forbidden = EncryptOptions::new().with_algorithm_suite(legacy);
    assert!(matches!(
        encrypt_to_vec(&cmm(), &forbidden, b"x"),
        Err(EnvelopeError::PolicyForbidsSuite {
            operation: "encrypt",
            ..
        })
    ));
    let committing_under_forbid = EncryptOptions::new()
        .with_algorithm_suite(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey)
        .with_commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt);
    assert!(encrypt_to_vec(&cmm(), &committing_under_forbid, b"x").is_err());

    let message = encrypt_to_vec(&cmm(), &encrypt_options(legacy, 64), b"legacy").unwrap();
    assert_eq!(
        message[0], 0x01,
        "non-committing suites write version 1 messages"
    );
    let error = decrypt_to_vec(&cmm(), &DecryptOptions::new(), &message).unwrap_err();
    assert!(matches!(
        error,
        EnvelopeError::PolicyForbidsSuite {
            operation: "decrypt",
            ..
        }
    ));
    assert_eq!(error.kind(), ErrorKind::Refused);
    for policy in [
        CommitmentPolicy::RequireEncryptAllowDecrypt,
        CommitmentPolicy::ForbidEncryptAllowDecrypt,
    ] {
        let options = DecryptOptions::new().with_commitment_policy(policy);
        let (plaintext, _) = decrypt_to_vec(&cmm(), &options, &message).unwrap();
        assert_eq!(plaintext.as_bytes(), b"legacy");
    }
}

#[test]
fn expected_encryption_context_must_match() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
    let message = encrypt_to_vec(&cmm(), &encrypt_options(suite, 64), b"data").unwrap();
    let good = decrypt_options(suite)
        .with_expected_encryption_context(EncryptionContext::from([("tenant", "t-1")]));
    assert!(decrypt_to_vec(&cmm(), &good, &message).is_ok());
    for expected in [[("tenant", "t-2")], [("missing", "x")]] {
        let options = decrypt_options(suite)
            .with_expected_encryption_context(EncryptionContext::from(expected));
        let error = decrypt_to_vec(&cmm(), &options, &message).unwrap_err();
        assert!(matches!(
            error,
            EnvelopeError::EncryptionContextMismatch { .. }
        ));
        assert_eq!(error.kind(), ErrorKind::ContextMismatch);
    }
}

#[test]
fn encrypt_refuses_reserved_context_keys_and_bad_frame_lengths() {
    let reserved = EncryptOptions::new()
        .with_encryption_context(EncryptionContext::from([("aws-crypto-x", "y")]));
    assert!(matches!(
        encrypt_to_vec(&cmm(), &reserved, b"x"),
        Err(EnvelopeError::ReservedEncryptionContextKey(_))
    ));
    for frame_length in [0, keyward_envelope::MAX_FRAME_LENGTH + 1] {
        let options = EncryptOptions::new().with_frame_length(frame_length);
        assert!(matches!(
            encrypt_to_vec(&cmm(), &options, b"x"),
            Err(EnvelopeError::InvalidFrameLength)
        ));
    }
    let bounded = EncryptOptions::new().with_plaintext_length_bound(3);
    let mut output = Vec::new();
    assert!(matches!(
        encrypt(&cmm(), &bounded, &b"four"[..], &mut output),
        Err(EnvelopeError::PlaintextLengthBoundExceeded { bound: 3 })
    ));
}

#[test]
fn wrong_wrapping_key_is_reported_as_wrong_key() {
    let message = encrypt_to_vec(&cmm(), &EncryptOptions::new(), b"secret").unwrap();
    let other = DefaultCmm::new(keyring("key-1", 2));
    let error = decrypt_to_vec(&other, &DecryptOptions::new(), &message).unwrap_err();
    assert!(matches!(
        error,
        EnvelopeError::DataKeyNotDecrypted(KeyringError::UnwrapFailed { .. })
    ));
    assert_eq!(error.kind(), ErrorKind::WrongKey);
    let unrelated = DefaultCmm::new(keyring("key-9", 1));
    let error = decrypt_to_vec(&unrelated, &DecryptOptions::new(), &message).unwrap_err();
    assert!(matches!(
        error,
        EnvelopeError::DataKeyNotDecrypted(KeyringError::NoMatchingDataKey)
    ));
}

// --- Keyrings ---------------------------------------------------------------------

fn multi(names: &[(&str, u8)]) -> MultiKeyring {
    let mut keyrings: Vec<Box<dyn Keyring>> = names
        .iter()
        .map(|(name, byte)| Box::new(keyring(name, *byte)) as Box<dyn Keyring>)
        .collect();
    let generator = keyrings.remove(0);
    MultiKeyring::new(Some(generator), keyrings).unwrap()
}

#[test]
fn multi_keyring_writes_one_key_per_wrapping_key_and_any_one_decrypts() {
    let encrypting = DefaultCmm::new(multi(&[("a", 1), ("b", 2), ("c", 3)]));
    let message = encrypt_to_vec(&encrypting, &EncryptOptions::new(), b"shared").unwrap();
    let (_, header) = decrypt_to_vec(&encrypting, &DecryptOptions::new(), &message).unwrap();
    let names: Vec<&str> = header
        .encrypted_data_keys()
        .iter()
        .map(|k| k.provider_id())
        .collect();
    assert_eq!(names, ["keyward-test"; 3]);
    for (name, byte) in [("a", 1), ("b", 2), ("c", 3)] {
        let alone = DefaultCmm::new(keyring(name, byte));
        let (plaintext, _) = decrypt_to_vec(&alone, &DecryptOptions::new(), &message).unwrap();
        assert_eq!(plaintext.as_bytes(), b"shared");
    }
    // Decrypting with a multi-keyring of strangers and one good key works;
    // with strangers only, every failure is reported.
    let mixed = DefaultCmm::new(multi(&[("x", 9), ("b", 2)]));
    assert!(decrypt_to_vec(&mixed, &DecryptOptions::new(), &message).is_ok());
    let strangers = DefaultCmm::new(multi(&[("x", 9), ("a", 7)]));
    match decrypt_to_vec(&strangers, &DecryptOptions::new(), &message) {
        Err(EnvelopeError::DataKeyNotDecrypted(KeyringError::AllFailed(errors))) => {
            assert_eq!(errors.len(), 2)
        }
        other => panic!("expected AllFailed, got {other:?}"),
    }
}

#[test]
fn encrypted_data_key_limits_apply_on_both_sides() {
    let encrypting = DefaultCmm::new(multi(&[("a", 1), ("b", 2), ("c", 3)]));
    let too_few = EncryptOptions::new().with_max_encrypted_data_keys(2);
    assert!(matches!(
        encrypt_to_vec(&encrypting, &too_few, b"x"),
        Err(EnvelopeError::TooManyEncryptedDataKeys { count: 3, max: 2 })
    ));
    let message = encrypt_to_vec(&encrypting, &EncryptOptions::new(), b"x").unwrap();
    let limited = DecryptOptions::new().with_max_encrypted_data_keys(2);
    assert!(matches!(
        decrypt_to_vec(&encrypting, &limited, &message),
        Err(EnvelopeError::TooManyEncryptedDataKeys { count: 3, max: 2 })
    ));
    let enough = DecryptOptions::new().with_max_encrypted_data_keys(3);
    assert!(decrypt_to_vec(&encrypting, &enough, &message).is_ok());
}

#[test]
fn multi_keyring_needs_a_keyring() {
    assert!(MultiKeyring::new(None, Vec::new()).is_err());
}
