//! Identities with aws-sdk-kms: keys of IAM users and STS session
//! credentials (with `X-Amz-Security-Token`, as the Rust SDK sends it) sign
//! KMS calls; deactivated keys and expired sessions are refused with AWS's
//! errors. IAM and STS calls are made over the Query protocol, signed with
//! keyward's own SigV4 signer (`keyward_sigv4::sign`), since the
//! workspace has no aws-sdk-iam/sts.

use aws_sdk_kms::config::Credentials;

use crate::aws_error::assert_failure;
use crate::fixtures::Must;
use crate::harness::{ServerOptions, TestServer, ACCOUNT_ID};
use crate::raw_http::RawResponse;

/// Key id, secret and (for sessions) token.
pub(crate) type Creds = (String, String, Option<String>);

pub(crate) fn admin(server: &TestServer) -> Creds {
    let credentials = server.admin_credentials();
    (
        credentials.access_key_id,
        credentials.secret_access_key,
        None,
    )
}

/// A form-encoded Query request, signed for `service` in us-east-1.
pub(crate) async fn query(
    server: &TestServer,
    creds: &Creds,
    service: &str,
    form: &str,
) -> RawResponse {
    signed_post(
        server,
        creds,
        service,
        &[("content-type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .await
}

/// A `POST /` with `headers` and `body`, signed for `service` in us-east-1
/// with keyward's own SigV4 signer.
pub(crate) async fn signed_post(
    server: &TestServer,
    creds: &Creds,
    service: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    let authority = server.endpoint().trim_start_matches("http://").to_owned();
    let amz_date = keyward_sigv4::format_amz_date(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64,
    );
    let mut signed_headers: Vec<(&str, &str)> = headers.to_vec();
    signed_headers.push(("host", &authority));
    signed_headers.push(("x-amz-date", &amz_date));
    if let Some(token) = &creds.2 {
        signed_headers.push(("x-amz-security-token", token));
    }
    let parts = keyward_sigv4::RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &signed_headers,
        body,
    };
    let authorization =
        keyward_sigv4::sign(&parts, &creds.0, &creds.1, "us-east-1", service, &amz_date);
    let mut sent: Vec<(&str, &str)> = signed_headers
        .iter()
        .filter(|(name, _)| *name != "host")
        .copied()
        .collect();
    sent.push(("authorization", &authorization));
    server.raw_request("POST", "/", &sent, body).await
}

/// `<tag>text</tag>` of an XML answer.
pub(crate) fn element(response: &RawResponse, tag: &str) -> String {
    let text = response.body_text();
    let start = text
        .find(&format!("<{tag}>"))
        .unwrap_or_else(|| panic!("no <{tag}> in {text}"))
        + tag.len()
        + 2;
    let end = start + text[start..].find(&format!("</{tag}>")).unwrap();
    text[start..end].replace("&amp;", "&")
}

pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

const ALLOW_KMS: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#;

pub(crate) fn kms_with(server: &TestServer, creds: &Creds) -> aws_sdk_kms::Client {
    let credentials = Credentials::new(&creds.0, &creds.1, creds.2.clone(), None, "keyward-it");
    aws_sdk_kms::Client::from_conf(
        server
            .kms_config(&creds.0, &creds.1)
            .credentials_provider(credentials)
            .build(),
    )
}

/// A user with a `kms:*` inline policy and an access key.
pub(crate) async fn user_with_key(server: &TestServer, name: &str) -> Creds {
    let root = admin(server);
    let created = query(
        server,
        &root,
        "iam",
        &format!("Action=CreateUser&Version=2010-05-08&UserName={name}"),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body_text());
    let put = query(
        server,
        &root,
        "iam",
        &format!(
            "Action=PutUserPolicy&Version=2010-05-08&UserName={name}&PolicyName=kms&PolicyDocument={}",
            encode(ALLOW_KMS)
        ),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body_text());
    let key = query(
        server,
        &root,
        "iam",
        &format!("Action=CreateAccessKey&Version=2010-05-08&UserName={name}"),
    )
    .await;
    assert_eq!(key.status, 200, "{}", key.body_text());
    (
        element(&key, "AccessKeyId"),
        element(&key, "SecretAccessKey"),
        None,
    )
}

#[tokio::test]
async fn a_users_key_signs_kms_calls_until_it_is_deactivated() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let alice = user_with_key(&server, "alice").await;
    let kms = kms_with(&server, &alice);
    let key = kms.create_key().send().await.must("CreateKey");
    assert_eq!(
        key.key_metadata().unwrap().aws_account_id(),
        Some(ACCOUNT_ID)
    );
    let who = query(
        &server,
        &alice,
        "sts",
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(
        element(&who, "Arn"),
        format!("arn:aws:iam::{ACCOUNT_ID}:user/alice")
    );

    let deactivate = query(
        &server,
        &admin(&server),
        "iam",
        &format!(
            "Action=UpdateAccessKey&Version=2010-05-08&UserName=alice&AccessKeyId={}&Status=Inactive",
            alice.0
        ),
    )
    .await;
    assert_eq!(deactivate.status, 200, "{}", deactivate.body_text());
    // The signing-key cache must not keep the key alive.
    assert_failure(
        kms.list_keys().send().await,
        "UnrecognizedClientException",
        "The security token included in the request is invalid.",
    );
    let refused = query(
        &server,
        &alice,
        "sts",
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(element(&refused, "Code"), "InvalidClientTokenId");
}

#[tokio::test]
async fn session_credentials_sign_kms_calls_survive_restarts_and_expire() {
    let mut server = TestServer::start(ServerOptions::dev()).await;
    let root = admin(&server);
    let trust = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{ACCOUNT_ID}:root"}},"Action":"sts:AssumeRole"}}]}}"#
    );
    let role = query(
        &server,
        &root,
        "iam",
        &format!(
            "Action=CreateRole&Version=2010-05-08&RoleName=ops&AssumeRolePolicyDocument={}",
            encode(&trust)
        ),
    )
    .await;
    assert_eq!(role.status, 200, "{}", role.body_text());
    let put = query(
        &server,
        &root,
        "iam",
        &format!(
            "Action=PutRolePolicy&Version=2010-05-08&RoleName=ops&PolicyName=kms&PolicyDocument={}",
            encode(ALLOW_KMS)
        ),
    )
    .await;
    assert_eq!(put.status, 200, "{}", put.body_text());
    let assumed = query(
        &server,
        &root,
        "sts",
        &format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=it&DurationSeconds=900",
            encode(&format!("arn:aws:iam::{ACCOUNT_ID}:role/ops"))
        ),
    )
    .await;
    assert_eq!(assumed.status, 200, "{}", assumed.body_text());
    let session: Creds = (
        element(&assumed, "AccessKeyId"),
        element(&assumed, "SecretAccessKey"),
        Some(element(&assumed, "SessionToken")),
    );
    let kms = kms_with(&server, &session);
    kms.create_key()
        .send()
        .await
        .must("CreateKey as the session");

    server.restart().await;
    let kms = kms_with(&server, &session);
    kms.list_keys()
        .send()
        .await
        .must("ListKeys after a restart");

    server.advance_clock(901).await;
    assert_failure(
        kms.list_keys().send().await,
        "ExpiredTokenException",
        "The security token included in the request is expired",
    );
    let expired = query(
        &server,
        &session,
        "sts",
        "Action=GetCallerIdentity&Version=2011-06-15",
    )
    .await;
    assert_eq!(
        (expired.status, element(&expired, "Code")),
        (403, "ExpiredToken".to_owned())
    );
}
