//! CreateKey / DescribeKey / ListKeys / UpdateKeyDescription / EnableKey /
//! DisableKey, and key resolution errors (kms-api.md §2.1, §5, §14 items 4, 10, 12).

// CustomerMasterKeySpec is deprecated in the SDK, but AWS still returns it and clients still read it.
#![allow(deprecated)]

use aws_sdk_kms::types::{
    CustomerMasterKeySpec, EncryptionAlgorithmSpec, KeyManagerType, KeyMetadata, KeySpec, KeyState,
    KeyUsageType, OriginType,
};

use crate::aws_error::{assert_failure, assert_failure_code};
use crate::fixtures::{
    create_key, describe_key, drain_pages, is_hex64, is_uuid, key_arn, unix_now, Must, Present,
};
use crate::harness::{ServerOptions, TestServer, ACCOUNT_ID};

/// The metadata AWS returns for a new symmetric key (kms-api.md §2.1, "Observed").
#[track_caller]
fn assert_new_symmetric_key(metadata: &KeyMetadata) {
    let key_id = metadata.key_id();
    assert!(is_uuid(key_id), "KeyId {key_id:?} is not a lower-case UUID");
    assert_eq!(metadata.arn(), Some(key_arn(key_id).as_str()), "Arn");
    assert_eq!(metadata.aws_account_id(), Some(ACCOUNT_ID), "AWSAccountId");
    assert_eq!(metadata.key_state(), Some(&KeyState::Enabled), "KeyState");
    assert!(
        metadata.enabled(),
        "Enabled must be true for an Enabled key"
    );
    assert_eq!(
        metadata.key_usage(),
        Some(&KeyUsageType::EncryptDecrypt),
        "KeyUsage"
    );
    assert_eq!(
        metadata.key_spec(),
        Some(&KeySpec::SymmetricDefault),
        "KeySpec"
    );
    assert_eq!(
        metadata.customer_master_key_spec(),
        Some(&CustomerMasterKeySpec::SymmetricDefault),
        "CustomerMasterKeySpec"
    );
    assert_eq!(metadata.origin(), Some(&OriginType::AwsKms), "Origin");
    assert_eq!(
        metadata.key_manager(),
        Some(&KeyManagerType::Customer),
        "KeyManager"
    );
    assert_eq!(
        metadata.encryption_algorithms(),
        &[EncryptionAlgorithmSpec::SymmetricDefault],
        "EncryptionAlgorithms"
    );
    assert_eq!(metadata.multi_region(), Some(false), "MultiRegion");
    let material_id = metadata
        .current_key_material_id()
        .present("CurrentKeyMaterialId");
    assert!(
        is_hex64(material_id),
        "CurrentKeyMaterialId {material_id:?} is not 64 hex digits"
    );
    assert_eq!(
        metadata.deletion_date(),
        None,
        "DeletionDate only while PendingDeletion"
    );
    assert_eq!(
        metadata.valid_to(),
        None,
        "ValidTo is for imported material only"
    );
    assert_eq!(metadata.custom_key_store_id(), None, "CustomKeyStoreId");
    assert!(
        metadata.signing_algorithms().is_empty(),
        "SigningAlgorithms must be absent"
    );
    assert!(
        metadata.mac_algorithms().is_empty(),
        "MacAlgorithms must be absent"
    );
    let created = metadata
        .creation_date()
        .present("CreationDate")
        .as_secs_f64();
    let now = unix_now();
    assert!(
        (now - 3600.0..=now + 3600.0).contains(&created),
        "CreationDate {created} is not near now ({now})"
    );
}

#[tokio::test]
async fn create_key_returns_the_full_symmetric_key_metadata() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();

    let metadata = create_key(&kms).await;
    assert_new_symmetric_key(&metadata);
    assert_eq!(
        metadata.description(),
        Some(""),
        "Description defaults to \"\" and is always present"
    );

    // DescribeKey by ID and by ARN returns the same metadata, byte for byte.
    let key_id = metadata.key_id();
    assert_eq!(
        describe_key(&kms, key_id).await,
        metadata,
        "DescribeKey by key ID"
    );
    assert_eq!(
        describe_key(&kms, &key_arn(key_id)).await,
        metadata,
        "DescribeKey by key ARN"
    );

    // Every key gets its own ID and its own key material.
    let other = create_key(&kms).await;
    assert_ne!(other.key_id(), key_id);
    assert_ne!(
        other.current_key_material_id(),
        metadata.current_key_material_id()
    );
}

#[tokio::test]
async fn create_key_accepts_explicit_symmetric_parameters_and_a_description() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();

    let output = kms
        .create_key()
        .description("orders database key")
        .key_usage(KeyUsageType::EncryptDecrypt)
        .key_spec(KeySpec::SymmetricDefault)
        .origin(OriginType::AwsKms)
        .multi_region(false)
        .send()
        .await
        .must("CreateKey");
    let metadata = output.key_metadata().present("KeyMetadata");
    assert_new_symmetric_key(metadata);
    assert_eq!(metadata.description(), Some("orders database key"));

    // The deprecated CustomerMasterKeySpec member is an alias of KeySpec.
    let output = kms
        .create_key()
        .customer_master_key_spec(CustomerMasterKeySpec::SymmetricDefault)
        .send()
        .await
        .must("CreateKey with CustomerMasterKeySpec");
    assert_new_symmetric_key(output.key_metadata().present("KeyMetadata"));
}

#[tokio::test]
async fn create_key_rejects_a_description_over_8192_characters() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();

    let failure = assert_failure_code(
        kms.create_key().description("d".repeat(8193)).send().await,
        "ValidationException",
    );
    let message = failure.message.unwrap_or_default();
    assert!(
        message.starts_with("1 validation error detected: "),
        "message: {message}"
    );
    assert!(
        message.contains("at 'description' failed to satisfy constraint"),
        "message: {message}"
    );
    assert!(
        message.ends_with("Member must have length less than or equal to 8192"),
        "message: {message}"
    );

    let output = kms
        .create_key()
        .description("d".repeat(8192))
        .send()
        .await
        .must("CreateKey, 8192 chars");
    assert_eq!(
        output
            .key_metadata()
            .present("KeyMetadata")
            .description()
            .map(str::len),
        Some(8192)
    );
}

#[tokio::test]
async fn update_key_description_changes_only_the_description() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let before = create_key(&kms).await;
    let key_id = before.key_id();

    kms.update_key_description()
        .key_id(key_id)
        .description("rotated monthly")
        .send()
        .await
        .must("UpdateKeyDescription");
    let after = describe_key(&kms, key_id).await;
    assert_eq!(after.description(), Some("rotated monthly"));
    let mut expected = before.clone();
    expected.description = Some("rotated monthly".to_owned());
    assert_eq!(after, expected, "nothing but Description may change");

    // By ARN, and back to empty.
    kms.update_key_description()
        .key_id(key_arn(key_id))
        .description("")
        .send()
        .await
        .must("UpdateKeyDescription by ARN");
    assert_eq!(describe_key(&kms, key_id).await.description(), Some(""));
}

#[tokio::test]
async fn disable_and_enable_key_switch_state_and_enabled_flag() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();

    kms.disable_key()
        .key_id(&key_id)
        .send()
        .await
        .must("DisableKey");
    let disabled = describe_key(&kms, &key_id).await;
    assert_eq!(disabled.key_state(), Some(&KeyState::Disabled));
    assert!(!disabled.enabled(), "Enabled mirrors KeyState");

    // Idempotent (kms-api.md §2.1).
    kms.disable_key()
        .key_id(key_arn(&key_id))
        .send()
        .await
        .must("DisableKey again, by ARN");
    assert_eq!(
        describe_key(&kms, &key_id).await.key_state(),
        Some(&KeyState::Disabled)
    );

    kms.enable_key()
        .key_id(&key_id)
        .send()
        .await
        .must("EnableKey");
    let enabled = describe_key(&kms, &key_id).await;
    assert_eq!(enabled.key_state(), Some(&KeyState::Enabled));
    assert!(enabled.enabled());
    kms.enable_key()
        .key_id(&key_id)
        .send()
        .await
        .must("EnableKey again");
    assert_eq!(
        describe_key(&kms, &key_id).await.key_state(),
        Some(&KeyState::Enabled)
    );
}

#[tokio::test]
async fn list_keys_pages_through_every_key() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let mut created = Vec::new();
    for _ in 0..3 {
        created.push(create_key(&kms).await.key_id().to_owned());
    }

    let everything = kms.list_keys().send().await.must("ListKeys");
    assert!(!everything.truncated(), "3 keys fit in the default page");
    assert_eq!(everything.next_marker(), None);
    let mut listed: Vec<String> = everything
        .keys()
        .iter()
        .filter_map(|entry| entry.key_id().map(str::to_owned))
        .collect();
    listed.sort();
    let mut expected = created.clone();
    expected.sort();
    assert_eq!(
        listed, expected,
        "ListKeys lists exactly the keys of this fresh server"
    );
    for entry in everything.keys() {
        let key_id = entry.key_id().present("KeyListEntry.KeyId");
        assert_eq!(
            entry.key_arn(),
            Some(key_arn(key_id).as_str()),
            "KeyListEntry.KeyArn"
        );
    }

    let paged = drain_pages(1, |marker| {
        let kms = kms.clone();
        async move {
            let page = kms
                .list_keys()
                .limit(1)
                .set_marker(marker)
                .send()
                .await
                .must("ListKeys Limit=1");
            let ids: Vec<String> = page
                .keys()
                .iter()
                .filter_map(|entry| entry.key_id().map(str::to_owned))
                .collect();
            (ids, page.truncated(), page.next_marker().map(str::to_owned))
        }
    })
    .await;
    let mut paged_sorted = paged.clone();
    paged_sorted.sort();
    assert_eq!(
        paged_sorted, expected,
        "paging with Limit=1 returns each key exactly once: {paged:?}"
    );
}

#[tokio::test]
async fn unknown_and_malformed_key_ids_are_not_found() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    create_key(&kms).await;

    // kms-api.md §3 NotFoundException and §5 resolution order.
    assert_failure(
        kms.describe_key().key_id("fake-key-id").send().await,
        "NotFoundException",
        "Invalid keyId 'fake-key-id'",
    );
    let missing = "0b6bc3e4-4f63-4a7d-9b55-2f5d1c2c8f11";
    assert_failure(
        kms.describe_key().key_id(missing).send().await,
        "NotFoundException",
        &format!("Key '{}' does not exist", key_arn(missing)),
    );
    assert_failure(
        kms.describe_key().key_id(key_arn(missing)).send().await,
        "NotFoundException",
        &format!("Key '{}' does not exist", key_arn(missing)),
    );
    assert_failure(
        kms.describe_key()
            .key_id(format!("arn:aws:kms:us-west-2:{ACCOUNT_ID}:key/{missing}"))
            .send()
            .await,
        "NotFoundException",
        "Invalid arn us-west-2",
    );
    assert_failure_code(
        kms.describe_key()
            .key_id("alias/never-created")
            .send()
            .await,
        "NotFoundException",
    );
    assert_failure(
        kms.enable_key().key_id(missing).send().await,
        "NotFoundException",
        &format!("Key '{}' does not exist", key_arn(missing)),
    );
}

#[tokio::test]
async fn list_keys_validates_limit_and_marker() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    create_key(&kms).await;

    assert_failure(
        kms.list_keys().limit(0).send().await,
        "ValidationException",
        "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
    assert_failure(
        kms.list_keys().limit(1001).send().await,
        "ValidationException",
        "1 validation error detected: Value '1001' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 1000",
    );
    assert_failure_code(
        kms.list_keys()
            .marker("not-a-marker-keyward-issued")
            .send()
            .await,
        "InvalidMarkerException",
    );
    let page = kms
        .list_keys()
        .limit(1000)
        .send()
        .await
        .must("ListKeys Limit=1000");
    assert_eq!(page.keys().len(), 1);
}
