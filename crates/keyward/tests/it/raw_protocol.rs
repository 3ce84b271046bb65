//! The JSON 1.1 wire format seen without an SDK in between: response headers
//! and body encodings, and clean AWS-style errors for malformed requests
//! (kms-api.md §1.1, §1.3; PRODUCT.md "every malformed request gets a clean
//! AWS-style error, never a panic or a hang").
//!
//! These run on a `--dev` server, where any well-formed Authorization header
//! with an unknown access key is accepted, so bodies can be crafted by hand.

use base64::Engine as _;

use crate::fixtures::is_uuid;
use crate::harness::{ServerOptions, TestServer};
use crate::raw_http::RawResponse;

const DEV_AUTHORIZATION: &str = "AWS4-HMAC-SHA256 Credential=AKIARAWDEVCLIENT/20250101/us-east-1/kms/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000000000000000000000000000000000000000000000000000000000000000";

/// POST / with the JSON 1.1 headers; `target` is the full X-Amz-Target value.
async fn call(server: &TestServer, target: Option<&str>, body: &[u8]) -> RawResponse {
    let mut headers = vec![
        ("Content-Type", "application/x-amz-json-1.1"),
        ("X-Amz-Date", "20250101T000000Z"),
        ("Authorization", DEV_AUTHORIZATION),
    ];
    if let Some(target) = target {
        headers.push(("X-Amz-Target", target));
    }
    server.raw_request("POST", "/", &headers, body).await
}

/// Asserts an AWS JSON 1.1 error response and returns its `__type`.
#[track_caller]
fn assert_aws_error(response: &RawResponse, what: &str) -> String {
    assert_eq!(
        response.status,
        400,
        "{what}: status {} body {}",
        response.status,
        response.body_text()
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/x-amz-json-1.1"),
        "{what}: Content-Type"
    );
    let request_id = response.header("x-amzn-requestid").unwrap_or_default();
    assert!(
        is_uuid(request_id),
        "{what}: x-amzn-RequestId {request_id:?}"
    );
    let body = response.json();
    let code = body
        .get("__type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_owned();
    assert!(
        !code.is_empty(),
        "{what}: error body without __type: {body}"
    );
    code
}

#[tokio::test]
async fn success_responses_use_json_1_1_encodings() {
    let server = TestServer::start(ServerOptions::dev()).await;

    let response = call(&server, Some("TrentService.CreateKey"), b"{}").await;
    assert_eq!(response.status, 200, "CreateKey: {}", response.body_text());
    assert_eq!(
        response.header("content-type"),
        Some("application/x-amz-json-1.1")
    );
    assert!(is_uuid(
        response.header("x-amzn-requestid").unwrap_or_default()
    ));
    let body = response.json();
    let metadata = &body["KeyMetadata"];
    assert!(
        metadata["CreationDate"].is_number(),
        "timestamps are epoch-second numbers: {metadata}"
    );
    assert_eq!(metadata["Enabled"], serde_json::Value::Bool(true));
    assert_eq!(metadata["MultiRegion"], serde_json::Value::Bool(false));
    assert_eq!(metadata["Description"], "");
    assert!(
        !body.to_string().contains("null"),
        "absent members must be omitted, not null: {body}"
    );
    let key_id = metadata["KeyId"].as_str().unwrap_or_default().to_owned();

    // Blobs are standard base64 with padding.
    let response = call(
        &server,
        Some("TrentService.GenerateRandom"),
        b"{\"NumberOfBytes\": 7}",
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body_text());
    let plaintext = response.json()["Plaintext"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&plaintext)
        .unwrap_or_else(|err| panic!("Plaintext {plaintext:?} is not standard base64: {err}"));
    assert_eq!(decoded.len(), 7);

    // Output members follow the model: Encrypt has no KeyMaterialId,
    // GenerateDataKeyWithoutPlaintext no Plaintext (kms-api.md §2.2).
    let body = format!("{{\"KeyId\": \"{key_id}\", \"Plaintext\": \"aGVsbG8=\"}}");
    let response = call(&server, Some("TrentService.Encrypt"), body.as_bytes()).await;
    assert_eq!(response.status, 200, "{}", response.body_text());
    let encrypted = response.json();
    let mut members: Vec<&str> = encrypted
        .as_object()
        .map(|object| object.keys().map(String::as_str).collect())
        .unwrap_or_default();
    members.sort_unstable();
    assert_eq!(
        members,
        ["CiphertextBlob", "EncryptionAlgorithm", "KeyId"],
        "{encrypted}"
    );
    let body = format!("{{\"KeyId\": \"{key_id}\", \"NumberOfBytes\": 32}}");
    let response = call(
        &server,
        Some("TrentService.GenerateDataKeyWithoutPlaintext"),
        body.as_bytes(),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body_text());
    let generated = response.json();
    assert!(generated.get("Plaintext").is_none(), "{generated}");
    assert!(generated["CiphertextBlob"].is_string(), "{generated}");
    assert!(generated["KeyMaterialId"].is_string(), "{generated}");

    // Operations without output members answer 200 with an empty body or {}.
    let body = format!("{{\"KeyId\": \"{key_id}\"}}");
    let response = call(&server, Some("TrentService.DisableKey"), body.as_bytes()).await;
    assert_eq!(response.status, 200, "{}", response.body_text());
    let text = response.body_text();
    assert!(
        text.trim().is_empty() || text.trim() == "{}",
        "DisableKey body {text:?}"
    );

    // An empty body counts as {} (kms-api.md §1.1).
    let response = call(&server, Some("TrentService.ListKeys"), b"").await;
    assert_eq!(
        response.status,
        200,
        "ListKeys with an empty body: {}",
        response.body_text()
    );
    assert_eq!(response.json()["Keys"][0]["KeyId"], key_id.as_str());
}

#[tokio::test]
async fn invalid_ciphertext_errors_carry_no_message_member() {
    let server = TestServer::start(ServerOptions::dev()).await;
    let response = call(
        &server,
        Some("TrentService.Decrypt"),
        b"{\"CiphertextBlob\": \"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\"}",
    )
    .await;
    assert_eq!(
        assert_aws_error(&response, "Decrypt of garbage"),
        "InvalidCiphertextException"
    );
    // Observed AWS body: {"__type":"InvalidCiphertextException"} (kms-api.md §1.3).
    assert_eq!(
        response.json(),
        serde_json::json!({"__type": "InvalidCiphertextException"})
    );

    // Other errors carry exactly __type and message.
    let response = call(
        &server,
        Some("TrentService.DescribeKey"),
        b"{\"KeyId\": \"fake-key-id\"}",
    )
    .await;
    assert_eq!(
        assert_aws_error(&response, "DescribeKey"),
        "NotFoundException"
    );
    assert_eq!(
        response.json(),
        serde_json::json!({"__type": "NotFoundException", "message": "Invalid keyId 'fake-key-id'"})
    );
}

#[tokio::test]
async fn malformed_requests_get_clean_aws_errors() {
    let server = TestServer::start(ServerOptions::dev()).await;

    let response = call(&server, Some("TrentService.DescribeKey"), b"{\"KeyId\": ").await;
    assert_eq!(
        assert_aws_error(&response, "truncated JSON"),
        "SerializationException"
    );
    let response = call(&server, Some("TrentService.ListKeys"), b"not json at all").await;
    assert_eq!(
        assert_aws_error(&response, "not JSON"),
        "SerializationException"
    );

    let response = call(&server, Some("TrentService.DoSomethingElse"), b"{}").await;
    assert_eq!(
        assert_aws_error(&response, "unknown operation"),
        "UnknownOperationException"
    );
    let response = call(&server, Some("NotTrent.ListKeys"), b"{}").await;
    assert_eq!(
        assert_aws_error(&response, "wrong target prefix"),
        "UnknownOperationException"
    );
    let response = call(&server, None, b"{}").await;
    assert_aws_error(&response, "no X-Amz-Target");

    // Shape errors: wrong JSON types, not an object, bad base64.
    let shape_errors: [(&str, &[u8]); 5] = [
        (
            "TrentService.GenerateRandom",
            b"{\"NumberOfBytes\": \"ten\"}",
        ),
        ("TrentService.GenerateRandom", b"{\"NumberOfBytes\": 1.5}"),
        ("TrentService.ListKeys", b"[]"),
        (
            "TrentService.Encrypt",
            b"{\"KeyId\": 42, \"Plaintext\": \"aGk=\"}",
        ),
        (
            "TrentService.Decrypt",
            b"{\"CiphertextBlob\": \"%%% not base64 %%%\"}",
        ),
    ];
    for (target, body) in shape_errors {
        let what = format!("{target} {}", String::from_utf8_lossy(body));
        let response = call(&server, Some(target), body).await;
        let code = assert_aws_error(&response, &what);
        assert!(
            code == "SerializationException" || code == "ValidationException",
            "{what}: {code}"
        );
    }
    let response = call(
        &server,
        Some("TrentService.Encrypt"),
        b"{\"KeyId\": \"fake-key-id\", \"Plaintext\": \"aGk=\", \"EncryptionContext\": {\"a\": 1}}",
    )
    .await;
    assert_aws_error(&response, "non-string EncryptionContext value");

    // Non-UTF-8 bytes and a 2 MiB body.
    let response = call(
        &server,
        Some("TrentService.ListKeys"),
        b"{\"Limit\": \xff\xfe}",
    )
    .await;
    assert_aws_error(&response, "non-UTF-8 body");
    let mut huge = b"{\"Description\": \"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    huge.extend_from_slice(b"\"}");
    let response = call(&server, Some("TrentService.CreateKey"), &huge).await;
    assert_eq!(
        response.status,
        413,
        "2 MiB CreateKey: {}",
        response.body_text()
    );
    assert_eq!(
        response.json(),
        serde_json::json!({
            "__type": "RequestEntityTooLargeException",
            "message": "Request body exceeds 1048576 bytes."
        })
    );

    // None of this hurt the server or created anything.
    let health = server.raw_request("GET", "/health", &[], b"").await;
    assert_eq!(health.status, 200);
    let response = call(&server, Some("TrentService.ListKeys"), b"{}").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.json()["Keys"], serde_json::json!([]));
}

#[tokio::test]
async fn the_dev_clock_rejects_backward_and_overflowing_steps() {
    let server = TestServer::start(ServerOptions::dev()).await;
    let before = server.server_now().await;

    let bad_steps: [&[u8]; 4] = [
        b"{\"Seconds\": -5}",
        b"{\"Seconds\": 99999999999999999}",
        b"{\"Seconds\": 9223372036854775807}",
        b"{\"Seconds\": \"soon\"}",
    ];
    for body in bad_steps {
        let response = server
            .raw_request(
                "POST",
                "/keyward/dev/advance-clock",
                &[("Content-Type", "application/json")],
                body,
            )
            .await;
        assert_eq!(
            response.status,
            400,
            "advance-clock {} answered {}: {}",
            String::from_utf8_lossy(body),
            response.status,
            response.body_text()
        );
    }
    let after = server.server_now().await;
    assert!(
        (before..before + 3600.0).contains(&after),
        "the rejected steps moved the clock from {before} to {after}"
    );

    // Date arithmetic still works (no overflow inside the server).
    let kms = server.kms_client();
    let key_id = crate::fixtures::create_key(&kms).await.key_id().to_owned();
    let scheduled = kms
        .schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(30)
        .send()
        .await;
    assert!(
        scheduled.is_ok(),
        "ScheduleKeyDeletion after rejected clock steps: {scheduled:?}"
    );
}
