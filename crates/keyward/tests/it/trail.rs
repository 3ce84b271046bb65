//! The audit trail through the real binary: every answered call is in the
//! trail even after SIGKILL, the chain continues across restarts, and
//! `keyward trail verify` reads a stopped server's data directory
//! (issue 4; the CloudTrail record fields are tested with boto3 in
//! tests/python/test_trail.py).

use std::process::Command;

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;

use crate::fixtures::{create_key, Must};
use crate::harness::{ServerOptions, TestServer};

/// Runs `keyward trail verify --data-dir DIR`: (exit code, stdout, stderr).
fn verify(server: &TestServer) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["trail", "verify", "--data-dir"])
        .arg(server.data_dir())
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The record count of a successful verification report.
fn verified_records(stdout: &str) -> u64 {
    stdout
        .strip_prefix("trail verified: ")
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a verification report: {stdout}"))
}

#[tokio::test]
async fn every_answered_call_is_in_the_trail_after_sigkill() {
    let mut server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key = create_key(&kms).await.key_id().to_string();
    // 64 concurrent calls: they are group-committed, each answered only
    // once its event is durable.
    let calls = (0..64).map(|i| {
        let kms = kms.clone();
        let key = key.clone();
        async move {
            if i % 2 == 0 {
                kms.generate_data_key()
                    .key_id(key)
                    .key_spec(DataKeySpec::Aes256)
                    .send()
                    .await
                    .must("GenerateDataKey");
            } else {
                kms.encrypt()
                    .key_id(key)
                    .plaintext(Blob::new(vec![7u8; 32]))
                    .send()
                    .await
                    .must("Encrypt");
            }
        }
    });
    futures_join_all(calls).await;
    server.kill9().await;

    let (code, stdout, stderr) = verify(&server);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // CreateKey + 64 calls; no digest was signed (SIGKILL), so none is "signed".
    assert!(verified_records(&stdout) >= 65, "{stdout}");

    // The chain goes on after the restart and is signed at the next shutdown.
    server.start_again().await;
    let kms = server.kms_client();
    kms.describe_key()
        .key_id(&key)
        .send()
        .await
        .must("DescribeKey");
    server.stop().await;
    let (code, stdout, stderr) = verify(&server);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(verified_records(&stdout) >= 66, "{stdout}");
    assert!(stdout.contains("0 records not yet signed"), "{stdout}");
}

#[tokio::test]
async fn a_trail_verified_with_another_trails_public_key_fails() {
    let mut server = TestServer::start(ServerOptions::signed()).await;
    create_key(&server.kms_client()).await;
    server.stop().await;
    let mut other = TestServer::start(ServerOptions::signed()).await;
    other.stop().await;
    let output = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["trail", "verify", "--data-dir"])
        .arg(server.data_dir())
        .arg("--public-key")
        .arg(other.data_dir().join("trail-public-key.pem"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("not trusted"), "{stderr}");
}

/// `join_all` without a futures dependency: spawn each on the runtime.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    for handle in handles {
        handle.await.unwrap();
    }
}

/// The sizes of the files in `DIR/trail/` that hold segments (the active
/// ones and the spare written out ahead of time), in MiB.
fn segment_files_mib(server: &TestServer) -> Vec<u64> {
    let mut sizes: Vec<u64> = std::fs::read_dir(server.data_dir().join("trail"))
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            name.starts_with("segment-") || name == "spare.segment"
        })
        .map(|entry| entry.metadata().unwrap().len() >> 20)
        .collect();
    sizes.sort_unstable();
    sizes
}

/// The trail's segment size is a setting (issue 17, item 15): 64 MiB by
/// default, 8 MiB for `--dev`, `--trail-segment-mib` otherwise; a data
/// directory can change it, and the largest event fits the smallest size.
/// Sizes are read once the server has stopped: the spare is written in the
/// background, and a graceful stop waits for it.
#[tokio::test]
async fn the_trail_segment_size_is_a_setting_and_small_for_dev() {
    let mut server = TestServer::start(ServerOptions::signed()).await;
    create_key(&server.kms_client()).await;
    server.stop().await;
    assert_eq!(segment_files_mib(&server), [64, 64]);

    let mut dev = TestServer::start(ServerOptions::dev()).await;
    create_key(&dev.kms_client()).await;

    // The largest request keyward reads (1 MiB), whose value the error
    // message echoes: its event fits an 8 MiB segment and the call is
    // answered as a client error, not a trail failure.
    let policy = "x".repeat(1024 * 1024 - 100);
    let body =
        serde_json::json!({"KeyId": "alias/none", "PolicyName": "default", "Policy": policy})
            .to_string();
    let admin = crate::identity::admin(&dev);
    let answer = crate::identity::signed_post(
        &dev,
        &admin,
        "kms",
        &[
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", "TrentService.PutKeyPolicy"),
        ],
        body.as_bytes(),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", &answer.body_text()[..200]);
    dev.stop().await;
    assert_eq!(segment_files_mib(&dev), [8, 8]);
    let (code, stdout, stderr) = verify(&dev);
    assert_eq!(code, 0, "{stdout}{stderr}");

    // A data directory started again with another size goes on in a new segment of it.
    let mut resized = TestServer::start(ServerOptions {
        extra_args: vec!["--trail-segment-mib".into(), "16".into()],
        ..ServerOptions::dev()
    })
    .await;
    create_key(&resized.kms_client()).await;
    resized.stop().await;
    assert_eq!(segment_files_mib(&resized), [16, 16]);
    resized.options_mut().extra_args = vec!["--trail-segment-mib".into(), "8".into()];
    resized.start_again().await;
    create_key(&resized.kms_client()).await;
    resized.stop().await;
    assert_eq!(segment_files_mib(&resized), [8, 8, 16]);
    let (code, stdout, stderr) = verify(&resized);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(verified_records(&stdout) >= 2, "{stdout}");
}
