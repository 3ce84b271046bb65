//! EnableKeyRotation / DisableKeyRotation / GetKeyRotationStatus /
//! RotateKeyOnDemand / ListKeyRotations, and automatic rotation driven by the
//! dev clock (kms-api.md §2.6, §9, §14 item 18).

use aws_sdk_kms::types::{IncludeKeyMaterial, KeyMaterialState, RotationType, RotationsListEntry};

use crate::aws_error::{assert_failure, assert_failure_code};
use crate::fixtures::{
    assert_names_key, context, create_key, current_key_material_id, decrypt, drain_pages, encrypt,
    epoch, is_hex64, key_arn, Must, Present, SECONDS_PER_DAY,
};
use crate::harness::{ServerOptions, TestServer};

async fn list_rotations(kms: &aws_sdk_kms::Client, key_id: &str) -> Vec<RotationsListEntry> {
    let output = kms
        .list_key_rotations()
        .key_id(key_id)
        .send()
        .await
        .must("ListKeyRotations");
    assert!(!output.truncated());
    output.rotations().to_vec()
}

#[tokio::test]
async fn rotation_status_reports_enablement_period_and_next_date() {
    let server = TestServer::start(ServerOptions::dev()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();

    let status = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .must("GetKeyRotationStatus");
    assert!(!status.key_rotation_enabled(), "rotation is off by default");
    assert_names_key(status.key_id(), &key_id, "GetKeyRotationStatus.KeyId");
    assert_eq!(
        status.rotation_period_in_days(),
        None,
        "no period while disabled"
    );
    assert_eq!(
        status.next_rotation_date(),
        None,
        "no next date while disabled"
    );

    let now = server.server_now().await;
    kms.enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(90)
        .send()
        .await
        .must("EnableKeyRotation 90");
    let status = kms
        .get_key_rotation_status()
        .key_id(key_arn(&key_id))
        .send()
        .await
        .must("GetKeyRotationStatus");
    assert!(status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), Some(90));
    let next = epoch(status.next_rotation_date(), "NextRotationDate");
    let expected = now + 90.0 * SECONDS_PER_DAY as f64;
    assert!(
        (expected - SECONDS_PER_DAY as f64..=expected + SECONDS_PER_DAY as f64).contains(&next),
        "NextRotationDate {next} should be about 90 days after {now}"
    );
    assert_eq!(
        status.on_demand_rotation_start_date(),
        None,
        "no on-demand rotation in progress"
    );

    // Calling again changes the period of an enabled key.
    kms.enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(180)
        .send()
        .await
        .must("EnableKeyRotation 180");
    let status = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .must("GetKeyRotationStatus");
    assert_eq!(status.rotation_period_in_days(), Some(180));

    kms.disable_key_rotation()
        .key_id(&key_id)
        .send()
        .await
        .must("DisableKeyRotation");
    let status = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .must("GetKeyRotationStatus");
    assert!(!status.key_rotation_enabled());

    // The default period is 365 days.
    let fresh = create_key(&kms).await.key_id().to_owned();
    kms.enable_key_rotation()
        .key_id(&fresh)
        .send()
        .await
        .must("EnableKeyRotation default");
    let status = kms
        .get_key_rotation_status()
        .key_id(&fresh)
        .send()
        .await
        .must("GetKeyRotationStatus");
    assert!(status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), Some(365));
}

#[tokio::test]
async fn enable_key_rotation_validates_the_period_and_the_key_state() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();

    assert_failure(
        kms.enable_key_rotation().key_id(&key_id).rotation_period_in_days(89).send().await,
        "ValidationException",
        "1 validation error detected: Value '89' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value greater than or equal to 90",
    );
    assert_failure(
        kms.enable_key_rotation().key_id(&key_id).rotation_period_in_days(2561).send().await,
        "ValidationException",
        "1 validation error detected: Value '2561' at 'rotationPeriodInDays' failed to satisfy constraint: Member must have value less than or equal to 2560",
    );
    kms.enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(2560)
        .send()
        .await
        .must("EnableKeyRotation 2560");

    // kms-api.md §4: EnableKeyRotation on a Disabled key → note 1.
    kms.disable_key()
        .key_id(&key_id)
        .send()
        .await
        .must("DisableKey");
    assert_failure(
        kms.enable_key_rotation().key_id(&key_id).send().await,
        "DisabledException",
        &format!("{} is disabled.", key_arn(&key_id)),
    );
    assert_failure_code(
        kms.disable_key_rotation().key_id(&key_id).send().await,
        "DisabledException",
    );
}

#[tokio::test]
async fn rotate_key_on_demand_keeps_old_ciphertexts_decryptable() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let original_material = current_key_material_id(&kms, &key_id).await;
    let bound = context(&[("generation", "1")]);
    let old_ciphertext = encrypt(&kms, &key_id, b"first generation", Some(bound.clone())).await;
    assert!(
        list_rotations(&kms, &key_id).await.is_empty(),
        "no rotations before the first one"
    );

    let output = kms
        .rotate_key_on_demand()
        .key_id(&key_id)
        .send()
        .await
        .must("RotateKeyOnDemand");
    // AWS answers the key ARN (LocalStack's AWS-validated
    // test_rotate_on_demand_returns_arn_for_key_id).
    assert_eq!(output.key_id(), Some(key_arn(&key_id).as_str()));

    let new_material = current_key_material_id(&kms, &key_id).await;
    assert!(is_hex64(&new_material));
    assert_ne!(
        new_material, original_material,
        "CurrentKeyMaterialId changes on rotation"
    );

    // Old ciphertext: old material. New ciphertext: new material.
    let (plaintext, returned_key, material) =
        decrypt(&kms, &old_ciphertext, Some(bound.clone())).await;
    assert_eq!(plaintext, b"first generation");
    assert_eq!(
        returned_key,
        key_arn(&key_id),
        "rotation changes neither key ID nor ARN"
    );
    assert_eq!(material.as_deref(), Some(original_material.as_str()));
    let new_ciphertext = encrypt(&kms, &key_id, b"second generation", None).await;
    let (plaintext, _, material) = decrypt(&kms, &new_ciphertext, None).await;
    assert_eq!(plaintext, b"second generation");
    assert_eq!(material.as_deref(), Some(new_material.as_str()));
    let data_key = kms
        .generate_data_key()
        .key_id(&key_id)
        .number_of_bytes(32)
        .send()
        .await
        .must("GenerateDataKey");
    assert_eq!(data_key.key_material_id(), Some(new_material.as_str()));

    // ListKeyRotations: one ON_DEMAND entry for the new material.
    let rotations = list_rotations(&kms, &key_id).await;
    assert_eq!(rotations.len(), 1, "{rotations:?}");
    let entry = &rotations[0];
    assert_names_key(entry.key_id(), &key_id, "RotationsListEntry.KeyId");
    assert_eq!(entry.key_material_id(), Some(new_material.as_str()));
    assert_eq!(entry.rotation_type(), Some(&RotationType::OnDemand));
    entry.rotation_date().present("RotationDate");
    if let Some(state) = entry.key_material_state() {
        assert_eq!(
            state,
            &KeyMaterialState::Current,
            "the newest material is CURRENT"
        );
    }

    // ALL_KEY_MATERIAL also lists the original material, without rotation fields.
    let all = kms
        .list_key_rotations()
        .key_id(&key_id)
        .include_key_material(IncludeKeyMaterial::AllKeyMaterial)
        .send()
        .await
        .must("ListKeyRotations ALL_KEY_MATERIAL");
    let mut materials: Vec<&str> = all
        .rotations()
        .iter()
        .filter_map(RotationsListEntry::key_material_id)
        .collect();
    materials.sort_unstable();
    let mut expected = vec![original_material.as_str(), new_material.as_str()];
    expected.sort_unstable();
    assert_eq!(materials, expected, "{:?}", all.rotations());
    let original_entry = all
        .rotations()
        .iter()
        .find(|entry| entry.key_material_id() == Some(original_material.as_str()))
        .present("entry for the original material");
    assert_eq!(
        original_entry.rotation_type(),
        None,
        "the original material was not produced by a rotation"
    );

    // A second on-demand rotation, and automatic rotation stays off.
    kms.rotate_key_on_demand()
        .key_id(key_arn(&key_id))
        .send()
        .await
        .must("RotateKeyOnDemand by ARN");
    assert_eq!(list_rotations(&kms, &key_id).await.len(), 2);
    let status = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .must("GetKeyRotationStatus");
    assert!(
        !status.key_rotation_enabled(),
        "on-demand rotation does not enable automatic rotation"
    );
    let (plaintext, _, _) = decrypt(&kms, &old_ciphertext, Some(bound)).await;
    assert_eq!(plaintext, b"first generation");
}

#[tokio::test]
async fn automatic_rotation_happens_once_the_period_has_passed() {
    let server = TestServer::start(ServerOptions::dev()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let original_material = current_key_material_id(&kms, &key_id).await;
    let old_ciphertext = encrypt(&kms, &key_id, b"before rotation", None).await;

    kms.enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(90)
        .send()
        .await
        .must("EnableKeyRotation");
    let status = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .must("GetKeyRotationStatus");
    let first_due = epoch(status.next_rotation_date(), "NextRotationDate");

    // One day short of the period: nothing happens.
    server.advance_clock(89 * SECONDS_PER_DAY).await;
    assert_eq!(
        current_key_material_id(&kms, &key_id).await,
        original_material,
        "rotated too early"
    );
    assert!(list_rotations(&kms, &key_id).await.is_empty());

    // Past the period: the dev clock runs the due rotation before answering.
    let now = server.advance_clock(2 * SECONDS_PER_DAY).await;
    assert!(
        now >= first_due,
        "server time {now} should be past NextRotationDate {first_due}"
    );
    let rotated_material = current_key_material_id(&kms, &key_id).await;
    assert_ne!(
        rotated_material, original_material,
        "no automatic rotation after 91 days with a 90-day period"
    );

    let rotations = list_rotations(&kms, &key_id).await;
    assert_eq!(rotations.len(), 1, "{rotations:?}");
    assert_eq!(rotations[0].rotation_type(), Some(&RotationType::Automatic));
    assert_eq!(
        rotations[0].key_material_id(),
        Some(rotated_material.as_str())
    );
    let rotated_at = epoch(rotations[0].rotation_date(), "RotationDate");
    assert!(
        rotated_at >= first_due - 1.0 && rotated_at <= now + 1.0,
        "RotationDate {rotated_at} outside [{first_due}, {now}]"
    );

    // The schedule moves on by one period.
    let status = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .must("GetKeyRotationStatus");
    assert!(status.key_rotation_enabled());
    let next_due = epoch(status.next_rotation_date(), "NextRotationDate");
    assert!(
        next_due > now,
        "NextRotationDate {next_due} must be in the future (now {now})"
    );
    assert!(
        next_due >= first_due + 89.0 * SECONDS_PER_DAY as f64,
        "NextRotationDate {next_due} should be about one period after {first_due}"
    );

    let (plaintext, _, material) = decrypt(&kms, &old_ciphertext, None).await;
    assert_eq!(plaintext, b"before rotation");
    assert_eq!(material.as_deref(), Some(original_material.as_str()));
    let (_, _, material) = decrypt(&kms, &encrypt(&kms, &key_id, b"after", None).await, None).await;
    assert_eq!(material.as_deref(), Some(rotated_material.as_str()));

    // And again after the next period.
    server.advance_clock(91 * SECONDS_PER_DAY).await;
    assert_eq!(list_rotations(&kms, &key_id).await.len(), 2);
    assert_ne!(
        current_key_material_id(&kms, &key_id).await,
        rotated_material
    );
}

#[tokio::test]
async fn a_disabled_key_is_not_rotated_automatically() {
    let server = TestServer::start(ServerOptions::dev()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let original_material = current_key_material_id(&kms, &key_id).await;
    kms.enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(90)
        .send()
        .await
        .must("EnableKeyRotation");
    kms.disable_key()
        .key_id(&key_id)
        .send()
        .await
        .must("DisableKey");

    // kms-api.md §4 "Rotation interplay": no automatic rotation while Disabled.
    server.advance_clock(100 * SECONDS_PER_DAY).await;
    assert_eq!(
        current_key_material_id(&kms, &key_id).await,
        original_material,
        "a disabled key was rotated"
    );
}

#[tokio::test]
async fn on_demand_rotations_stop_at_25_per_key() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let first_ciphertext = encrypt(&kms, &key_id, b"generation 0", None).await;

    for _ in 0..25 {
        kms.rotate_key_on_demand()
            .key_id(&key_id)
            .send()
            .await
            .must("RotateKeyOnDemand");
    }
    // kms-api.md §3 LimitExceededException, §9.
    assert_failure(
        kms.rotate_key_on_demand().key_id(&key_id).send().await,
        "LimitExceededException",
        &format!(
            "The on-demand rotations limit has been reached for the given keyId. No more on-demand rotations can be performed for this key: {}",
            key_arn(&key_id)
        ),
    );

    // ListKeyRotations pages through all 25, each material distinct.
    let entries = drain_pages(10, |marker| {
        let kms = kms.clone();
        let key_id = key_id.clone();
        async move {
            let page = kms
                .list_key_rotations()
                .key_id(key_id)
                .limit(10)
                .set_marker(marker)
                .send()
                .await
                .must("ListKeyRotations Limit=10");
            (
                page.rotations().to_vec(),
                page.truncated(),
                page.next_marker().map(str::to_owned),
            )
        }
    })
    .await;
    assert_eq!(entries.len(), 25);
    let mut materials: Vec<&str> = entries
        .iter()
        .filter_map(RotationsListEntry::key_material_id)
        .collect();
    materials.sort_unstable();
    materials.dedup();
    assert_eq!(
        materials.len(),
        25,
        "rotations must produce distinct material"
    );
    assert!(entries
        .iter()
        .all(|entry| entry.rotation_type() == Some(&RotationType::OnDemand)));

    let (plaintext, _, _) = decrypt(&kms, &first_ciphertext, None).await;
    assert_eq!(plaintext, b"generation 0");
}

#[tokio::test]
async fn rotation_settings_are_frozen_while_pending_deletion() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .must("ScheduleKeyDeletion");

    // kms-api.md §4 note 3.
    let message = format!("{} is pending deletion.", key_arn(&key_id));
    assert_failure(
        kms.enable_key_rotation().key_id(&key_id).send().await,
        "KMSInvalidStateException",
        &message,
    );
    assert_failure(
        kms.disable_key_rotation().key_id(&key_id).send().await,
        "KMSInvalidStateException",
        &message,
    );
    assert_failure(
        kms.rotate_key_on_demand().key_id(&key_id).send().await,
        "KMSInvalidStateException",
        &message,
    );
    let status = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .must("GetKeyRotationStatus");
    assert!(!status.key_rotation_enabled());
}

#[tokio::test]
async fn on_demand_rotation_leaves_the_automatic_schedule_alone() {
    let server = TestServer::start(ServerOptions::dev()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    kms.enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(90)
        .send()
        .await
        .must("EnableKeyRotation");
    let next_rotation = |kms: aws_sdk_kms::Client, key_id: String| async move {
        let status = kms
            .get_key_rotation_status()
            .key_id(key_id)
            .send()
            .await
            .must("GetKeyRotationStatus");
        epoch(status.next_rotation_date(), "NextRotationDate")
    };
    let scheduled = next_rotation(kms.clone(), key_id.clone()).await;

    // kms-api.md §9: on-demand rotation "does not shift the automatic schedule".
    server.advance_clock(10 * SECONDS_PER_DAY).await;
    kms.rotate_key_on_demand()
        .key_id(&key_id)
        .send()
        .await
        .must("RotateKeyOnDemand");
    assert_eq!(next_rotation(kms.clone(), key_id.clone()).await, scheduled);

    // Re-enabling rotation starts a new period from now ("first rotation
    // period days after enabling").
    server.advance_clock(20 * SECONDS_PER_DAY).await;
    kms.disable_key_rotation()
        .key_id(&key_id)
        .send()
        .await
        .must("DisableKeyRotation");
    let now = server.server_now().await;
    kms.enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(90)
        .send()
        .await
        .must("EnableKeyRotation again");
    let rescheduled = next_rotation(kms.clone(), key_id.clone()).await;
    let expected = now + 90.0 * SECONDS_PER_DAY as f64;
    assert!(
        (expected - 60.0..=expected + 60.0).contains(&rescheduled),
        "NextRotationDate {rescheduled} should be 90 days after re-enabling at {now}"
    );
}

#[tokio::test]
async fn a_rotation_missed_while_disabled_happens_after_enable_key() {
    let server = TestServer::start(ServerOptions::dev()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let original_material = current_key_material_id(&kms, &key_id).await;
    kms.enable_key_rotation()
        .key_id(&key_id)
        .rotation_period_in_days(90)
        .send()
        .await
        .must("EnableKeyRotation");
    kms.disable_key()
        .key_id(&key_id)
        .send()
        .await
        .must("DisableKey");
    server.advance_clock(100 * SECONDS_PER_DAY).await;
    assert_eq!(
        current_key_material_id(&kms, &key_id).await,
        original_material,
        "rotated while Disabled"
    );

    // kms-api.md §4 "Rotation interplay": on re-enable, material older than
    // the period rotates right away (here: at the next background pass).
    kms.enable_key()
        .key_id(&key_id)
        .send()
        .await
        .must("EnableKey");
    let now = server.server_now().await;
    let rotated = current_key_material_id(&kms, &key_id).await;
    assert_ne!(
        rotated, original_material,
        "overdue rotation did not happen after EnableKey"
    );
    let rotations = list_rotations(&kms, &key_id).await;
    assert_eq!(rotations.len(), 1, "{rotations:?}");
    assert_eq!(rotations[0].rotation_type(), Some(&RotationType::Automatic));
    let status = kms
        .get_key_rotation_status()
        .key_id(&key_id)
        .send()
        .await
        .must("GetKeyRotationStatus");
    let next = epoch(status.next_rotation_date(), "NextRotationDate");
    assert!(
        next > now,
        "NextRotationDate {next} is not after now ({now})"
    );
}
