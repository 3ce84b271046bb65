//! Frames sealed and opened on worker threads (`with_threads`): the same
//! messages as the single-threaded path, across batch boundaries, and the
//! same refusals — a tampered, reordered or truncated frame in the middle of
//! a batch fails the call, and nothing from it or after it is released.

use super::*;

/// 64 KiB frames: 16 to a batch of worker work (1 MiB), so batch edges are
/// cheap to reach.
const FRAME: u32 = 65536;
const FL: usize = FRAME as usize;
const PER_BATCH: usize = 16;

fn encrypt_with(suite: AlgorithmSuite, frame_length: u32, data: &[u8], threads: usize) -> Vec<u8> {
    let options = encrypt_options(suite, frame_length).with_threads(threads);
    let mut message = Vec::new();
    // Small reads: the batch filler must top slots up across reads.
    let reader = Trickle {
        inner: data,
        chunk: 40_000,
    };
    encrypt(&cmm(), &options, reader, &mut message).unwrap();
    message
}

fn decrypt_with(
    suite: AlgorithmSuite,
    message: &[u8],
    threads: usize,
    output: &mut Vec<u8>,
) -> Result<(), EnvelopeError> {
    let options = decrypt_options(suite).with_threads(threads);
    let reader = Trickle {
        inner: message,
        chunk: 100_000,
    };
    decrypt(&cmm(), &options, reader, output).map(|_| ())
}

/// Plaintext lengths around the edges of frames and batches.
fn lengths() -> Vec<usize> {
    let batch = PER_BATCH * FL;
    vec![
        0,
        1,
        FL - 1,
        FL,
        FL + 1,
        2 * FL,
        batch - 1,
        batch,
        batch + 1,
        batch + FL,
        2 * batch,
        2 * batch + 7,
        5 * batch + 3 * FL + 11,
    ]
}

#[test]
fn threaded_and_single_threaded_messages_read_each_other() {
    for suite in COMMITTING {
        for len in lengths() {
            let data = plaintext(len);
            let single = encrypt_with(suite, FRAME, &data, 1);
            for threads in [2, 3] {
                let threaded = encrypt_with(suite, FRAME, &data, threads);
                // Same layout: only the message id, keys and signature differ.
                assert_eq!(threaded.len(), single.len(), "{suite:?} len {len}");
                for (message, decrypting_threads) in
                    [(&threaded, 1), (&single, threads), (&threaded, threads)]
                {
                    let mut output = Vec::new();
                    decrypt_with(suite, message, decrypting_threads, &mut output).unwrap();
                    assert!(output == data, "{suite:?} len {len} threads {threads}");
                }
            }
        }
    }
}

#[test]
fn frame_lengths_of_every_batch_shape_round_trip() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
    // Many frames per batch, one frame per batch, and longer than a batch
    // (sealed on the caller).
    for frame_length in [7u32, 4096, 1 << 20, (1 << 20) + 1] {
        let fl = frame_length as usize;
        for len in [3 * fl, 3 * fl + 1, (2 << 20) + 5] {
            let data = plaintext(len);
            let message = encrypt_with(suite, frame_length, &data, 2);
            let mut output = Vec::new();
            decrypt_with(suite, &message, 2, &mut output).unwrap();
            assert!(output == data, "frame {frame_length} len {len}");
        }
    }
}

#[test]
fn exact_multiples_end_as_on_one_thread() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
    let data = plaintext(PER_BATCH * FL);
    for empty_final_frame in [false, true] {
        let options = encrypt_options(suite, FRAME).with_empty_final_frame(empty_final_frame);
        let single = encrypt_to_vec(&cmm(), &options, &data).unwrap();
        let mut threaded = Vec::new();
        encrypt(
            &cmm(),
            &options.clone().with_threads(2),
            data.as_slice(),
            &mut threaded,
        )
        .unwrap();
        assert_eq!(
            threaded.len(),
            single.len(),
            "empty final frame: {empty_final_frame}"
        );
    }
}

/// Where frame `sequence_number` (1-based, regular) starts in an unsigned
/// message of regular 64 KiB frames.
fn frame_start(message: &[u8], data_len: usize, sequence_number: usize) -> usize {
    let regular = 4 + 12 + FL + 16;
    // Every frame but the last is regular; the last is final, full or not.
    let regular_frames = data_len.div_ceil(FL).max(1) - 1;
    let final_len = 4 + 4 + 12 + 4 + (data_len - regular_frames * FL) + 16;
    let header_len = message.len() - regular_frames * regular - final_len;
    header_len + (sequence_number - 1) * regular
}

#[test]
fn a_tampered_frame_mid_batch_stops_before_its_batch_is_released() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
    let data = plaintext(3 * PER_BATCH * FL + 100);
    let message = encrypt_with(suite, FRAME, &data, 2);
    // Frame 21 is the 5th of the second batch.
    let mut tampered = message.clone();
    let at = frame_start(&message, data.len(), 21) + 4 + 12 + 1000;
    tampered[at] ^= 0x01;
    let mut output = Vec::new();
    let error = decrypt_with(suite, &tampered, 2, &mut output).unwrap_err();
    assert!(
        matches!(
            error,
            EnvelopeError::FrameAuthenticationFailed {
                sequence_number: 21
            }
        ),
        "{error:?}"
    );
    // Only whole, verified frames before the tampered one were written.
    assert!(output.len() <= 20 * FL, "{} bytes released", output.len());
    assert_eq!(output.len() % FL, 0);
    assert!(output == data[..output.len()]);
}

#[test]
fn reordered_and_truncated_frames_are_refused_on_threads() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
    let data = plaintext(2 * PER_BATCH * FL + 100);
    let message = encrypt_with(suite, FRAME, &data, 2);
    let regular = 4 + 12 + FL + 16;

    // Frames 3 and 4 swapped.
    let three = frame_start(&message, data.len(), 3);
    let mut swapped = message.clone();
    swapped.copy_within(three + regular..three + 2 * regular, three);
    swapped[three + regular..three + 2 * regular].copy_from_slice(&message[three..three + regular]);
    let mut output = Vec::new();
    let error = decrypt_with(suite, &swapped, 2, &mut output).unwrap_err();
    assert!(
        matches!(
            error,
            EnvelopeError::Malformed(Malformation::FrameOutOfOrder {
                expected: 3,
                found: 4
            })
        ),
        "{error:?}"
    );

    // Cut after 20 regular frames, and inside frame 21.
    for cut in [
        frame_start(&message, data.len(), 21),
        frame_start(&message, data.len(), 21) + 99,
    ] {
        let mut output = Vec::new();
        let error = decrypt_with(suite, &message[..cut], 2, &mut output).unwrap_err();
        assert!(
            matches!(error, EnvelopeError::Truncated(MessageSection::Body)),
            "{error:?}"
        );
        assert!(output.len() <= 20 * FL);
        assert!(output == data[..output.len()]);
    }
}

#[test]
fn signed_messages_hash_frames_in_order_on_threads() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384;
    let data = plaintext(2 * PER_BATCH * FL + 3 * FL + 1);
    let message = encrypt_with(suite, FRAME, &data, 3);
    let mut output = Vec::new();
    decrypt_with(suite, &message, 1, &mut output).unwrap();
    assert!(output == data);
    // The signature covers every frame: one bit of it changed fails the call.
    let mut tampered = message.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let mut output = Vec::new();
    assert!(decrypt_with(suite, &tampered, 3, &mut output).is_err());
}

#[test]
fn the_plaintext_length_bound_holds_on_threads() {
    let suite = AlgorithmSuite::Aes256GcmHkdfSha512CommitKey;
    let data = plaintext(3 * PER_BATCH * FL);
    let bound = (2 * PER_BATCH * FL) as u64;
    let options = encrypt_options(suite, FRAME)
        .with_threads(2)
        .with_plaintext_length_bound(bound);
    let error = encrypt(&cmm(), &options, data.as_slice(), io::sink()).unwrap_err();
    assert!(
        matches!(error, EnvelopeError::PlaintextLengthBoundExceeded { bound: b } if b == bound),
        "{error:?}"
    );
}
