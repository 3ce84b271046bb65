//! Many clients at once: every call must succeed and every write must be
//! visible afterwards (the embedded store must not surface "database is
//! locked" or lose a write under contention).

use aws_sdk_kms::primitives::Blob;

use crate::fixtures::{blob_bytes, context, key_arn, Must, Present};
use crate::harness::{ServerOptions, TestServer};

const N_CLIENTS: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_clients_create_and_use_keys_without_errors() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let mut tasks = Vec::new();
    for n in 0..N_CLIENTS {
        // One client (connection pool) per task, like independent applications.
        let kms = server.kms_client();
        tasks.push(tokio::spawn(async move {
            let created = kms.create_key().send().await.must("CreateKey");
            let key_id = created
                .key_metadata()
                .present("KeyMetadata")
                .key_id()
                .to_owned();
            let alias = format!("alias/client-{n}");
            kms.create_alias()
                .alias_name(&alias)
                .target_key_id(&key_id)
                .send()
                .await
                .must("CreateAlias");
            let bound = context(&[("client", &n.to_string())]);
            let plaintext = format!("message from client {n}");
            let encrypted = kms
                .encrypt()
                .key_id(&alias)
                .plaintext(Blob::new(plaintext.as_bytes()))
                .set_encryption_context(Some(bound.clone()))
                .send()
                .await
                .must("Encrypt");
            let decrypted = kms
                .decrypt()
                .ciphertext_blob(Blob::new(blob_bytes(
                    encrypted.ciphertext_blob(),
                    "CiphertextBlob",
                )))
                .set_encryption_context(Some(bound))
                .send()
                .await
                .must("Decrypt");
            assert_eq!(
                blob_bytes(decrypted.plaintext(), "Plaintext"),
                plaintext.as_bytes()
            );
            assert_eq!(decrypted.key_id(), Some(key_arn(&key_id).as_str()));
            for _ in 0..5 {
                kms.generate_data_key()
                    .key_id(&key_id)
                    .number_of_bytes(32)
                    .send()
                    .await
                    .must("GenerateDataKey");
            }
            kms.tag_resource()
                .key_id(&key_id)
                .tags(
                    aws_sdk_kms::types::Tag::builder()
                        .tag_key("client")
                        .tag_value(n.to_string())
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .must("TagResource");
            key_id
        }));
    }
    let mut key_ids = Vec::new();
    for task in tasks {
        match task.await {
            Ok(key_id) => key_ids.push(key_id),
            Err(err) => panic!("a client task failed: {err}"),
        }
    }

    let kms = server.kms_client();
    let listed = kms.list_keys().send().await.must("ListKeys");
    assert_eq!(listed.keys().len(), N_CLIENTS);
    let aliases = kms.list_aliases().send().await.must("ListAliases");
    let ours = aliases
        .aliases()
        .iter()
        .filter(|entry| {
            entry
                .alias_name()
                .is_some_and(|name| name.starts_with("alias/client-"))
        })
        .count();
    assert_eq!(ours, N_CLIENTS);
    key_ids.sort();
    key_ids.dedup();
    assert_eq!(key_ids.len(), N_CLIENTS, "duplicate key IDs were issued");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_updates_to_one_key_are_all_applied() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = crate::fixtures::create_key(&kms).await.key_id().to_owned();

    // Twenty clients each add their own tag to the same key at once.
    let mut tasks = Vec::new();
    for n in 0..20 {
        let kms = server.kms_client();
        let key_id = key_id.clone();
        tasks.push(tokio::spawn(async move {
            kms.tag_resource()
                .key_id(&key_id)
                .tags(
                    aws_sdk_kms::types::Tag::builder()
                        .tag_key(format!("writer-{n:02}"))
                        .tag_value("x")
                        .build()
                        .unwrap(),
                )
                .send()
                .await
                .must("TagResource");
        }));
    }
    for task in tasks {
        if let Err(err) = task.await {
            panic!("a writer failed: {err}");
        }
    }
    let tags = kms
        .list_resource_tags()
        .key_id(&key_id)
        .send()
        .await
        .must("ListResourceTags");
    assert_eq!(tags.tags().len(), 20, "lost tag updates: {:?}", tags.tags());
}

/// Runs `n` copies of `call` at once and returns the error codes ("" for success).
async fn race<F, Fut>(n: usize, call: F) -> Vec<String>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let tasks: Vec<_> = (0..n).map(|i| tokio::spawn(call(i))).collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        match task.await {
            Ok(Ok(())) => outcomes.push(String::new()),
            Ok(Err(code)) => outcomes.push(code),
            Err(err) => panic!("a racing task panicked: {err}"),
        }
    }
    outcomes
}

fn error_code<E>(err: aws_sdk_kms::error::SdkError<E>) -> String
where
    E: aws_sdk_kms::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match err
        .as_service_error()
        .and_then(|service_error| service_error.code())
    {
        Some(code) => code.to_owned(),
        None => format!(
            "<not a service error: {}>",
            aws_sdk_kms::error::DisplayErrorContext(&err)
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_creators_of_one_alias_get_exactly_one_success() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let mut key_ids = Vec::new();
    for _ in 0..8 {
        key_ids.push(crate::fixtures::create_key(&kms).await.key_id().to_owned());
    }
    let clients: Vec<_> = (0..8).map(|_| server.kms_client()).collect();

    let outcomes = race(8, |i| {
        let kms = clients[i].clone();
        let key_id = key_ids[i].clone();
        async move {
            kms.create_alias()
                .alias_name("alias/contended")
                .target_key_id(key_id)
                .send()
                .await
                .map(|_| ())
                .map_err(error_code)
        }
    })
    .await;
    let n_won = outcomes.iter().filter(|code| code.is_empty()).count();
    assert_eq!(n_won, 1, "outcomes: {outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|code| code.is_empty() || code == "AlreadyExistsException"),
        "outcomes: {outcomes:?}"
    );
    let winner = outcomes
        .iter()
        .position(String::is_empty)
        .unwrap_or_default();
    let resolved = crate::fixtures::describe_key(&kms, "alias/contended").await;
    assert_eq!(
        resolved.key_id(),
        key_ids[winner],
        "the alias points at the winner's key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_on_demand_rotations_respect_the_limit_of_25() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = crate::fixtures::create_key(&kms).await.key_id().to_owned();
    let clients: Vec<_> = (0..30).map(|_| server.kms_client()).collect();

    let outcomes = race(30, |i| {
        let kms = clients[i].clone();
        let key_id = key_id.clone();
        async move {
            kms.rotate_key_on_demand()
                .key_id(key_id)
                .send()
                .await
                .map(|_| ())
                .map_err(error_code)
        }
    })
    .await;
    let n_rotated = outcomes.iter().filter(|code| code.is_empty()).count();
    assert_eq!(n_rotated, 25, "outcomes: {outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|code| code.is_empty() || code == "LimitExceededException"),
        "outcomes: {outcomes:?}"
    );
    let rotations = kms
        .list_key_rotations()
        .key_id(&key_id)
        .limit(1000)
        .send()
        .await
        .must("ListKeyRotations");
    assert_eq!(rotations.rotations().len(), 25);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn encryption_during_rotations_always_decrypts() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = crate::fixtures::create_key(&kms).await.key_id().to_owned();

    // Writers encrypt while another client rotates the key ten times.
    let rotator = {
        let kms = server.kms_client();
        let key_id = key_id.clone();
        tokio::spawn(async move {
            for _ in 0..10 {
                kms.rotate_key_on_demand()
                    .key_id(&key_id)
                    .send()
                    .await
                    .must("RotateKeyOnDemand");
            }
        })
    };
    let mut writers = Vec::new();
    for writer in 0..4 {
        let kms = server.kms_client();
        let key_id = key_id.clone();
        writers.push(tokio::spawn(async move {
            let mut sealed = Vec::new();
            for n in 0..10 {
                let plaintext = format!("writer {writer} message {n}");
                let output = kms
                    .encrypt()
                    .key_id(&key_id)
                    .plaintext(Blob::new(plaintext.as_bytes()))
                    .send()
                    .await
                    .must("Encrypt during rotation");
                sealed.push((
                    plaintext,
                    blob_bytes(output.ciphertext_blob(), "CiphertextBlob"),
                ));
            }
            sealed
        }));
    }
    if let Err(err) = rotator.await {
        panic!("the rotator failed: {err}");
    }
    let mut materials = std::collections::HashSet::new();
    for writer in writers {
        let sealed = match writer.await {
            Ok(sealed) => sealed,
            Err(err) => panic!("a writer failed: {err}"),
        };
        for (plaintext, ciphertext) in sealed {
            let (decrypted, _, material) = crate::fixtures::decrypt(&kms, &ciphertext, None).await;
            assert_eq!(decrypted, plaintext.as_bytes());
            materials.insert(material.present("Decrypt.KeyMaterialId"));
        }
    }
    assert!(!materials.is_empty());
}
