//! The envelope benchmark's library half (see `scripts/bench-envelope.sh` and
//! BENCHMARKS.md): on one thread, the raw AES-256-GCM speed of our crypto
//! stack (aws-lc-rs) sealing 64 KiB chunks in memory — the ceiling — and
//! keyward-envelope encrypting and decrypting a page-cached file with the
//! unsigned (0x0478) and signed (0x0578) committing suites, 64 KiB frames.
//!
//! The data key comes from a raw AES keyring: a KMS keyring adds one network
//! call per message, which is not what this measures (the script times the
//! `keyward` CLI against a server separately).
//!
//! Usage: `envelope_bench PLAINTEXT_FILE SCRATCH_DIR [ROUNDS [THREADS]]`.
//! Prints one line per measurement, best of ROUNDS (default 3), in GB/s
//! (10^9 bytes/s) of plaintext. With THREADS > 1 the message is encrypted
//! and decrypted with `with_threads(THREADS)` (frames sealed and opened on
//! worker threads), and the ceiling is still one thread's raw AES-GCM.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use keyward_envelope::{
    decrypt, encrypt, AlgorithmSuite, DecryptOptions, DefaultCmm, EncryptOptions,
    EncryptionContext, RawAesKeyring, SignedStreaming,
};

const FRAME: u32 = 64 * 1024;
const IO_BUFFER: usize = 64 * 1024;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1);
    let (Some(input), Some(scratch)) = (args.next(), args.next()) else {
        return Err("usage: envelope_bench PLAINTEXT_FILE SCRATCH_DIR [ROUNDS]".into());
    };
    let rounds: usize = match args.next() {
        Some(text) => text.to_string_lossy().parse()?,
        None => 3,
    };
    let threads: usize = match args.next() {
        Some(text) => text.to_string_lossy().parse()?,
        None => 1,
    };
    let input = PathBuf::from(input);
    let scratch = PathBuf::from(scratch);
    let size = std::fs::metadata(&input)?.len();
    println!(
        "plaintext {} bytes, frames {FRAME} bytes, best of {rounds}, {threads} thread(s)",
        size
    );

    // The ceiling: sealing 64 KiB chunks of a buffer that stays in the CPU
    // caches (1 MiB), the pure cipher speed. Sealing a 64 MiB buffer adds
    // memory traffic, as streaming a file does; shown for reference.
    let raw = best(rounds, || raw_aes_gcm(size, 1 << 20))?;
    report(
        "raw AES-256-GCM, 1 MiB buffer (the ceiling)",
        size,
        raw,
        raw,
    );
    let raw_memory = best(rounds, || raw_aes_gcm(size, 64 << 20))?;
    report("raw AES-256-GCM, 64 MiB buffer", size, raw_memory, raw);
    let threaded = if threads > 1 {
        format!(", {threads} threads")
    } else {
        String::new()
    };
    // What streaming the file costs before any message format: 64 KiB reads
    // from the page cache, and the same reads each sealed in place.
    let read_only = best(rounds, || read_file(&input, None))?;
    report(
        "read the file, 64 KiB reads, no crypto",
        size,
        read_only,
        raw,
    );
    let read_seal = best(rounds, || {
        let key = aes_key()?;
        read_file(&input, Some(&key))
    })?;
    report(
        "read the file + raw AES-256-GCM in place",
        size,
        read_seal,
        raw,
    );

    let cmm = DefaultCmm::new(RawAesKeyring::new("bench", "key", &[7u8; 32])?);
    for (name, suite) in [
        ("0478", AlgorithmSuite::Aes256GcmHkdfSha512CommitKey),
        (
            "0578",
            AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
        ),
    ] {
        let options = EncryptOptions::new()
            .with_algorithm_suite(suite)
            .with_frame_length(FRAME)
            .with_encryption_context(EncryptionContext::from([("bench", "envelope")]))
            .with_threads(threads);
        let time = best(rounds, || {
            let reader = BufReader::with_capacity(IO_BUFFER, File::open(&input)?);
            let start = Instant::now();
            encrypt(&cmm, &options, reader, io::sink())?;
            Ok(start.elapsed())
        })?;
        report(
            &format!("encrypt {name} file -> sink{threaded}"),
            size,
            time,
            raw,
        );

        let message = scratch.join(format!("bench-{name}.encrypted"));
        {
            let mut writer = BufWriter::with_capacity(IO_BUFFER, File::create(&message)?);
            encrypt(&cmm, &options, File::open(&input)?, &mut writer)?;
            writer.flush()?;
        }
        let decrypt_options = DecryptOptions::new()
            .with_signed_streaming(SignedStreaming::ReleaseBeforeSignature)
            .with_threads(threads);
        let time = best(rounds, || {
            let reader = BufReader::with_capacity(IO_BUFFER, File::open(&message)?);
            let start = Instant::now();
            decrypt(&cmm, &decrypt_options, reader, io::sink())?;
            Ok(start.elapsed())
        })?;
        report(
            &format!("decrypt {name} file -> sink{threaded}"),
            size,
            time,
            raw,
        );
        check_round_trip(&cmm, &decrypt_options, &message, &input)?;
        std::fs::remove_file(&message)?;
    }
    Ok(())
}

/// Seals `total` bytes as 64 KiB chunks of a `buffer_len` buffer, in place,
/// with a 80-byte AAD like a frame's.
fn aes_key() -> Result<LessSafeKey> {
    Ok(LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, &[3u8; 32]).map_err(|_| "AES key")?,
    ))
}

/// Reads the whole file in 64 KiB reads into one buffer, sealing each read
/// in place when given a key.
fn read_file(path: &Path, key: Option<&LessSafeKey>) -> Result<Duration> {
    let mut file = File::open(path)?;
    let mut buffer = vec![0u8; FRAME as usize];
    let mut counter = 0u64;
    let start = Instant::now();
    loop {
        let read = file.read(&mut buffer)?;
        if read == 0 {
            break;
        }
        if let Some(key) = key {
            counter += 1;
            let mut iv = [0u8; 12];
            iv[4..].copy_from_slice(&counter.to_be_bytes());
            let tag = key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(iv),
                    Aad::from(&[0u8; 80][..]),
                    &mut buffer[..read],
                )
                .map_err(|_| "seal")?;
            let _ = std::hint::black_box(tag);
        }
        std::hint::black_box(&buffer);
    }
    Ok(start.elapsed())
}

fn raw_aes_gcm(total: u64, buffer_len: usize) -> Result<Duration> {
    let key = aes_key()?;
    let mut buffer = vec![0x5au8; buffer_len];
    let aad = [0u8; 80];
    let mut counter = 0u64;
    let mut done = 0u64;
    let start = Instant::now();
    while done < total {
        for chunk in buffer.chunks_mut(FRAME as usize) {
            counter += 1;
            let mut iv = [0u8; 12];
            iv[4..].copy_from_slice(&counter.to_be_bytes());
            let tag = key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(iv),
                    Aad::from(&aad[..]),
                    chunk,
                )
                .map_err(|_| "seal")?;
            let _ = std::hint::black_box(tag);
            done += chunk.len() as u64;
            if done >= total {
                break;
            }
        }
    }
    Ok(start.elapsed())
}

fn check_round_trip(
    cmm: &DefaultCmm<RawAesKeyring>,
    options: &DecryptOptions,
    message: &Path,
    input: &Path,
) -> Result<()> {
    let mut hasher = Hashing::default();
    decrypt(cmm, options, File::open(message)?, &mut hasher)?;
    let mut original = Hashing::default();
    io::copy(&mut File::open(input)?, &mut original)?;
    if hasher.finish() != original.finish() {
        return Err("decrypted plaintext differs from the input".into());
    }
    Ok(())
}

/// A SHA-256 of everything written, to check the round trip without holding 1 GiB.
struct Hashing(aws_lc_rs::digest::Context);

impl Default for Hashing {
    fn default() -> Self {
        Hashing(aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256))
    }
}

impl Hashing {
    fn finish(self) -> Vec<u8> {
        self.0.finish().as_ref().to_vec()
    }
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn best(rounds: usize, mut run: impl FnMut() -> Result<Duration>) -> Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..rounds.max(1) {
        best = best.min(run()?);
    }
    Ok(best)
}

fn report(what: &str, bytes: u64, time: Duration, ceiling: Duration) {
    let rate = bytes as f64 / time.as_secs_f64() / 1e9;
    let ceiling_rate = bytes as f64 / ceiling.as_secs_f64() / 1e9;
    println!(
        "{what:<50} {:>8.3} s {rate:>7.2} GB/s {:>5.0}% of raw",
        time.as_secs_f64(),
        100.0 * rate / ceiling_rate
    );
}
