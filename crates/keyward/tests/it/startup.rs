//! A start that fails — the port is taken, a TLS file is missing, the trail
//! cannot be opened — leaves no freshly initialized data directory behind
//! (issue 17, item 5): no root key, no random account, so a retry with
//! `--account-id` starts as a first start.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::fixtures::Must;
use crate::harness::{ServerOptions, TestServer};

/// Runs `keyward serve ARGS` and waits for it to exit (it must: the start fails).
fn failed_start(args: &[&str], data_dir: &Path) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_keyward"))
        .arg("serve")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(child.wait_with_output());
    });
    match done_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(output) => {
            let output = output.unwrap();
            assert!(
                !output.status.success(),
                "keyward serve {args:?} succeeded; it should have failed"
            );
            output
        }
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("keyward serve {args:?} did not exit");
        }
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(read) => read
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => return vec!["<no directory>".into()],
    };
    names.sort();
    names
}

#[tokio::test]
async fn a_failed_start_leaves_no_initialized_data_directory() {
    let scratch = tempfile::tempdir().unwrap();

    // The port is taken: the directory the start would have created does not exist.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    let fresh = scratch.path().join("fresh");
    let output = failed_start(&["--listen", &listen], &fresh);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&listen), "{stderr}");
    assert!(!fresh.exists(), "left behind: {:?}", entries(&fresh));

    // A TLS file that does not exist: an existing empty directory stays empty.
    let empty = scratch.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let missing = scratch.path().join("missing.pem");
    let missing = missing.to_str().unwrap();
    let output = failed_start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            missing,
            "--tls-key",
            missing,
        ],
        &empty,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("missing.pem"), "{stderr}");
    assert_eq!(entries(&empty), Vec::<String>::new());

    // A failure after the data directory was initialized (the trail's
    // directory is taken by a file): what this start created is removed,
    // what was there before is kept.
    let blocked = scratch.path().join("blocked");
    std::fs::create_dir(&blocked).unwrap();
    std::fs::write(blocked.join("trail"), b"not a directory").unwrap();
    let output = failed_start(&["--listen", "127.0.0.1:0"], &blocked);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("trail"), "{stderr}");
    assert_eq!(entries(&blocked), ["trail"]);

    // The retry with an account id is a first start.
    drop(taken);
    let server = TestServer::start_in(
        ServerOptions {
            account_id: Some("444455556666".into()),
            ..ServerOptions::signed()
        },
        &fresh,
    )
    .await;
    let created = server
        .kms_client()
        .create_key()
        .send()
        .await
        .must("CreateKey");
    assert!(
        created
            .key_metadata()
            .unwrap()
            .arn()
            .unwrap()
            .starts_with("arn:aws:kms:us-east-1:444455556666:key/"),
        "{created:?}"
    );
}
