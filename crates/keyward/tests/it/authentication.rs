//! SigV4 authentication with the generated admin credentials, and `--dev`
//! (kms-api.md §1.2, §1.3 "Errors outside the model", §14 item 2).

use std::os::unix::fs::PermissionsExt;

use crate::aws_error::{assert_failure, assert_failure_code, service_failure};
use crate::fixtures::{create_key, key_arn, Must, Present};
use crate::harness::{ServerOptions, TestServer, ACCOUNT_ID};

#[tokio::test]
async fn first_start_writes_private_admin_credentials_that_work() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let path = server.data_dir().join("admin-credentials");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "admin-credentials mode is {mode:o}");

    let credentials = server.admin_credentials();
    assert!(!credentials.access_key_id.is_empty() && !credentials.secret_access_key.is_empty());
    assert_ne!(credentials.access_key_id, credentials.secret_access_key);

    let kms = server.kms_client();
    let metadata = create_key(&kms).await;
    assert_eq!(metadata.aws_account_id(), Some(ACCOUNT_ID));
    let listed = kms.list_keys().send().await.must("ListKeys");
    assert_eq!(listed.keys().len(), 1);
}

#[tokio::test]
async fn a_wrong_secret_key_is_an_invalid_signature() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let credentials = server.admin_credentials();
    let mut wrong_secret = credentials.secret_access_key.clone();
    // Change one character so everything but the signature is right.
    let last = wrong_secret.pop().present("a non-empty secret");
    wrong_secret.push(if last == 'A' { 'B' } else { 'A' });
    let kms = server.kms_client_with(&credentials.access_key_id, &wrong_secret);

    assert_failure_code(kms.list_keys().send().await, "InvalidSignatureException");
    assert_failure_code(kms.create_key().send().await, "InvalidSignatureException");

    // Nothing was created by the rejected call.
    let admin = server.kms_client();
    assert!(admin
        .list_keys()
        .send()
        .await
        .must("ListKeys")
        .keys()
        .is_empty());
}

#[tokio::test]
async fn an_unknown_access_key_is_an_unrecognized_client() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client_with(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    );
    assert_failure(
        kms.list_keys().send().await,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
    assert_failure(
        kms.create_key().send().await,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
}

#[tokio::test]
async fn an_unsigned_request_is_rejected_with_an_aws_error() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let response = server
        .raw_request(
            "POST",
            "/",
            &[
                ("Content-Type", "application/x-amz-json-1.1"),
                ("X-Amz-Target", "TrentService.CreateKey"),
            ],
            b"{}",
        )
        .await;
    assert_eq!(
        response.status,
        400,
        "unsigned CreateKey: {}",
        response.body_text()
    );
    assert_eq!(
        response.header("content-type"),
        Some("application/x-amz-json-1.1"),
        "error Content-Type"
    );
    let body = response.json();
    let code = body
        .get("__type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or_default();
    assert!(!code.is_empty(), "error body without __type: {body}");

    let admin = server.kms_client();
    assert!(
        admin
            .list_keys()
            .send()
            .await
            .must("ListKeys")
            .keys()
            .is_empty(),
        "the unsigned CreateKey created a key"
    );
}

#[tokio::test]
async fn dev_mode_accepts_any_access_key_as_the_default_account_admin() {
    let server = TestServer::start(ServerOptions::dev()).await;
    let anyone = server.kms_client_with("AKIADEVANYTHING", "not-a-real-secret");
    let metadata = create_key(&anyone).await;
    assert_eq!(metadata.aws_account_id(), Some(ACCOUNT_ID));
    assert_eq!(metadata.arn(), Some(key_arn(metadata.key_id()).as_str()));

    // Another made-up identity sees the same account's keys.
    let someone_else = server.kms_client_with("AKIASOMEONEELSE", "whatever");
    let listed = someone_else.list_keys().send().await.must("ListKeys");
    assert_eq!(listed.keys().len(), 1);
    // The generated admin credentials work too.
    server
        .kms_client()
        .describe_key()
        .key_id(metadata.key_id())
        .send()
        .await
        .must("DescribeKey as admin");
}

#[tokio::test]
async fn without_account_id_the_arns_use_the_servers_own_account() {
    let server = TestServer::start(ServerOptions {
        account_id: None,
        ..ServerOptions::signed()
    })
    .await;
    let kms = server.kms_client();
    let metadata = create_key(&kms).await;
    let account = metadata.aws_account_id().present("AWSAccountId");
    assert!(
        account.len() == 12 && account.bytes().all(|byte| byte.is_ascii_digit()),
        "AWSAccountId {account:?}"
    );
    assert_eq!(
        metadata.arn(),
        Some(format!("arn:aws:kms:us-east-1:{account}:key/{}", metadata.key_id()).as_str()),
        "Arn names the same account"
    );
}

#[tokio::test]
async fn the_dev_clock_exists_only_in_dev_mode() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let response = server
        .raw_request(
            "POST",
            "/keyward/dev/advance-clock",
            &[("Content-Type", "application/json")],
            b"{\"Seconds\": 864000}",
        )
        .await;
    assert!(
        (400..500).contains(&response.status),
        "advance-clock on a non-dev server answered {}: {}",
        response.status,
        response.body_text()
    );
}

/// A client whose clock is `offset_seconds` away from the real time.
fn skewed_client(server: &TestServer, offset_seconds: i64) -> aws_sdk_kms::Client {
    let credentials = server.admin_credentials();
    let now = std::time::SystemTime::now();
    let offset = std::time::Duration::from_secs(offset_seconds.unsigned_abs());
    let client_time = if offset_seconds < 0 {
        now - offset
    } else {
        now + offset
    };
    let config = server
        .kms_config(&credentials.access_key_id, &credentials.secret_access_key)
        .time_source(aws_smithy_async::time::StaticTimeSource::new(client_time))
        .build();
    aws_sdk_kms::Client::from_conf(config)
}

#[tokio::test]
async fn signatures_more_than_15_minutes_off_are_rejected() {
    // kms-api.md §1.2: the request date must be within 15 minutes of server time.
    let server = TestServer::start(ServerOptions::signed()).await;
    for offset in [-5 * 60, 5 * 60] {
        skewed_client(&server, offset)
            .list_keys()
            .send()
            .await
            .must(&format!("ListKeys with a clock {offset} s off"));
    }
    for offset in [-20 * 60, 20 * 60, -24 * 3600] {
        let failure = service_failure(skewed_client(&server, offset).create_key().send().await);
        assert_eq!(failure.status, 400, "clock {offset} s off: {failure:?}");
        assert!(
            failure.code.contains("Signature") || failure.code.contains("Expired"),
            "clock {offset} s off should fail authentication: {failure:?}"
        );
    }
    let admin = server.kms_client();
    assert!(
        admin
            .list_keys()
            .send()
            .await
            .must("ListKeys")
            .keys()
            .is_empty(),
        "a request with an expired signature created a key"
    );
}

#[tokio::test]
async fn a_signature_scoped_to_another_region_is_rejected() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let credentials = server.admin_credentials();
    let config = server
        .kms_config(&credentials.access_key_id, &credentials.secret_access_key)
        .region(aws_sdk_kms::config::Region::new("eu-west-1"))
        .build();
    let kms = aws_sdk_kms::Client::from_conf(config);
    let failure = service_failure(kms.create_key().send().await);
    assert_eq!(failure.status, 400, "{failure:?}");
    assert_ne!(failure.code, "KMSInternalException", "{failure:?}");
    let admin = server.kms_client();
    assert!(admin
        .list_keys()
        .send()
        .await
        .must("ListKeys")
        .keys()
        .is_empty());
}

/// How `TamperAfterSigning` changes a request once the SDK has signed it.
#[derive(Debug, Clone, Copy)]
enum Tamper {
    /// Replace `"a"` with `"b"` in the JSON body (same length).
    Body,
    /// Point the signed X-Amz-Target header at another operation.
    TargetHeader,
    /// Append a query string the signature does not cover.
    QueryString,
}

#[derive(Debug)]
struct TamperAfterSigning(Tamper);

impl aws_sdk_kms::config::Intercept for TamperAfterSigning {
    fn name(&self) -> &'static str {
        "TamperAfterSigning"
    }

    fn modify_before_transmit(
        &self,
        context: &mut aws_sdk_kms::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &aws_sdk_kms::config::RuntimeComponents,
        _cfg: &mut aws_sdk_kms::config::ConfigBag,
    ) -> Result<(), aws_sdk_kms::error::BoxError> {
        let request = context.request_mut();
        match self.0 {
            Tamper::Body => {
                let body = request.body().bytes().unwrap_or_default().to_vec();
                let tampered = String::from_utf8(body)?.replace("\"a\"", "\"b\"");
                *request.body_mut() = tampered.into();
            }
            Tamper::TargetHeader => {
                request
                    .headers_mut()
                    .insert("x-amz-target", "TrentService.GenerateRandom");
            }
            Tamper::QueryString => {
                let uri = format!("{}?extra=1", request.uri());
                request.set_uri(uri)?;
            }
        }
        Ok(())
    }
}

#[tokio::test]
async fn a_request_altered_after_signing_is_rejected() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let credentials = server.admin_credentials();
    for tamper in [Tamper::Body, Tamper::TargetHeader, Tamper::QueryString] {
        let config = server
            .kms_config(&credentials.access_key_id, &credentials.secret_access_key)
            .interceptor(TamperAfterSigning(tamper))
            .build();
        let kms = aws_sdk_kms::Client::from_conf(config);
        let failure = service_failure(kms.create_key().description("a").send().await);
        assert_eq!(
            failure.code, "InvalidSignatureException",
            "{tamper:?}: {failure:?}"
        );
        assert_eq!(failure.status, 400, "{tamper:?}");
    }
    let admin = server.kms_client();
    assert!(
        admin
            .list_keys()
            .send()
            .await
            .must("ListKeys")
            .keys()
            .is_empty(),
        "a tampered request created a key"
    );
}

#[tokio::test]
async fn an_unknown_session_token_is_rejected() {
    // A session token keyward did not seal (STS tokens are sealed with the
    // root key) is unknown, even next to a valid long-term key; AWS answers
    // UnrecognizedClientException (kms-api.md §1.3).
    let server = TestServer::start(ServerOptions::signed()).await;
    let credentials = server.admin_credentials();
    let with_token = aws_sdk_kms::config::Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        Some("FQoGZXIvYXdzEXAMPLEbogusSessionToken".to_owned()),
        None,
        "keyward-it",
    );
    let config = server
        .kms_config(&credentials.access_key_id, &credentials.secret_access_key)
        .credentials_provider(with_token)
        .build();
    let kms = aws_sdk_kms::Client::from_conf(config);
    assert_failure(
        kms.list_keys().send().await,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
}

#[tokio::test]
async fn another_region_names_itself_in_arns_and_signatures() {
    let server = TestServer::start(ServerOptions {
        region: "eu-west-1".to_owned(),
        ..ServerOptions::signed()
    })
    .await;
    let kms = server.kms_client();
    let metadata = create_key(&kms).await;
    let key_id = metadata.key_id().to_owned();
    let arn = format!("arn:aws:kms:eu-west-1:{ACCOUNT_ID}:key/{key_id}");
    assert_eq!(metadata.arn(), Some(arn.as_str()));
    crate::fixtures::describe_key(&kms, &arn).await;
    kms.create_alias()
        .alias_name("alias/regional")
        .target_key_id(&key_id)
        .send()
        .await
        .must("CreateAlias");
    let aliases = kms.list_aliases().send().await.must("ListAliases");
    assert_eq!(
        aliases.aliases()[0].alias_arn(),
        Some(format!("arn:aws:kms:eu-west-1:{ACCOUNT_ID}:alias/regional").as_str())
    );
    // An ARN of the default region is foreign here (kms-api.md §1.2).
    assert_failure(
        kms.describe_key().key_id(key_arn(&key_id)).send().await,
        "NotFoundException",
        "Invalid arn us-east-1",
    );

    // Signatures scoped to us-east-1 do not authenticate against eu-west-1.
    let credentials = server.admin_credentials();
    let config = server
        .kms_config(&credentials.access_key_id, &credentials.secret_access_key)
        .region(aws_sdk_kms::config::Region::new("us-east-1"))
        .build();
    let failure = service_failure(
        aws_sdk_kms::Client::from_conf(config)
            .list_keys()
            .send()
            .await,
    );
    assert_eq!(failure.status, 400, "{failure:?}");
    assert_eq!(failure.code, "InvalidSignatureException", "{failure:?}");
}
