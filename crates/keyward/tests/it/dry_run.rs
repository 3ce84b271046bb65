//! `DryRun: true` on the symmetric cryptographic operations (kms-api.md §2.9, §14 item 17).

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, DryRunModifierType};

use crate::aws_error::assert_failure;
use crate::fixtures::{context, create_key, decrypt, encrypt, Must};
use crate::harness::{ServerOptions, TestServer};

const DRY_RUN_MESSAGE: &str = "The request would have succeeded, but the DryRun option is set.";

#[tokio::test]
async fn dry_runs_of_crypto_operations_report_dry_run_operation() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let other = create_key(&kms).await.key_id().to_owned();
    let bound = context(&[("app", "billing")]);
    let ciphertext = encrypt(&kms, &key_id, b"dry", Some(bound.clone())).await;

    assert_failure(
        kms.encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(b"x"))
            .dry_run(true)
            .send()
            .await,
        "DryRunOperationException",
        DRY_RUN_MESSAGE,
    );
    assert_failure(
        kms.decrypt()
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .set_encryption_context(Some(bound.clone()))
            .dry_run(true)
            .send()
            .await,
        "DryRunOperationException",
        DRY_RUN_MESSAGE,
    );
    assert_failure(
        kms.generate_data_key()
            .key_id(&key_id)
            .key_spec(DataKeySpec::Aes256)
            .dry_run(true)
            .send()
            .await,
        "DryRunOperationException",
        DRY_RUN_MESSAGE,
    );
    assert_failure(
        kms.generate_data_key_without_plaintext()
            .key_id(&key_id)
            .number_of_bytes(64)
            .dry_run(true)
            .send()
            .await,
        "DryRunOperationException",
        DRY_RUN_MESSAGE,
    );
    assert_failure(
        kms.re_encrypt()
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .set_source_encryption_context(Some(bound.clone()))
            .destination_key_id(&other)
            .dry_run(true)
            .send()
            .await,
        "DryRunOperationException",
        DRY_RUN_MESSAGE,
    );

    // IGNORE_CIPHERTEXT: no blob, KeyId required (kms-api.md §2.9).
    assert_failure(
        kms.decrypt()
            .key_id(&key_id)
            .dry_run(true)
            .dry_run_modifiers(DryRunModifierType::IgnoreCiphertext)
            .send()
            .await,
        "DryRunOperationException",
        DRY_RUN_MESSAGE,
    );

    // DryRun false is an ordinary call.
    let output = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"real"))
        .dry_run(false)
        .send()
        .await
        .must("Encrypt");
    assert!(output.ciphertext_blob().is_some());
    let (plaintext, _, _) = decrypt(&kms, &ciphertext, Some(bound)).await;
    assert_eq!(plaintext, b"dry");
}

#[tokio::test]
async fn validation_errors_take_precedence_over_dry_run() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();

    assert_failure(
        kms.encrypt().key_id(&key_id).plaintext(Blob::new(vec![0_u8; 4097])).dry_run(true).send().await,
        "ValidationException",
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
    );
    assert_failure(
        kms.generate_data_key().key_id(&key_id).number_of_bytes(1025).dry_run(true).send().await,
        "ValidationException",
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
    );
    let missing = "0b6bc3e4-4f63-4a7d-9b55-2f5d1c2c8f11";
    assert_failure(
        kms.encrypt()
            .key_id(missing)
            .plaintext(Blob::new(b"x"))
            .dry_run(true)
            .send()
            .await,
        "NotFoundException",
        &format!("Key '{}' does not exist", crate::fixtures::key_arn(missing)),
    );
}
