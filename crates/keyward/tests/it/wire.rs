//! Protocol-level behaviour visible to every client: health endpoint, request
//! IDs, operations outside keyward's scope (kms-api.md §1.3, §2).

use aws_sdk_kms::operation::RequestId;
use aws_sdk_kms::primitives::Blob;
use base64::Engine as _;

use crate::aws_error::assert_failure_code;
use crate::fixtures::{blob_bytes, context, create_key, decrypt, is_uuid, Must};
use crate::harness::{ServerOptions, TestServer};

#[tokio::test]
async fn health_answers_200_without_credentials() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let response = server.raw_request("GET", "/health", &[], b"").await;
    assert_eq!(response.status, 200, "{}", response.body_text());
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let first = kms.list_keys().send().await.must("ListKeys");
    let second = kms.list_keys().send().await.must("ListKeys");
    let first_id = first.request_id().unwrap_or_default().to_owned();
    assert!(
        is_uuid(&first_id),
        "x-amzn-RequestId {first_id:?} is not a UUID"
    );
    assert_ne!(
        Some(first_id.as_str()),
        second.request_id(),
        "two calls share a request ID"
    );

    // Errors carry one too.
    let err = kms
        .describe_key()
        .key_id("fake-key-id")
        .send()
        .await
        .err()
        .unwrap();
    let error_id = err.request_id().unwrap_or_default();
    assert!(
        is_uuid(error_id),
        "error x-amzn-RequestId {error_id:?} is not a UUID"
    );
}

#[tokio::test]
async fn out_of_scope_operations_are_unsupported() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();

    assert_failure_code(
        kms.replicate_key()
            .key_id(&key_id)
            .replica_region("eu-west-1")
            .send()
            .await,
        "UnsupportedOperationException",
    );
    assert_failure_code(
        kms.update_primary_region()
            .key_id(&key_id)
            .primary_region("eu-west-1")
            .send()
            .await,
        "UnsupportedOperationException",
    );
    assert_failure_code(
        kms.describe_custom_key_stores().send().await,
        "UnsupportedOperationException",
    );
    // The key is untouched by the rejected calls.
    kms.describe_key()
        .key_id(&key_id)
        .send()
        .await
        .must("DescribeKey");
}

#[tokio::test]
async fn logs_never_contain_plaintext_or_data_keys() {
    // PRODUCT.md "Security": plaintext and key material never reach logs.
    let mut server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let secret = b"PLAINTEXT-MARKER-7f3a9c-do-not-log";
    let bound = context(&[("purpose", "log-test")]);

    let encrypted = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(secret.as_slice()))
        .set_encryption_context(Some(bound.clone()))
        .send()
        .await
        .must("Encrypt");
    let ciphertext = blob_bytes(encrypted.ciphertext_blob(), "CiphertextBlob");
    let (plaintext, _, _) = decrypt(&kms, &ciphertext, Some(bound)).await;
    assert_eq!(plaintext, secret);
    let data_key = kms
        .generate_data_key()
        .key_id(&key_id)
        .number_of_bytes(32)
        .send()
        .await
        .must("GenerateDataKey");
    let data_key = blob_bytes(data_key.plaintext(), "Plaintext");
    let random = kms
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .must("GenerateRandom");
    let random = blob_bytes(random.plaintext(), "Plaintext");
    // A failing call must not log its plaintext either.
    let _ = kms
        .encrypt()
        .key_id("fake-key-id")
        .plaintext(Blob::new(secret.as_slice()))
        .send()
        .await;

    // Stop first so every buffered line has been written.
    let status = server.stop().await;
    assert!(status.success(), "exit status after SIGTERM: {status}");
    let (stdout, stderr) = server.captured_output();
    let logs = format!("{stdout}\n{stderr}");
    let base64 = base64::engine::general_purpose::STANDARD;
    let forbidden = [
        ("plaintext", String::from_utf8_lossy(secret).into_owned()),
        ("plaintext, base64", base64.encode(secret)),
        ("data key, base64", base64.encode(&data_key)),
        ("random bytes, base64", base64.encode(&random)),
        (
            "data key, hex",
            data_key.iter().map(|byte| format!("{byte:02x}")).collect(),
        ),
    ];
    for (what, needle) in forbidden {
        assert!(
            !logs.contains(&needle),
            "the server logged the {what}: {needle}"
        );
    }
}
