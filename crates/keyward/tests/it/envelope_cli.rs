//! `keyward encrypt` / `keyward decrypt` (issue 5): the real binary as a KMS
//! client of a real keyward server. The CLI finds its credentials and region
//! as the AWS CLI would, from `<data-dir>/admin-credentials`, with every
//! other `AWS_*` variable removed, and its endpoint from `--endpoint-url`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::fixtures::{create_key, Must};
use crate::harness::{ServerOptions, TestServer};

/// The CLI, pointed at `server`.
fn cli(server: &TestServer, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            server.data_dir().join("admin-credentials"),
        )
        .env("AWS_CONFIG_FILE", "/dev/null")
        .arg(args.first().copied().unwrap_or_default())
        .args(["--endpoint-url", server.endpoint()])
        .args(args.get(1..).unwrap_or_default())
        .stdin(Stdio::null());
    command
}

/// Runs the CLI with `stdin` as its standard input.
fn run(server: &TestServer, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = cli(server, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot run keyward {args:?}: {err}"));
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = pipe.write_all(&input);
    });
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    output
}

#[track_caller]
fn assert_success(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Asserts a failure with one line on stderr that contains `needle`.
#[track_caller]
fn assert_failure_says(output: &Output, needle: &str) -> String {
    assert!(!output.status.success(), "expected a failure");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in: {stderr}");
    stderr
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Several frames of not-quite-random bytes.
fn plaintext() -> Vec<u8> {
    (0u32..20_000)
        .flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes())
        .collect()
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new(plain: &[u8]) -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("plain"), plain).unwrap();
        Files { dir }
    }
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn arg(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }
    /// `keyward ARGS <dir>/FROM -o <dir>/TO`, with empty stdin.
    fn run(&self, server: &TestServer, args: &[&str], from: &str, to: &str) -> Output {
        let (from, to) = (self.arg(from), self.arg(to));
        let mut all = args.to_vec();
        all.extend([from.as_str(), "-o", to.as_str()]);
        run(server, &all, b"")
    }
}

#[tokio::test]
async fn encrypt_then_decrypt_a_file_under_one_key() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let key = create_key(&server.kms_client()).await;
    let arn = key.arn().unwrap();
    let plain = plaintext();
    let files = Files::new(&plain);

    let output = files.run(
        &server,
        &[
            "encrypt",
            "--key",
            arn,
            "--context",
            "purpose=test",
            "--frame-length",
            "1024",
        ],
        "plain",
        "msg",
    );
    assert_success(&output, "encrypt");
    let message = std::fs::read(files.path("msg")).unwrap();
    assert_ne!(message, plain);
    assert_eq!(message.first(), Some(&2), "a version 2 message");

    // Decrypt with the key id instead of the ARN, and the expected context.
    let output = files.run(
        &server,
        &[
            "decrypt",
            "-q",
            "--key",
            key.key_id(),
            "--context",
            "purpose=test",
        ],
        "msg",
        "out",
    );
    assert_success(&output, "decrypt");
    assert!(output.stderr.is_empty(), "-q prints nothing");
    assert_eq!(std::fs::read(files.path("out")).unwrap(), plain);
    assert_eq!(files_in(files.dir.path()), ["msg", "out", "plain"]);
}

/// `--threads`: one thread and several write the same message layout, and
/// each count reads what the other wrote.
#[tokio::test]
async fn any_thread_count_reads_what_another_wrote() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let key = create_key(&server.kms_client()).await;
    let arn = key.arn().unwrap();
    // 4 batches of 256 frames of 4 KiB, and a bit.
    let plain: Vec<u8> = (0..4 * 256 * 4096 + 123)
        .map(|i: u32| (i % 251) as u8)
        .collect();
    let files = Files::new(&plain);
    for suite in ["0478", "0578"] {
        let mut lengths = Vec::new();
        for threads in ["1", "3"] {
            let message = format!("msg-{suite}-{threads}");
            let output = files.run(
                &server,
                &[
                    "encrypt",
                    "-q",
                    "--key",
                    arn,
                    "--suite",
                    suite,
                    "--threads",
                    threads,
                ],
                "plain",
                &message,
            );
            assert_success(&output, "encrypt");
            lengths.push(std::fs::metadata(files.path(&message)).unwrap().len());
            let other = if threads == "1" { "3" } else { "1" };
            let output = files.run(
                &server,
                &["decrypt", "-q", "--force", "--key", arn, "--threads", other],
                &message,
                "out",
            );
            assert_success(&output, "decrypt");
            assert!(
                std::fs::read(files.path("out")).unwrap() == plain,
                "{suite} {threads}"
            );
        }
        assert_eq!(lengths[0], lengths[1], "{suite}: same layout");
    }
    let output = files.run(
        &server,
        &["encrypt", "--key", arn, "--threads", "0"],
        "plain",
        "x",
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("0 is not in 1..=256"));
}

#[tokio::test]
async fn a_message_under_two_keys_decrypts_with_either() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let first = create_key(&kms).await;
    let second = create_key(&kms).await;
    kms.create_alias()
        .alias_name("alias/second")
        .target_key_id(second.key_id())
        .send()
        .await
        .must("CreateAlias");
    let plain = plaintext();
    let files = Files::new(&plain);

    let output = files.run(
        &server,
        &[
            "encrypt",
            "--key",
            first.key_id(),
            "--key",
            "alias/second",
            "--suite",
            "aes256-hkdf-sha512-commit",
        ],
        "plain",
        "msg",
    );
    assert_success(&output, "encrypt");
    for key in [first.arn().unwrap(), "alias/second"] {
        let out = files.arg("out");
        let output = run(
            &server,
            &[
                "decrypt",
                "--force",
                "--key",
                key,
                &files.arg("msg"),
                "-o",
                &out,
            ],
            b"",
        );
        assert_success(&output, key);
        assert_eq!(std::fs::read(&out).unwrap(), plain, "decrypted with {key}");
    }

    // A third key that wraps nothing in the message cannot open it.
    let third = create_key(&kms).await;
    let output = files.run(
        &server,
        &["decrypt", "--key", third.key_id()],
        "msg",
        "none",
    );
    assert_failure_says(&output, "none of the given keys can decrypt this message");
    assert!(!files.path("none").exists());
}

#[tokio::test]
async fn a_wrong_expected_context_fails_and_leaves_no_file() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let key = create_key(&server.kms_client()).await;
    let files = Files::new(&plaintext());
    let output = files.run(
        &server,
        &["encrypt", "--key", key.key_id(), "--context", "tenant=a"],
        "plain",
        "msg",
    );
    assert_success(&output, "encrypt");

    for context in ["tenant=b", "other=a"] {
        let output = files.run(
            &server,
            &["decrypt", "--key", key.key_id(), "--context", context],
            "msg",
            "out",
        );
        assert_failure_says(&output, "wrong encryption context");
        assert_eq!(files_in(files.dir.path()), ["msg", "plain"], "{context}");
    }
}

#[tokio::test]
async fn a_tampered_message_fails_and_leaves_no_file() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let key = create_key(&server.kms_client()).await;
    let plain = plaintext();
    let files = Files::new(&plain);
    let output = files.run(&server, &["encrypt", "--key", key.key_id()], "plain", "msg");
    assert_success(&output, "encrypt");
    let message = std::fs::read(files.path("msg")).unwrap();

    // A body byte (authenticated frame), the signature's last byte, a truncation.
    let middle = message.len() / 2;
    let mut body = message.clone();
    body[middle] ^= 0x01;
    let mut signature = message.clone();
    *signature.last_mut().unwrap() ^= 0x01;
    let truncated = message[..message.len() - 200].to_vec();
    for (name, bytes, needle) in [
        ("body", body, "tampered"),
        ("signature", signature, "tampered"),
        ("truncated", truncated, "truncated"),
    ] {
        std::fs::write(files.path("bad"), &bytes).unwrap();
        let output = files.run(&server, &["decrypt", "--key", key.key_id()], "bad", "out");
        assert_failure_says(&output, needle);
        assert_eq!(
            files_in(files.dir.path()),
            ["bad", "msg", "plain"],
            "{name}"
        );
    }
}

#[tokio::test]
async fn a_disabled_key_is_named_as_the_cause() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key = create_key(&kms).await;
    let files = Files::new(b"secret");
    let output = files.run(&server, &["encrypt", "--key", key.key_id()], "plain", "msg");
    assert_success(&output, "encrypt");
    kms.disable_key()
        .key_id(key.key_id())
        .send()
        .await
        .must("DisableKey");

    let output = files.run(&server, &["decrypt", "--key", key.key_id()], "msg", "out");
    let stderr = assert_failure_says(&output, "disabled");
    assert!(stderr.contains(key.key_id()), "names the key: {stderr}");
    assert!(!files.path("out").exists());

    let output = files.run(
        &server,
        &["encrypt", "--key", key.key_id()],
        "plain",
        "msg2",
    );
    assert_failure_says(&output, "disabled");
    assert_eq!(files_in(files.dir.path()), ["msg", "plain"]);

    // A key that does not exist is named too.
    let output = files.run(
        &server,
        &["decrypt", "--key", "alias/missing"],
        "msg",
        "out",
    );
    assert_failure_says(&output, "alias/missing");
}

#[tokio::test]
async fn stdin_to_stdout_round_trip() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let key = create_key(&server.kms_client()).await;
    let plain = plaintext();

    for suite in [
        "aes256-hkdf-sha512-commit",
        "aes256-hkdf-sha512-commit-ecdsa-p384",
    ] {
        let encrypted = run(
            &server,
            &[
                "encrypt",
                "--key",
                key.key_id(),
                "--suite",
                suite,
                "-",
                "-o",
                "-",
            ],
            &plain,
        );
        assert_success(&encrypted, "encrypt from stdin");
        let signed = suite.ends_with("p384");

        let decrypted = run(
            &server,
            &["decrypt", "--key", key.key_id(), "-", "-o", "-"],
            &encrypted.stdout,
        );
        if signed {
            // Signed messages are not streamed to stdout without opting in.
            assert_failure_says(&decrypted, "--allow-unverified-stdout");
            assert!(decrypted.stdout.is_empty());
            let decrypted = run(
                &server,
                &[
                    "decrypt",
                    "--key",
                    key.key_id(),
                    "--allow-unverified-stdout",
                    "-",
                    "-o",
                    "-",
                ],
                &encrypted.stdout,
            );
            assert_success(&decrypted, "decrypt to stdout (opted in)");
            assert_eq!(decrypted.stdout, plain);
        } else {
            assert_success(&decrypted, "decrypt to stdout");
            assert_eq!(decrypted.stdout, plain);
        }
    }
}

#[tokio::test]
async fn discovery_decrypts_with_the_key_the_message_names_within_listed_accounts() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let key = create_key(&server.kms_client()).await;
    let plain = plaintext();
    let files = Files::new(&plain);
    let output = files.run(&server, &["encrypt", "--key", key.key_id()], "plain", "msg");
    assert_success(&output, "encrypt");

    for accounts in [
        &[][..],
        &["--discovery-account", crate::harness::ACCOUNT_ID][..],
    ] {
        let mut args = vec!["decrypt", "--discovery"];
        args.extend_from_slice(accounts);
        let (msg, out) = (files.arg("msg"), files.arg("out"));
        args.extend_from_slice(&[&msg, "-o", &out]);
        let output = run(&server, &args, b"");
        assert_success(&output, "decrypt --discovery");
        assert_eq!(std::fs::read(files.path("out")).unwrap(), plain);
        std::fs::remove_file(files.path("out")).unwrap();
    }

    let output = files.run(
        &server,
        &[
            "decrypt",
            "--discovery",
            "--discovery-account",
            "444455556666",
        ],
        "msg",
        "out",
    );
    assert_failure_says(&output, "none of the given keys can decrypt this message");
    assert!(!files.path("out").exists());

    // Neither command runs without a key to use.
    let output = run(
        &server,
        &["decrypt", &files.arg("msg"), "-o", &files.arg("out")],
        b"",
    );
    assert_failure_says(&output, "--discovery");
    let output = run(
        &server,
        &["encrypt", &files.arg("plain"), "-o", &files.arg("msg2")],
        b"",
    );
    assert_failure_says(&output, "--key");
    assert_eq!(files_in(files.dir.path()), ["msg", "plain"]);
}

#[tokio::test]
async fn directories_are_encrypted_and_decrypted_file_by_file() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let key = create_key(&server.kms_client()).await;
    let root = tempfile::tempdir().unwrap();
    let plain_dir = root.path().join("plain");
    std::fs::create_dir_all(plain_dir.join("sub/deeper")).unwrap();
    let files: [(&str, Vec<u8>); 3] = [
        ("a.txt", b"first file".to_vec()),
        ("sub/b.bin", plaintext()),
        ("sub/deeper/empty", Vec::new()),
    ];
    for (name, bytes) in &files {
        std::fs::write(plain_dir.join(name), bytes).unwrap();
    }
    let arg = |name: &str| root.path().join(name).display().to_string();

    let output = run(
        &server,
        &[
            "encrypt",
            "-q",
            "--key",
            key.key_id(),
            &arg("plain"),
            "-o",
            &arg("enc"),
        ],
        b"",
    );
    assert_success(&output, "encrypt a directory");
    for (name, bytes) in &files {
        let message = std::fs::read(root.path().join(format!("enc/{name}.encrypted"))).unwrap();
        assert_ne!(&message, bytes, "{name}");
    }

    let output = run(
        &server,
        &[
            "decrypt",
            "-q",
            "--key",
            key.key_id(),
            &arg("enc"),
            "-o",
            &arg("dec"),
        ],
        b"",
    );
    assert_success(&output, "decrypt a directory");
    for (name, bytes) in &files {
        assert_eq!(
            &std::fs::read(root.path().join("dec").join(name)).unwrap(),
            bytes,
            "{name}"
        );
    }

    // A directory cannot go to stdout.
    let output = run(
        &server,
        &["encrypt", "--key", key.key_id(), &arg("plain"), "-o", "-"],
        b"",
    );
    assert_failure_says(&output, "is a directory");
}

/// The CLI with no `--endpoint-url`: everything comes from `env`, as for the AWS CLI.
fn run_with_env(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_keyward"));
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .envs(env.iter().copied())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test]
async fn endpoint_and_credentials_are_found_as_the_aws_cli_finds_them() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let key = create_key(&server.kms_client()).await;
    let plain = plaintext();
    let files = Files::new(&plain);
    let credentials = server.data_dir().join("admin-credentials");
    let credentials = credentials.to_str().unwrap();

    // AWS_ENDPOINT_URL_KMS and the shared credentials file.
    let output = run_with_env(
        &[
            ("AWS_ENDPOINT_URL_KMS", server.endpoint()),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials),
            ("AWS_CONFIG_FILE", "/dev/null"),
        ],
        &[
            "encrypt",
            "-q",
            "--key",
            key.key_id(),
            &files.arg("plain"),
            "-o",
            &files.arg("msg"),
        ],
    );
    assert_success(&output, "encrypt with AWS_ENDPOINT_URL_KMS");

    // A named profile of a config file holding keys, region and endpoint_url.
    let admin = server.admin_credentials();
    let config = files.path("config");
    std::fs::write(
        &config,
        format!(
            "[profile kw]\nregion = {}\naws_access_key_id = {}\naws_secret_access_key = {}\nendpoint_url = {}\n",
            crate::harness::REGION,
            admin.access_key_id,
            admin.secret_access_key,
            server.endpoint()
        ),
    )
    .unwrap();
    let output = run_with_env(
        &[
            ("AWS_CONFIG_FILE", config.to_str().unwrap()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null"),
        ],
        &[
            "decrypt",
            "-q",
            "--profile",
            "kw",
            "--key",
            key.key_id(),
            &files.arg("msg"),
            "-o",
            &files.arg("out"),
        ],
    );
    assert_success(&output, "decrypt with --profile");
    assert_eq!(std::fs::read(files.path("out")).unwrap(), plain);

    // An unreachable endpoint is a one-line error naming the connection failure.
    let output = run_with_env(
        &[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:1"),
            ("AWS_SHARED_CREDENTIALS_FILE", credentials),
            ("AWS_CONFIG_FILE", "/dev/null"),
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
        &[
            "decrypt",
            "--key",
            key.key_id(),
            &files.arg("msg"),
            "-o",
            &files.arg("out2"),
        ],
    );
    assert_failure_says(&output, "Connection refused");
    assert!(!files.path("out2").exists());
}

/// The first encrypted data key's ciphertext in a version 2 message header:
/// messages under the same data key carry the same one.
fn first_edk(message: &[u8]) -> Vec<u8> {
    let u16_at = |at: usize| usize::from(u16::from_be_bytes([message[at], message[at + 1]]));
    assert_eq!(message[0], 2, "a version 2 message");
    // version, suite, 32-byte message id, then the encryption context.
    let mut at = 1 + 2 + 32;
    at += 2 + u16_at(at);
    assert!(u16_at(at) >= 1, "at least one encrypted data key");
    at += 2;
    for _ in 0..2 {
        at += 2 + u16_at(at); // provider id, provider info
    }
    let len = u16_at(at);
    message[at + 2..at + 2 + len].to_vec()
}

#[tokio::test]
async fn the_data_key_cache_serves_a_directory_with_fewer_generate_data_key_calls() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let key = create_key(&server.kms_client()).await;
    let root = tempfile::tempdir().unwrap();
    let plain_dir = root.path().join("plain");
    std::fs::create_dir_all(&plain_dir).unwrap();
    let names: Vec<String> = (0..7).map(|i| format!("f{i}")).collect();
    for (i, name) in names.iter().enumerate() {
        std::fs::write(plain_dir.join(name), vec![i as u8; 100 + i]).unwrap();
    }
    let arg = |name: &str| root.path().join(name).display().to_string();
    let edks = |dir: &str| -> Vec<Vec<u8>> {
        names
            .iter()
            .map(|name| {
                first_edk(
                    &std::fs::read(root.path().join(dir).join(format!("{name}.encrypted")))
                        .unwrap(),
                )
            })
            .collect()
    };

    // Without the cache: one GenerateDataKey, so one data key, per file.
    let output = run(
        &server,
        &[
            "encrypt",
            "--key",
            key.key_id(),
            &arg("plain"),
            "-o",
            &arg("direct"),
        ],
        b"",
    );
    assert_success(&output, "encrypt without cache");
    let direct = edks("direct");
    for (i, edk) in direct.iter().enumerate() {
        assert!(!direct[..i].contains(edk), "file {i} has its own data key");
    }

    // With the cache, at most 3 messages per data key: 3 + 3 + 1 files.
    let output = run(
        &server,
        &[
            "encrypt",
            "--key",
            key.key_id(),
            "--cache-max-age",
            "300",
            "--cache-max-messages",
            "3",
            &arg("plain"),
            "-o",
            &arg("cached"),
        ],
        b"",
    );
    assert_success(&output, "encrypt with cache");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("7 messages under 3 new data keys (4 from the data-key cache)"),
        "{stderr}"
    );
    let cached = edks("cached");
    assert!(cached[0] == cached[1] && cached[1] == cached[2]);
    assert!(cached[3] == cached[4] && cached[4] == cached[5]);
    assert!(cached[2] != cached[3] && cached[5] != cached[6] && cached[0] != cached[6]);

    // A byte limit: files of 100..106 bytes, at most 250 bytes per data key,
    // so two files per key.
    let output = run(
        &server,
        &[
            "encrypt",
            "-q",
            "--key",
            key.key_id(),
            "--cache-max-age",
            "300",
            "--cache-max-bytes",
            "250",
            &arg("plain"),
            "-o",
            &arg("bytes"),
        ],
        b"",
    );
    assert_success(&output, "encrypt with a byte limit");
    assert!(output.stderr.is_empty(), "--quiet prints nothing");
    let by_bytes = edks("bytes");
    assert!(by_bytes[0] == by_bytes[1] && by_bytes[1] != by_bytes[2]);
    assert!(by_bytes[2] == by_bytes[3] && by_bytes[3] != by_bytes[4]);

    // Every cached message decrypts as usual.
    let output = run(
        &server,
        &[
            "decrypt",
            "-q",
            "--key",
            key.key_id(),
            &arg("cached"),
            "-o",
            &arg("dec"),
        ],
        b"",
    );
    assert_success(&output, "decrypt the cached directory");
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            std::fs::read(root.path().join("dec").join(name)).unwrap(),
            vec![i as u8; 100 + i]
        );
    }

    // Limits are checked before any KMS call.
    let output = run(
        &server,
        &[
            "encrypt",
            "--key",
            key.key_id(),
            "--cache-max-messages",
            "3",
            &arg("plain"),
            "-o",
            &arg("x"),
        ],
        b"",
    );
    assert!(
        !output.status.success(),
        "--cache-max-messages needs --cache-max-age"
    );
    let output = run(
        &server,
        &[
            "encrypt",
            "--key",
            key.key_id(),
            "--cache-max-age",
            "0",
            &arg("plain"),
            "-o",
            &arg("x"),
        ],
        b"",
    );
    assert!(!output.status.success(), "a zero maximum age is refused");
}

#[tokio::test]
async fn decrypt_refuses_more_encrypted_data_keys_than_allowed() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let first = create_key(&kms).await;
    let second = create_key(&kms).await;
    let files = Files::new(&plaintext());
    let output = files.run(
        &server,
        &["encrypt", "--key", first.key_id(), "--key", second.key_id()],
        "plain",
        "msg",
    );
    assert_success(&output, "encrypt under two keys");
    let output = files.run(
        &server,
        &[
            "decrypt",
            "--key",
            first.key_id(),
            "--max-encrypted-data-keys",
            "1",
        ],
        "msg",
        "out",
    );
    assert_failure_says(&output, "at most 1 are allowed");
    assert!(!files.path("out").exists());
    let output = files.run(
        &server,
        &[
            "decrypt",
            "--key",
            first.key_id(),
            "--max-encrypted-data-keys",
            "2",
        ],
        "msg",
        "out",
    );
    assert_success(&output, "two keys allowed");
}

/// A key policy that denies the caller names access denied as the cause, on
/// encrypt and on decrypt, and leaves no output file.
#[tokio::test]
async fn access_denied_by_the_key_policy_is_named_as_the_cause() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key = create_key(&kms).await;
    let files = Files::new(&plaintext());
    let output = files.run(&server, &["encrypt", "--key", key.key_id()], "plain", "msg");
    assert_success(&output, "encrypt before the policy change");

    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "Account administers the key",
                "Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{}:root", crate::harness::ACCOUNT_ID)},
                "Action": "kms:*",
                "Resource": "*"
            },
            {
                "Sid": "Nobody uses it for data",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},
                "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
                "Resource": "*"
            }
        ]
    });
    kms.put_key_policy()
        .key_id(key.key_id())
        .policy_name("default")
        .policy(policy.to_string())
        .send()
        .await
        .must("PutKeyPolicy");

    let output = files.run(
        &server,
        &["encrypt", "--key", key.key_id()],
        "plain",
        "denied.msg",
    );
    assert_failure_says(&output, "access to the KMS key was denied");
    let output = files.run(&server, &["decrypt", "--key", key.key_id()], "msg", "out");
    assert_failure_says(&output, "access to the KMS key was denied");
    assert_eq!(files_in(files.dir.path()), ["msg", "plain"]);
}

/// Issue 17, item 16: with no credentials anywhere the AWS CLI looks, the
/// error says so and where it looked (not the instance metadata service's
/// failure, the last place tried).
#[tokio::test]
async fn no_credentials_anywhere_is_named_as_such() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let key = create_key(&server.kms_client()).await;
    let files = Files::new(&plaintext());
    let home = tempfile::tempdir().unwrap();
    let home = home.path().to_str().unwrap();
    for command in ["encrypt", "decrypt"] {
        let output = run_with_env(
            &[("HOME", home), ("AWS_EC2_METADATA_DISABLED", "true")],
            &[
                command,
                "--endpoint-url",
                server.endpoint(),
                "--region",
                "us-east-1",
                "--key",
                key.key_id(),
                &files.arg("plain"),
                "-o",
                &files.arg("out"),
            ],
        );
        let stderr = assert_failure_says(&output, "no AWS credentials found (looked in");
        assert!(
            stderr.contains(&format!("{home}/.aws/credentials")),
            "{stderr}"
        );
        assert!(!stderr.contains("IMDS"), "{stderr}");
        assert!(!files.path("out").exists());
    }
}

/// Issue 17, item 16: OUTPUT may not be INPUT, and an existing OUTPUT is
/// replaced only with --force.
#[tokio::test]
async fn the_output_is_never_the_input_and_is_replaced_only_with_force() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let key = create_key(&server.kms_client()).await;
    let plain = plaintext();
    let files = Files::new(&plain);
    let encrypt = ["encrypt", "-q", "--key", key.key_id()];
    let decrypt = ["decrypt", "-q", "--key", key.key_id()];

    // The input itself, by its name or another spelling of it.
    let output = files.run(&server, &encrypt, "plain", "plain");
    assert_failure_says(&output, "is the input");
    let other_spelling = format!("{}/./plain", files.dir.path().display());
    let output = run(
        &server,
        &[&encrypt[..], &[&files.arg("plain"), "-o", &other_spelling]].concat(),
        b"",
    );
    assert_failure_says(&output, "is the input");
    assert_eq!(std::fs::read(files.path("plain")).unwrap(), plain);

    // An existing output: refused, left alone; replaced with --force.
    assert_success(&files.run(&server, &encrypt, "plain", "msg"), "encrypt");
    let first = std::fs::read(files.path("msg")).unwrap();
    let output = files.run(&server, &encrypt, "plain", "msg");
    let stderr = assert_failure_says(&output, "already exists");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(std::fs::read(files.path("msg")).unwrap(), first);
    let forced = [&encrypt[..], &["--force"]].concat();
    assert_success(
        &files.run(&server, &forced, "plain", "msg"),
        "encrypt --force",
    );
    assert_ne!(std::fs::read(files.path("msg")).unwrap(), first);

    std::fs::write(files.path("out"), b"keep me").unwrap();
    let output = files.run(&server, &decrypt, "msg", "out");
    assert_failure_says(&output, "already exists");
    assert_eq!(std::fs::read(files.path("out")).unwrap(), b"keep me");
    let forced = [&decrypt[..], &["--force"]].concat();
    assert_success(
        &files.run(&server, &forced, "msg", "out"),
        "decrypt --force",
    );
    assert_eq!(std::fs::read(files.path("out")).unwrap(), plain);
    assert_eq!(files_in(files.dir.path()), ["msg", "out", "plain"]);

    // A directory's files are held to the same rule.
    std::fs::create_dir(files.path("in")).unwrap();
    std::fs::write(files.path("in/a"), b"a").unwrap();
    assert_success(
        &files.run(&server, &encrypt, "in", "enc"),
        "encrypt a directory",
    );
    let output = files.run(&server, &encrypt, "in", "enc");
    assert_failure_says(&output, "a.encrypted already exists");
}

/// Issue 17, item 16: a file that is no Encryption SDK message is one clean
/// line, its cause said once.
#[tokio::test]
async fn a_file_that_is_no_message_is_one_clean_line() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let key = create_key(&server.kms_client()).await;
    let files = Files::new(b"hello, not a message\n");
    let output = files.run(&server, &["decrypt", "--key", key.key_id()], "plain", "out");
    let stderr = assert_failure_says(&output, "not a valid AWS Encryption SDK message");
    assert_eq!(
        stderr.matches("unknown message format version").count(),
        1,
        "{stderr}"
    );
    assert!(!files.path("out").exists());
}
