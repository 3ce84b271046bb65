//! Interoperability with the AWS Encryption SDK for Python, both ways:
//! Python encrypts and we decrypt, we encrypt and Python decrypts, for the
//! committing suites (and the legacy ones under a permissive policy), several
//! frame lengths and sizes, and several wrapping keys.
//!
//! Built only with `--features esdk-interop`, and then it *requires*
//! `ESDK_PYTHON`: a Python with `tests/requirements.txt` installed. It fails
//! rather than pass vacuously when that is missing.
//!
//! ```text
//! python3 -m venv .venv-esdk
//! .venv-esdk/bin/pip install -r crates/envelope/tests/requirements.txt
//! ESDK_PYTHON=$PWD/.venv-esdk/bin/python \
//!     cargo test -p keyward-envelope --features esdk-interop --test esdk_interop
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::process::Command;

use keyward_envelope::{
    decrypt, encrypt, AlgorithmSuite, CommitmentPolicy, DecryptOptions, DefaultCmm, EncryptOptions,
    EncryptionContext, Keyring, MultiKeyring, RawAesKeyring, SignedStreaming,
};

const NAMESPACE: &str = "keyward-interop";

fn python() -> PathBuf {
    match std::env::var_os("ESDK_PYTHON") {
        Some(path) => PathBuf::from(path),
        None => panic!(
            "ESDK_PYTHON is not set, so the AWS Encryption SDK interop tests cannot run. \
             Point it at a Python with `pip install -r crates/envelope/tests/requirements.txt`."
        ),
    }
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/esdk_interop.py")
}

/// Runs the Python peer; on failure, shows the command and its output.
fn run_python(args: &[&str]) {
    let output = Command::new(python())
        .arg(script())
        .args(args)
        .output()
        .unwrap();
    if !output.status.success() {
        panic!(
            "python {} {} failed ({}):\nstdout: {}\nstderr: {}",
            script().display(),
            args.join(" "),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

fn key_bytes(seed: u8) -> [u8; 32] {
    std::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8))
}

fn keyring(name: &str, seed: u8) -> RawAesKeyring {
    RawAesKeyring::new(NAMESPACE, name, &key_bytes(seed)).unwrap()
}

fn python_key_args(name: &str, seed: u8) -> Vec<String> {
    vec![
        "--key".into(),
        hex::encode(key_bytes(seed)),
        "--namespace".into(),
        NAMESPACE.into(),
        "--name".into(),
        name.into(),
    ]
}

fn plaintext(len: usize, salt: u8) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64 ^ (len as u64) ^ u64::from(salt);
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

fn context() -> EncryptionContext {
    EncryptionContext::from([
        ("purpose", "interop"),
        ("peer", "aws-encryption-sdk-python"),
    ])
}

fn context_args() -> Vec<String> {
    context()
        .iter()
        .flat_map(|(k, v)| ["--context".to_string(), format!("{k}={v}")])
        .collect()
}

fn policy_for(suite: AlgorithmSuite) -> CommitmentPolicy {
    if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    }
}

/// Python encrypts `data`; we decrypt it by streaming, from a file.
fn python_to_rust(dir: &Path, suite: AlgorithmSuite, frame_length: u32, data: &[u8]) {
    let plain = dir.join("py-plain");
    let message = dir.join("py-message");
    std::fs::write(&plain, data).unwrap();
    let mut args = vec!["encrypt".to_string()];
    args.extend(python_key_args("key-1", 1));
    args.extend(context_args());
    args.extend([
        "--suite".into(),
        format!("{:#06x}", suite.id()),
        "--frame-length".into(),
        frame_length.to_string(),
        plain.display().to_string(),
        message.display().to_string(),
    ]);
    run_python(&args.iter().map(String::as_str).collect::<Vec<_>>());

    let cmm = DefaultCmm::new(keyring("key-1", 1));
    let options = DecryptOptions::new()
        .with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
        .with_expected_encryption_context(context())
        .with_signed_streaming(SignedStreaming::ReleaseBeforeSignature)
        .with_max_encrypted_data_keys(1);
    let mut output = Vec::new();
    let header = decrypt(
        &cmm,
        &options,
        BufReader::new(File::open(&message).unwrap()),
        &mut output,
    )
    .unwrap_or_else(|e| panic!("{suite:?} frame {frame_length} len {}: {e:?}", data.len()));
    assert_eq!(output.len(), data.len());
    assert!(
        output == data,
        "{suite:?} frame {frame_length} len {}: plaintext differs",
        data.len()
    );
    assert_eq!(header.algorithm_suite(), suite);
    assert_eq!(header.frame_length(), frame_length);
}

/// We encrypt `data` by streaming into a file; Python decrypts it.
fn rust_to_python(
    dir: &Path,
    cmm_keyring: impl Keyring,
    python_key: (&str, u8),
    suite: AlgorithmSuite,
    frame_length: u32,
    data: &[u8],
) {
    let message = dir.join("rs-message");
    let decrypted = dir.join("rs-decrypted");
    let cmm = DefaultCmm::new(cmm_keyring);
    let options = EncryptOptions::new()
        .with_algorithm_suite(suite)
        .with_commitment_policy(policy_for(suite))
        .with_frame_length(frame_length)
        .with_encryption_context(context());
    let mut output = BufWriter::new(File::create(&message).unwrap());
    encrypt(&cmm, &options, data, &mut output).unwrap();
    drop(output);

    let mut args = vec!["decrypt".to_string()];
    args.extend(python_key_args(python_key.0, python_key.1));
    args.extend(context_args());
    args.extend([
        message.display().to_string(),
        decrypted.display().to_string(),
    ]);
    run_python(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let output = std::fs::read(&decrypted).unwrap();
    assert_eq!(output.len(), data.len(), "{suite:?} frame {frame_length}");
    assert!(
        output == data,
        "{suite:?} frame {frame_length} len {}: plaintext differs",
        data.len()
    );
}

/// Runs the Python peer expecting it to refuse; returns its error text.
fn run_python_expecting_failure(args: &[String]) -> String {
    let output = Command::new(python())
        .arg(script())
        .args(args)
        .output()
        .unwrap();
    assert!(
        !output.status.success(),
        "python {} unexpectedly succeeded",
        args.join(" ")
    );
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const COMMITTING: [AlgorithmSuite; 2] = [
    AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
    AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
];

/// Frame lengths the Python SDK can write (it only writes multiples of 128).
const FRAME_LENGTHS: [u32; 3] = [128, 4096, 65536];

fn sizes(frame_length: u32) -> [usize; 4] {
    let fl = frame_length as usize;
    [0, fl, 3 * fl + 17, 1 << 20]
}

#[test]
fn python_encrypts_keyward_decrypts_committing_suites() {
    let dir = tempfile::tempdir().unwrap();
    for suite in COMMITTING {
        for frame_length in FRAME_LENGTHS {
            for len in sizes(frame_length) {
                python_to_rust(dir.path(), suite, frame_length, &plaintext(len, 1));
            }
        }
    }
}

#[test]
fn keyward_encrypts_python_decrypts_committing_suites() {
    let dir = tempfile::tempdir().unwrap();
    for suite in COMMITTING {
        // Any frame length: Python reads lengths it would not write.
        for frame_length in [1, 1000, 4096, 65536] {
            for len in sizes(frame_length) {
                rust_to_python(
                    dir.path(),
                    keyring("key-1", 1),
                    ("key-1", 1),
                    suite,
                    frame_length,
                    &plaintext(len, 2),
                );
            }
        }
    }
}

#[test]
fn large_messages_stream_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let data = plaintext(24 << 20, 3);
    for suite in COMMITTING {
        python_to_rust(dir.path(), suite, 65536, &data);
        rust_to_python(
            dir.path(),
            keyring("key-1", 1),
            ("key-1", 1),
            suite,
            65536,
            &data,
        );
    }
}

#[test]
fn legacy_suites_interoperate_under_a_permissive_policy() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = [
        AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha384EcdsaP384,
        AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha256,
        AlgorithmSuite::Aes128GcmIv12Tag16HkdfSha256EcdsaP256,
        AlgorithmSuite::Aes256GcmIv12Tag16NoKdf,
    ];
    for suite in legacy {
        python_to_rust(dir.path(), suite, 4096, &plaintext(10_000, 4));
        rust_to_python(
            dir.path(),
            keyring("key-1", 1),
            ("key-1", 1),
            suite,
            4096,
            &plaintext(10_000, 5),
        );
    }
}

#[test]
fn python_decrypts_with_any_one_of_several_wrapping_keys() {
    let dir = tempfile::tempdir().unwrap();
    for (name, seed) in [("key-a", 10), ("key-b", 11), ("key-c", 12)] {
        let children: Vec<Box<dyn Keyring>> = vec![
            Box::new(keyring("key-b", 11)),
            Box::new(keyring("key-c", 12)),
        ];
        let multi = MultiKeyring::new(Some(Box::new(keyring("key-a", 10))), children).unwrap();
        rust_to_python(
            dir.path(),
            multi,
            (name, seed),
            AlgorithmSuite::Aes256GcmHkdfSha512CommitKeyEcdsaP384,
            4096,
            &plaintext(50_000, seed),
        );
    }
}

/// A negative control: the peer really checks what we give it. A flipped
/// byte in a frame, or the wrong wrapping key, makes Python refuse.
#[test]
fn python_refuses_tampered_messages_and_wrong_keys() {
    let dir = tempfile::tempdir().unwrap();
    let message = dir.path().join("message");
    let cmm = DefaultCmm::new(keyring("key-1", 1));
    let options = EncryptOptions::new().with_frame_length(128);
    let mut bytes = Vec::new();
    encrypt(&cmm, &options, plaintext(1000, 6).as_slice(), &mut bytes).unwrap();
    let decrypt_args = |seed: u8| {
        let mut args = vec!["decrypt".to_string()];
        args.extend(python_key_args("key-1", seed));
        args.extend([
            message.display().to_string(),
            dir.path().join("out").display().to_string(),
        ]);
        args
    };
    std::fs::write(&message, &bytes).unwrap();
    run_python(
        &decrypt_args(1)
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    let error = run_python_expecting_failure(&decrypt_args(2));
    assert!(error.contains("Error"), "{error}");
    let at = bytes.len() - 300;
    bytes[at] ^= 1;
    std::fs::write(&message, &bytes).unwrap();
    let error = run_python_expecting_failure(&decrypt_args(1));
    assert!(error.contains("Error"), "{error}");
}
