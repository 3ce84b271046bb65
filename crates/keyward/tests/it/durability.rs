//! Restarting the server on the same data directory, after SIGTERM and after
//! SIGKILL, keeps every acknowledged key, alias, tag, policy and rotation, and
//! every old ciphertext still decrypts (PRODUCT.md "Reliability").

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt;

use aws_sdk_kms::types::{AliasListEntry, KeyMetadata, Tag};

use crate::fixtures::{context, create_key, decrypt, encrypt, key_arn, Must};
use crate::harness::{ServerOptions, TestServer, ACCOUNT_ID};

/// Everything the API shows about a set of keys, in a comparable form.
#[derive(Debug, PartialEq)]
struct Observed {
    metadata: Vec<KeyMetadata>,
    aliases: Vec<AliasListEntry>,
    tags: HashMap<String, Vec<(String, String)>>,
    policies: HashMap<String, String>,
    /// (KeyRotationEnabled, RotationPeriodInDays, NextRotationDate seconds).
    rotation_status: HashMap<String, (bool, Option<i32>, Option<i64>)>,
    /// KeyMaterialIds listed by ListKeyRotations, for keys that are Enabled.
    materials: HashMap<String, Vec<String>>,
}

async fn observe(kms: &aws_sdk_kms::Client) -> Observed {
    let listed = kms.list_keys().limit(1000).send().await.must("ListKeys");
    let mut key_ids: Vec<String> = listed
        .keys()
        .iter()
        .filter_map(|entry| entry.key_id().map(str::to_owned))
        .collect();
    key_ids.sort();

    let mut observed = Observed {
        metadata: Vec::new(),
        aliases: Vec::new(),
        tags: HashMap::new(),
        policies: HashMap::new(),
        rotation_status: HashMap::new(),
        materials: HashMap::new(),
    };
    for key_id in &key_ids {
        let metadata = crate::fixtures::describe_key(kms, key_id).await;
        let enabled = metadata.enabled();
        observed.metadata.push(metadata);

        let tags = kms
            .list_resource_tags()
            .key_id(key_id)
            .send()
            .await
            .must("ListResourceTags");
        let mut tags: Vec<(String, String)> = tags
            .tags()
            .iter()
            .map(|tag| (tag.tag_key().to_owned(), tag.tag_value().to_owned()))
            .collect();
        tags.sort();
        observed.tags.insert(key_id.clone(), tags);

        let policy = kms
            .get_key_policy()
            .key_id(key_id)
            .policy_name("default")
            .send()
            .await
            .must("GetKeyPolicy");
        observed.policies.insert(
            key_id.clone(),
            policy.policy().unwrap_or_default().to_owned(),
        );

        let status = kms
            .get_key_rotation_status()
            .key_id(key_id)
            .send()
            .await
            .must("GetKeyRotationStatus");
        observed.rotation_status.insert(
            key_id.clone(),
            (
                status.key_rotation_enabled(),
                status.rotation_period_in_days(),
                status.next_rotation_date().map(|date| date.secs()),
            ),
        );

        if enabled {
            let rotations = kms
                .list_key_rotations()
                .key_id(key_id)
                .send()
                .await
                .must("ListKeyRotations");
            let mut materials: Vec<String> = rotations
                .rotations()
                .iter()
                .filter_map(|entry| entry.key_material_id().map(str::to_owned))
                .collect();
            materials.sort();
            observed.materials.insert(key_id.clone(), materials);
        }
    }
    let aliases = kms
        .list_aliases()
        .limit(100)
        .send()
        .await
        .must("ListAliases");
    let mut aliases = aliases.aliases().to_vec();
    aliases.sort_by(|left, right| left.alias_name().cmp(&right.alias_name()));
    observed.aliases = aliases;
    observed
}

/// A ciphertext the test made, with the context and plaintext to expect back.
struct Sealed {
    key_id: String,
    ciphertext: Vec<u8>,
    encryption_context: Option<HashMap<String, String>>,
    plaintext: Vec<u8>,
}

async fn assert_all_decrypt(kms: &aws_sdk_kms::Client, sealed: &[Sealed], when: &str) {
    for item in sealed {
        let (plaintext, key, _) =
            decrypt(kms, &item.ciphertext, item.encryption_context.clone()).await;
        assert_eq!(
            plaintext, item.plaintext,
            "{when}: plaintext of a ciphertext under {}",
            item.key_id
        );
        assert_eq!(key, key_arn(&item.key_id), "{when}");
    }
}

#[tokio::test]
async fn everything_survives_a_graceful_restart_and_a_sigkill() {
    let mut server = TestServer::start(ServerOptions::signed()).await;
    let credentials = server.admin_credentials();
    let kms = server.kms_client();
    let mut sealed = Vec::new();

    // Key A: description, tags, alias, custom policy, rotation (automatic + one on demand).
    let key_a = kms
        .create_key()
        .description("durable key")
        .tags(
            Tag::builder()
                .tag_key("team")
                .tag_value("storage")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .must("CreateKey A")
        .key_metadata()
        .unwrap()
        .key_id()
        .to_owned();
    kms.create_alias()
        .alias_name("alias/durable-a")
        .target_key_id(&key_a)
        .send()
        .await
        .must("CreateAlias A");
    kms.tag_resource()
        .key_id(&key_a)
        .tags(
            Tag::builder()
                .tag_key("env")
                .tag_value("test")
                .build()
                .unwrap(),
        )
        .send()
        .await
        .must("TagResource A");
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Id": "durable",
        "Statement": [{
            "Sid": "Account",
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:aws:iam::{ACCOUNT_ID}:root")},
            "Action": "kms:*",
            "Resource": "*"
        }]
    });
    kms.put_key_policy()
        .key_id(&key_a)
        .policy_name("default")
        .policy(policy.to_string())
        .send()
        .await
        .must("PutKeyPolicy");
    kms.enable_key_rotation()
        .key_id(&key_a)
        .rotation_period_in_days(180)
        .send()
        .await
        .must("EnableKeyRotation A");
    let bound = context(&[("table", "orders")]);
    sealed.push(Sealed {
        key_id: key_a.clone(),
        ciphertext: encrypt(&kms, &key_a, b"before rotation", Some(bound.clone())).await,
        encryption_context: Some(bound.clone()),
        plaintext: b"before rotation".to_vec(),
    });
    kms.rotate_key_on_demand()
        .key_id(&key_a)
        .send()
        .await
        .must("RotateKeyOnDemand A");
    sealed.push(Sealed {
        key_id: key_a.clone(),
        ciphertext: encrypt(&kms, "alias/durable-a", b"after rotation", None).await,
        encryption_context: None,
        plaintext: b"after rotation".to_vec(),
    });
    let data_key = kms
        .generate_data_key()
        .key_id(&key_a)
        .number_of_bytes(32)
        .send()
        .await
        .must("GenerateDataKey A");
    sealed.push(Sealed {
        key_id: key_a.clone(),
        ciphertext: data_key.ciphertext_blob().unwrap().as_ref().to_vec(),
        encryption_context: None,
        plaintext: data_key.plaintext().unwrap().as_ref().to_vec(),
    });

    // Key B: disabled, with an alias and a ciphertext made while enabled.
    let key_b = create_key(&kms).await.key_id().to_owned();
    kms.create_alias()
        .alias_name("alias/durable-b")
        .target_key_id(&key_b)
        .send()
        .await
        .must("CreateAlias B");
    let b_ciphertext = encrypt(&kms, &key_b, b"disabled later", None).await;
    kms.disable_key()
        .key_id(&key_b)
        .send()
        .await
        .must("DisableKey B");

    // Key C: pending deletion.
    let key_c = create_key(&kms).await.key_id().to_owned();
    kms.schedule_key_deletion()
        .key_id(&key_c)
        .pending_window_in_days(7)
        .send()
        .await
        .must("ScheduleKeyDeletion C");

    let before = observe(&kms).await;
    assert_eq!(before.metadata.len(), 3);

    // 1. SIGTERM: graceful shutdown with exit code 0, then the same data dir again.
    server.restart().await;
    assert_eq!(
        server.admin_credentials(),
        credentials,
        "admin-credentials rewritten on restart"
    );
    let kms = server.kms_client();
    let after_restart = observe(&kms).await;
    assert_eq!(after_restart, before, "state after SIGTERM + restart");
    assert_all_decrypt(&kms, &sealed, "after SIGTERM + restart").await;
    kms.enable_key()
        .key_id(&key_b)
        .send()
        .await
        .must("EnableKey B");
    let (plaintext, _, _) = decrypt(&kms, &b_ciphertext, None).await;
    assert_eq!(plaintext, b"disabled later");
    kms.disable_key()
        .key_id(&key_b)
        .send()
        .await
        .must("DisableKey B");

    // 2. SIGKILL right after acknowledged writes: none of them may be lost.
    let key_d = create_key(&kms).await.key_id().to_owned();
    kms.create_alias()
        .alias_name("alias/last-second")
        .target_key_id(&key_d)
        .send()
        .await
        .must("CreateAlias D");
    sealed.push(Sealed {
        key_id: key_d.clone(),
        ciphertext: encrypt(&kms, &key_d, b"acknowledged", None).await,
        encryption_context: None,
        plaintext: b"acknowledged".to_vec(),
    });
    kms.rotate_key_on_demand()
        .key_id(&key_a)
        .send()
        .await
        .must("RotateKeyOnDemand A again");
    sealed.push(Sealed {
        key_id: key_a.clone(),
        ciphertext: encrypt(&kms, &key_a, b"third material", None).await,
        encryption_context: None,
        plaintext: b"third material".to_vec(),
    });
    let before_kill = observe(&kms).await;
    assert_eq!(before_kill.metadata.len(), 4);

    let status = server.kill9().await;
    assert_eq!(
        status.signal(),
        Some(9),
        "the server should have died of SIGKILL: {status}"
    );
    server.start_again().await;
    assert_eq!(
        server.admin_credentials(),
        credentials,
        "admin-credentials rewritten after SIGKILL"
    );
    let kms = server.kms_client();
    let after_kill = observe(&kms).await;
    assert_eq!(after_kill, before_kill, "state after SIGKILL + restart");
    assert_all_decrypt(&kms, &sealed, "after SIGKILL + restart").await;

    // The restarted server keeps working normally.
    let fresh = create_key(&kms).await;
    assert_ne!(fresh.key_id(), key_d);
    let (plaintext, _, _) = decrypt(
        &kms,
        &encrypt(&kms, fresh.key_id(), b"new life", None).await,
        None,
    )
    .await;
    assert_eq!(plaintext, b"new life");
    let status = server.stop().await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[tokio::test]
async fn a_restarted_dev_server_keeps_its_keys() {
    let mut server = TestServer::start(ServerOptions::dev()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let ciphertext = encrypt(&kms, &key_id, b"dev data", None).await;

    let status = server.kill9().await;
    assert!(!status.success());
    server.start_again().await;
    let kms = server.kms_client_with("AKIAANYONE", "anything");
    let (plaintext, key, _) = decrypt(&kms, &ciphertext, None).await;
    assert_eq!(
        (plaintext.as_slice(), key),
        (b"dev data".as_slice(), key_arn(&key_id))
    );
}

/// What a load worker got acknowledged before the server died.
enum Acknowledged {
    Key(String),
    Ciphertext(Sealed),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_a_sigkill_under_load() {
    let mut server = TestServer::start(ServerOptions::signed()).await;
    let (ack_tx, mut ack_rx) = tokio::sync::mpsc::unbounded_channel();
    // Set just before the kill: a failure before it fails the test; after it,
    // failures are the kill's doing and end the worker.
    let killing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..4 {
        let kms = server.kms_client();
        let ack_tx = ack_tx.clone();
        let killing = std::sync::Arc::clone(&killing);
        workers.push(tokio::spawn(async move {
            let failed = |what: &str, err: &dyn std::fmt::Debug| -> Result<(), String> {
                if killing.load(std::sync::atomic::Ordering::SeqCst) {
                    Ok(())
                } else {
                    Err(format!(
                        "worker {worker}: {what} failed before the kill: {err:?}"
                    ))
                }
            };
            // Runs until the server is killed under it.
            for n in 0.. {
                let created = match kms.create_key().send().await {
                    Ok(created) => created,
                    Err(err) => return failed("CreateKey", &err),
                };
                let Some(metadata) = created.key_metadata() else {
                    return Err(format!("worker {worker}: CreateKey without KeyMetadata"));
                };
                let key_id = metadata.key_id().to_owned();
                let _ = ack_tx.send(Acknowledged::Key(key_id.clone()));
                let plaintext = format!("worker {worker} item {n}").into_bytes();
                let encrypted = match kms
                    .encrypt()
                    .key_id(&key_id)
                    .plaintext(aws_sdk_kms::primitives::Blob::new(plaintext.clone()))
                    .send()
                    .await
                {
                    Ok(encrypted) => encrypted,
                    Err(err) => return failed("Encrypt", &err),
                };
                let Some(ciphertext) = encrypted.ciphertext_blob() else {
                    return Err(format!("worker {worker}: Encrypt without CiphertextBlob"));
                };
                let _ = ack_tx.send(Acknowledged::Ciphertext(Sealed {
                    key_id,
                    ciphertext: ciphertext.as_ref().to_vec(),
                    encryption_context: None,
                    plaintext,
                }));
            }
            Ok(())
        }));
    }
    drop(ack_tx);

    // Kill while the workers are still writing.
    let mut keys = Vec::new();
    let mut sealed = Vec::new();
    while keys.len() < 40 {
        match ack_rx.recv().await {
            Some(Acknowledged::Key(key_id)) => keys.push(key_id),
            Some(Acknowledged::Ciphertext(item)) => sealed.push(item),
            None => {
                // Every worker ended: one of them failed before the kill.
                for worker in workers {
                    if let Ok(Err(failure)) = worker.await {
                        panic!("{failure}");
                    }
                }
                panic!("all load workers stopped before the kill")
            }
        }
    }
    killing.store(true, std::sync::atomic::Ordering::SeqCst);
    let status = server.kill9().await;
    assert_eq!(status.signal(), Some(9), "{status}");
    for worker in workers {
        match worker.await {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => panic!("{failure}"),
            Err(err) => panic!("a load worker panicked: {err}"),
        }
    }
    while let Ok(ack) = ack_rx.try_recv() {
        match ack {
            Acknowledged::Key(key_id) => keys.push(key_id),
            Acknowledged::Ciphertext(item) => sealed.push(item),
        }
    }

    server.start_again().await;
    let kms = server.kms_client();
    let listed = kms.list_keys().limit(1000).send().await.must("ListKeys");
    let listed: Vec<&str> = listed
        .keys()
        .iter()
        .filter_map(|entry| entry.key_id())
        .collect();
    for key_id in &keys {
        assert!(
            listed.contains(&key_id.as_str()),
            "acknowledged key {key_id} lost by SIGKILL ({} acknowledged, {} listed)",
            keys.len(),
            listed.len()
        );
    }
    assert_all_decrypt(&kms, &sealed, "after SIGKILL under load").await;
}

#[tokio::test]
async fn a_second_server_refuses_a_data_directory_in_use() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();

    let second = server.run_second_instance().await;
    let stdout = String::from_utf8_lossy(&second.stdout);
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        !second.status.success(),
        "a second server on the same data dir exited successfully\nstdout: {stdout}\nstderr: {stderr}"
    );
    assert!(
        !stdout.contains("keyward listening on"),
        "the second server started listening: {stdout}"
    );
    assert!(
        stderr.contains(&server.data_dir().display().to_string()),
        "the refusal should name the data directory: {stderr}"
    );

    // The first server is unaffected.
    let (plaintext, _, _) = decrypt(
        &kms,
        &encrypt(&kms, &key_id, b"still mine", None).await,
        None,
    )
    .await;
    assert_eq!(plaintext, b"still mine");
}
