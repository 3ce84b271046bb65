//! CreateAlias / UpdateAlias / DeleteAlias / ListAliases, and aliases as KeyId
//! in cryptographic operations (kms-api.md §2.3, §5, §14 items 4 and 19).

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::AliasListEntry;

use crate::aws_error::{assert_failure, assert_failure_code};
use crate::fixtures::{
    alias_arn, blob_bytes, create_key, decrypt, describe_key, drain_pages, encrypt, key_arn, Must,
    Present,
};
use crate::harness::{ServerOptions, TestServer};

async fn create_alias(kms: &aws_sdk_kms::Client, alias_name: &str, target_key_id: &str) {
    kms.create_alias()
        .alias_name(alias_name)
        .target_key_id(target_key_id)
        .send()
        .await
        .must("CreateAlias");
}

async fn aliases_of(kms: &aws_sdk_kms::Client, key_ref: &str) -> Vec<AliasListEntry> {
    let output = kms
        .list_aliases()
        .key_id(key_ref)
        .send()
        .await
        .must("ListAliases KeyId");
    assert!(!output.truncated());
    output.aliases().to_vec()
}

fn names(entries: &[AliasListEntry]) -> Vec<String> {
    let mut names: Vec<String> = entries
        .iter()
        .filter_map(|entry| entry.alias_name().map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn alias_names_and_alias_arns_work_as_key_ids() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let metadata = create_key(&kms).await;
    let key_id = metadata.key_id().to_owned();
    let other = create_key(&kms).await.key_id().to_owned();
    create_alias(&kms, "alias/app-key", &key_id).await;
    create_alias(&kms, "alias/other-key", &key_arn(&other)).await;

    for key_ref in ["alias/app-key".to_owned(), alias_arn("alias/app-key")] {
        assert_eq!(
            describe_key(&kms, &key_ref).await,
            metadata,
            "DescribeKey {key_ref}"
        );

        let encrypted = kms
            .encrypt()
            .key_id(&key_ref)
            .plaintext(Blob::new(b"via alias"))
            .send()
            .await
            .must("Encrypt via alias");
        assert_eq!(
            encrypted.key_id(),
            Some(key_arn(&key_id).as_str()),
            "Encrypt via {key_ref} names the key ARN"
        );
        let ciphertext = blob_bytes(encrypted.ciphertext_blob(), "CiphertextBlob");
        let (plaintext, returned_key, _) = decrypt(&kms, &ciphertext, None).await;
        assert_eq!(
            (plaintext.as_slice(), returned_key.as_str()),
            (b"via alias".as_slice(), key_arn(&key_id).as_str())
        );

        // Decrypt accepts the alias as KeyId; an alias of another key is an incorrect key.
        let output = kms
            .decrypt()
            .key_id(&key_ref)
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .send()
            .await
            .must("Decrypt with alias KeyId");
        assert_eq!(blob_bytes(output.plaintext(), "Plaintext"), b"via alias");
        assert_failure(
            kms.decrypt()
                .key_id("alias/other-key")
                .ciphertext_blob(Blob::new(ciphertext))
                .send()
                .await,
            "IncorrectKeyException",
            "The key ID in the request does not identify a CMK that can perform this operation.",
        );

        let data_key = kms
            .generate_data_key()
            .key_id(&key_ref)
            .number_of_bytes(32)
            .send()
            .await
            .must("GenerateDataKey");
        assert_eq!(data_key.key_id(), Some(key_arn(&key_id).as_str()));
        let without = kms
            .generate_data_key_without_plaintext()
            .key_id(&key_ref)
            .number_of_bytes(32)
            .send()
            .await
            .must("GenerateDataKeyWithoutPlaintext");
        assert_eq!(without.key_id(), Some(key_arn(&key_id).as_str()));
    }

    // ReEncrypt to an alias destination.
    let ciphertext = encrypt(&kms, &key_id, b"hop", None).await;
    let output = kms
        .re_encrypt()
        .ciphertext_blob(Blob::new(ciphertext))
        .destination_key_id(alias_arn("alias/other-key"))
        .send()
        .await
        .must("ReEncrypt to alias ARN");
    assert_eq!(output.key_id(), Some(key_arn(&other).as_str()));
    assert_eq!(output.source_key_id(), Some(key_arn(&key_id).as_str()));
}

#[tokio::test]
async fn list_aliases_filters_by_key_and_pages() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_a = create_key(&kms).await.key_id().to_owned();
    let key_b = create_key(&kms).await.key_id().to_owned();
    let a_names = ["alias/a-one", "alias/a-three", "alias/a-two"];
    for name in a_names {
        create_alias(&kms, name, &key_a).await;
    }
    create_alias(&kms, "alias/b-only", &key_b).await;

    for key_ref in [key_a.clone(), key_arn(&key_a)] {
        let entries = aliases_of(&kms, &key_ref).await;
        assert_eq!(names(&entries), a_names, "ListAliases KeyId={key_ref}");
        for entry in &entries {
            let name = entry.alias_name().present("AliasName");
            assert_eq!(
                entry.alias_arn(),
                Some(alias_arn(name).as_str()),
                "AliasArn of {name}"
            );
            assert_eq!(
                entry.target_key_id(),
                Some(key_a.as_str()),
                "TargetKeyId is the bare key ID"
            );
            let created = entry.creation_date().present("CreationDate");
            let updated = entry.last_updated_date().present("LastUpdatedDate");
            assert!(
                updated.as_secs_f64() >= created.as_secs_f64(),
                "LastUpdatedDate before CreationDate"
            );
        }
    }
    assert_eq!(names(&aliases_of(&kms, &key_b).await), ["alias/b-only"]);

    // Unfiltered, one alias per page until Truncated is false.
    let paged = drain_pages(1, |marker| {
        let kms = kms.clone();
        async move {
            let page = kms
                .list_aliases()
                .limit(1)
                .set_marker(marker)
                .send()
                .await
                .must("ListAliases Limit=1");
            (
                page.aliases().to_vec(),
                page.truncated(),
                page.next_marker().map(str::to_owned),
            )
        }
    })
    .await;
    let paged_names = names(&paged);
    let mut expected: Vec<String> = [
        "alias/a-one",
        "alias/a-three",
        "alias/a-two",
        "alias/b-only",
    ]
    .map(String::from)
    .to_vec();
    // AWS-managed aliases (alias/aws/...) may be listed too; ours must each appear exactly once.
    let ours: Vec<String> = paged_names
        .iter()
        .filter(|name| !name.starts_with("alias/aws/"))
        .cloned()
        .collect();
    expected.sort();
    assert_eq!(ours, expected, "aliases seen while paging: {paged_names:?}");

    // Paging with a KeyId filter, two per page.
    let filtered = drain_pages(2, |marker| {
        let kms = kms.clone();
        let key_a = key_a.clone();
        async move {
            let page = kms
                .list_aliases()
                .key_id(key_a)
                .limit(2)
                .set_marker(marker)
                .send()
                .await
                .must("ListAliases KeyId Limit=2");
            (
                page.aliases().to_vec(),
                page.truncated(),
                page.next_marker().map(str::to_owned),
            )
        }
    })
    .await;
    assert_eq!(names(&filtered), a_names);
}

#[tokio::test]
async fn update_alias_points_the_alias_at_another_key() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_a = create_key(&kms).await.key_id().to_owned();
    let key_b = create_key(&kms).await.key_id().to_owned();
    create_alias(&kms, "alias/current", &key_a).await;
    let ciphertext_a = encrypt(&kms, "alias/current", b"under a", None).await;

    kms.update_alias()
        .alias_name("alias/current")
        .target_key_id(&key_b)
        .send()
        .await
        .must("UpdateAlias");
    let encrypted = kms
        .encrypt()
        .key_id("alias/current")
        .plaintext(Blob::new(b"under b"))
        .send()
        .await
        .must("Encrypt");
    assert_eq!(
        encrypted.key_id(),
        Some(key_arn(&key_b).as_str()),
        "the alias now resolves to key B"
    );
    assert!(
        aliases_of(&kms, &key_a).await.is_empty(),
        "key A lost the alias"
    );
    let entries = aliases_of(&kms, &key_b).await;
    assert_eq!(names(&entries), ["alias/current"]);
    assert_eq!(entries[0].target_key_id(), Some(key_b.as_str()));

    // Old ciphertexts still name key A and decrypt.
    let (plaintext, returned_key, _) = decrypt(&kms, &ciphertext_a, None).await;
    assert_eq!(
        (plaintext.as_slice(), returned_key),
        (b"under a".as_slice(), key_arn(&key_a))
    );

    // UpdateAlias by target ARN, back to A.
    kms.update_alias()
        .alias_name("alias/current")
        .target_key_id(key_arn(&key_a))
        .send()
        .await
        .must("UpdateAlias ARN");
    assert_eq!(describe_key(&kms, "alias/current").await.key_id(), key_a);
}

#[tokio::test]
async fn delete_alias_leaves_the_key_alone() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    create_alias(&kms, "alias/short-lived", &key_id).await;
    let ciphertext = encrypt(&kms, "alias/short-lived", b"kept", None).await;

    kms.delete_alias()
        .alias_name("alias/short-lived")
        .send()
        .await
        .must("DeleteAlias");
    assert!(aliases_of(&kms, &key_id).await.is_empty());
    assert_failure_code(
        kms.describe_key().key_id("alias/short-lived").send().await,
        "NotFoundException",
    );
    assert_failure_code(
        kms.encrypt()
            .key_id("alias/short-lived")
            .plaintext(Blob::new(b"x"))
            .send()
            .await,
        "NotFoundException",
    );
    assert_failure_code(
        kms.delete_alias()
            .alias_name("alias/short-lived")
            .send()
            .await,
        "NotFoundException",
    );

    let (plaintext, _, _) = decrypt(&kms, &ciphertext, None).await;
    assert_eq!(plaintext, b"kept");
    // The name is free again.
    create_alias(&kms, "alias/short-lived", &key_id).await;
}

#[tokio::test]
async fn create_alias_rejects_duplicates_bad_names_and_unknown_keys() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let other = create_key(&kms).await.key_id().to_owned();
    create_alias(&kms, "alias/taken", &key_id).await;

    assert_failure(
        kms.create_alias()
            .alias_name("alias/taken")
            .target_key_id(&other)
            .send()
            .await,
        "AlreadyExistsException",
        &format!(
            "An alias with the name {} already exists",
            alias_arn("alias/taken")
        ),
    );
    assert_eq!(
        describe_key(&kms, "alias/taken").await.key_id(),
        key_id,
        "a failed CreateAlias changes nothing"
    );

    assert_failure(
        kms.create_alias().alias_name("no-prefix").target_key_id(&key_id).send().await,
        "ValidationException",
        "Alias must start with the prefix \"alias/\". Please see https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html",
    );
    assert_failure_code(
        kms.create_alias()
            .alias_name("alias/has space")
            .target_key_id(&key_id)
            .send()
            .await,
        "ValidationException",
    );
    // alias/aws/ is reserved; AWS's exact code is not pinned down (kms-api.md §15), so only a 400 is required.
    let reserved = crate::aws_error::service_failure(
        kms.create_alias()
            .alias_name("alias/aws/s3")
            .target_key_id(&key_id)
            .send()
            .await,
    );
    assert_eq!(reserved.status, 400, "reserved alias: {reserved:?}");

    let missing = "0b6bc3e4-4f63-4a7d-9b55-2f5d1c2c8f11";
    assert_failure(
        kms.create_alias()
            .alias_name("alias/orphan")
            .target_key_id(missing)
            .send()
            .await,
        "NotFoundException",
        &format!("Key '{}' does not exist", key_arn(missing)),
    );
    assert_eq!(names(&aliases_of(&kms, &key_id).await), ["alias/taken"]);
}

#[tokio::test]
async fn alias_changes_follow_the_key_state_table() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let leaving = create_key(&kms).await.key_id().to_owned();
    let healthy = create_key(&kms).await.key_id().to_owned();
    let doomed = create_key(&kms).await.key_id().to_owned();
    create_alias(&kms, "alias/moving", &leaving).await;
    create_alias(&kms, "alias/dropped", &leaving).await;
    for key_id in [&leaving, &doomed] {
        kms.schedule_key_deletion()
            .key_id(key_id)
            .pending_window_in_days(7)
            .send()
            .await
            .must("ScheduleKeyDeletion");
    }

    // kms-api.md §4 note 10: the source key may be pending deletion...
    kms.update_alias()
        .alias_name("alias/moving")
        .target_key_id(&healthy)
        .send()
        .await
        .must("UpdateAlias away from a key pending deletion");
    assert_eq!(describe_key(&kms, "alias/moving").await.key_id(), healthy);
    // ...the destination may not.
    assert_failure(
        kms.update_alias()
            .alias_name("alias/moving")
            .target_key_id(&doomed)
            .send()
            .await,
        "KMSInvalidStateException",
        &format!("{} is pending deletion.", key_arn(&doomed)),
    );
    assert_eq!(describe_key(&kms, "alias/moving").await.key_id(), healthy);

    // DeleteAlias works in every state.
    kms.delete_alias()
        .alias_name("alias/dropped")
        .send()
        .await
        .must("DeleteAlias of a key pending deletion");
    assert!(aliases_of(&kms, &leaving).await.is_empty());

    // A disabled key can get and lose aliases.
    kms.disable_key()
        .key_id(&healthy)
        .send()
        .await
        .must("DisableKey");
    create_alias(&kms, "alias/on-disabled", &healthy).await;
    assert_eq!(
        names(&aliases_of(&kms, &healthy).await),
        ["alias/moving", "alias/on-disabled"]
    );
}
