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
