//! ScheduleKeyDeletion / CancelKeyDeletion and the end of the waiting period,
//! driven by the dev clock (kms-api.md §4, §10, §14 item 11).

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeyState, Tag};

use crate::aws_error::{assert_failure, assert_failure_code, service_failure};
use crate::fixtures::{create_key, describe_key, encrypt, epoch, key_arn, Must, SECONDS_PER_DAY};
use crate::harness::{ServerOptions, TestServer};

#[tokio::test]
async fn schedule_then_cancel_leaves_the_key_disabled() {
    let server = TestServer::start(ServerOptions::dev()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let arn = key_arn(&key_id);
    kms.enable_key_rotation()
        .key_id(&key_id)
        .send()
        .await
        .must("EnableKeyRotation");

    let now = server.server_now().await;
    let scheduled = kms
        .schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .must("ScheduleKeyDeletion");
    assert_eq!(
        scheduled.key_id(),
        Some(arn.as_str()),
        "ScheduleKeyDeletion.KeyId is the key ARN"
    );
    assert_eq!(scheduled.key_state(), Some(&KeyState::PendingDeletion));
    assert_eq!(scheduled.pending_window_in_days(), Some(7));
    let deletion_date = epoch(scheduled.deletion_date(), "DeletionDate");
    let expected = now + 7.0 * SECONDS_PER_DAY as f64;
    assert!(
        (expected - 60.0..=expected + 60.0).contains(&deletion_date),
        "DeletionDate {deletion_date} should be request time {now} + 7 days"
    );

    let pending = describe_key(&kms, &key_id).await;
    assert_eq!(pending.key_state(), Some(&KeyState::PendingDeletion));
    assert!(!pending.enabled(), "a key pending deletion is not Enabled");
    assert_eq!(
        pending.deletion_date().map(|date| date.as_secs_f64()),
        Some(deletion_date),
        "DescribeKey.DeletionDate"
    );

    // kms-api.md §10: while pending, rotation reads false and most changes are refused.
    let status = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .must("GetKeyRotationStatus");
    assert!(
        !status.key_rotation_enabled(),
        "KeyRotationEnabled reads false while PendingDeletion"
    );
    let pending_message = format!("{arn} is pending deletion.");
    assert_failure(
        kms.schedule_key_deletion()
            .key_id(&key_id)
            .pending_window_in_days(7)
            .send()
            .await,
        "KMSInvalidStateException",
        &pending_message,
    );
    assert_failure(
        kms.enable_key().key_id(&key_id).send().await,
        "KMSInvalidStateException",
        &pending_message,
    );
    assert_failure(
        kms.disable_key().key_id(&key_id).send().await,
        "KMSInvalidStateException",
        &pending_message,
    );
    assert_failure(
        kms.update_key_description()
            .key_id(&key_id)
            .description("x")
            .send()
            .await,
        "KMSInvalidStateException",
        &pending_message,
    );
    assert_failure(
        kms.tag_resource()
            .key_id(&key_id)
            .tags(Tag::builder().tag_key("k").tag_value("v").build().unwrap())
            .send()
            .await,
        "KMSInvalidStateException",
        &pending_message,
    );
    assert_failure(
        kms.create_alias()
            .alias_name("alias/late")
            .target_key_id(&key_id)
            .send()
            .await,
        "KMSInvalidStateException",
        &pending_message,
    );
    // Still readable in every state.
    kms.get_key_policy()
        .key_id(&key_id)
        .policy_name("default")
        .send()
        .await
        .must("GetKeyPolicy while pending");
    kms.list_resource_tags()
        .key_id(&key_id)
        .send()
        .await
        .must("ListResourceTags while pending");

    let cancelled = kms
        .cancel_key_deletion()
        .key_id(&key_id)
        .send()
        .await
        .must("CancelKeyDeletion");
    assert_eq!(
        cancelled.key_id(),
        Some(arn.as_str()),
        "CancelKeyDeletion.KeyId is the key ARN"
    );
    let after = describe_key(&kms, &key_id).await;
    assert_eq!(
        after.key_state(),
        Some(&KeyState::Disabled),
        "CancelKeyDeletion leaves the key Disabled"
    );
    assert!(!after.enabled());
    assert_eq!(after.deletion_date(), None, "DeletionDate is removed");
    let status = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .must("GetKeyRotationStatus");
    assert!(
        status.key_rotation_enabled(),
        "CancelKeyDeletion restores the rotation status"
    );

    assert_failure(
        kms.cancel_key_deletion().key_id(&key_id).send().await,
        "KMSInvalidStateException",
        &format!("{arn} is not pending deletion."),
    );

    // Cancelled keys are not deleted when the old date passes.
    server.advance_clock(8 * SECONDS_PER_DAY).await;
    assert_eq!(
        describe_key(&kms, &key_id).await.key_state(),
        Some(&KeyState::Disabled)
    );
}

#[tokio::test]
async fn schedule_key_deletion_accepts_windows_of_7_to_30_days() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();

    let key_id = create_key(&kms).await.key_id().to_owned();
    let scheduled = kms
        .schedule_key_deletion()
        .key_id(&key_id)
        .send()
        .await
        .must("ScheduleKeyDeletion default");
    assert_eq!(
        scheduled.pending_window_in_days(),
        Some(30),
        "the default window is 30 days"
    );

    let key_id = create_key(&kms).await.key_id().to_owned();
    for days in [6, 31] {
        assert_failure_code(
            kms.schedule_key_deletion()
                .key_id(&key_id)
                .pending_window_in_days(days)
                .send()
                .await,
            "ValidationException",
        );
    }
    assert_eq!(
        describe_key(&kms, &key_id).await.key_state(),
        Some(&KeyState::Enabled),
        "a rejected schedule changes nothing"
    );
    let scheduled = kms
        .schedule_key_deletion()
        .key_id(key_arn(&key_id))
        .pending_window_in_days(30)
        .send()
        .await
        .must("30 days");
    assert_eq!(scheduled.pending_window_in_days(), Some(30));

    // A Disabled key can be scheduled too.
    let disabled = create_key(&kms).await.key_id().to_owned();
    kms.disable_key()
        .key_id(&disabled)
        .send()
        .await
        .must("DisableKey");
    let scheduled = kms
        .schedule_key_deletion()
        .key_id(&disabled)
        .pending_window_in_days(7)
        .send()
        .await
        .must("7 days");
    assert_eq!(scheduled.key_state(), Some(&KeyState::PendingDeletion));
}

#[tokio::test]
async fn a_key_is_gone_once_the_waiting_period_ends() {
    let server = TestServer::start(ServerOptions::dev()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let survivor = create_key(&kms).await.key_id().to_owned();
    kms.create_alias()
        .alias_name("alias/doomed")
        .target_key_id(&key_id)
        .send()
        .await
        .must("CreateAlias");
    kms.create_alias()
        .alias_name("alias/survivor")
        .target_key_id(&survivor)
        .send()
        .await
        .must("CreateAlias");
    let ciphertext = encrypt(&kms, &key_id, b"last words", None).await;
    let survivor_ciphertext = encrypt(&kms, &survivor, b"still here", None).await;

    // Schedule, cancel, schedule again: the second schedule is the one that counts.
    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .must("ScheduleKeyDeletion");
    kms.cancel_key_deletion()
        .key_id(&key_id)
        .send()
        .await
        .must("CancelKeyDeletion");
    server.advance_clock(3 * SECONDS_PER_DAY).await;
    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .must("ScheduleKeyDeletion again");

    server.advance_clock(6 * SECONDS_PER_DAY).await;
    assert_eq!(
        describe_key(&kms, &key_id).await.key_state(),
        Some(&KeyState::PendingDeletion),
        "deleted before its 7-day window ended"
    );

    server.advance_clock(2 * SECONDS_PER_DAY).await;
    let arn = key_arn(&key_id);
    assert_failure(
        kms.describe_key().key_id(&key_id).send().await,
        "NotFoundException",
        &format!("Key '{arn}' does not exist"),
    );
    assert_failure_code(
        kms.describe_key().key_id("alias/doomed").send().await,
        "NotFoundException",
    );
    assert_failure_code(
        kms.cancel_key_deletion().key_id(&key_id).send().await,
        "NotFoundException",
    );
    assert_failure_code(
        kms.encrypt()
            .key_id(&arn)
            .plaintext(Blob::new(b"x"))
            .send()
            .await,
        "NotFoundException",
    );

    // Its aliases went with it; it is no longer listed; its ciphertexts are dead.
    let keys = kms.list_keys().send().await.must("ListKeys");
    let listed: Vec<&str> = keys
        .keys()
        .iter()
        .filter_map(|entry| entry.key_id())
        .collect();
    assert_eq!(listed, [survivor.as_str()]);
    let aliases = kms.list_aliases().send().await.must("ListAliases");
    let alias_names: Vec<&str> = aliases
        .aliases()
        .iter()
        .filter_map(|entry| entry.alias_name())
        .collect();
    assert!(
        !alias_names.contains(&"alias/doomed"),
        "alias of a deleted key still listed: {alias_names:?}"
    );
    assert!(alias_names.contains(&"alias/survivor"), "{alias_names:?}");
    let failure = service_failure(
        kms.decrypt()
            .ciphertext_blob(Blob::new(ciphertext))
            .send()
            .await,
    );
    assert_eq!(
        failure.status, 400,
        "Decrypt under a deleted key: {failure:?}"
    );

    // The other key is untouched.
    let output = kms
        .decrypt()
        .ciphertext_blob(Blob::new(survivor_ciphertext))
        .send()
        .await
        .must("Decrypt survivor");
    assert_eq!(
        output.plaintext().map(|blob| blob.as_ref().to_vec()),
        Some(b"still here".to_vec())
    );
    // The alias name is free again.
    kms.create_alias()
        .alias_name("alias/doomed")
        .target_key_id(&survivor)
        .send()
        .await
        .must("CreateAlias reuse");
}

#[tokio::test]
async fn describe_key_shows_a_single_region_deletion_schedule_in_deletion_date_only() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .must("ScheduleKeyDeletion");

    let pending = describe_key(&kms, &key_id).await;
    assert!(pending.deletion_date().is_some(), "DeletionDate");
    // The API model: PendingDeletionWindowInDays "is present only when the
    // KeyState of the KMS key is PendingReplicaDeletion" (a multi-Region primary
    // waiting for its replicas); a single-Region key shows DeletionDate alone.
    assert_eq!(
        pending.pending_deletion_window_in_days(),
        None,
        "PendingDeletionWindowInDays on a single-Region key"
    );
}
