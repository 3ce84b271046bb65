use std::time::{Duration, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign as sdk_sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;

use super::*;

const NOW: i64 = 1_790_000_000;
const AKID: &str = "AKIAKEYWARDTEST00001";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

/// Signs with the AWS SDK's own signer and returns the headers it produced.
fn sdk_signed(body: &[u8], extra: &[(&str, &str)], at: i64) -> Vec<(String, String)> {
    let identity = Credentials::new(AKID, SECRET, None, None, "test").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("kms")
        .time(UNIX_EPOCH + Duration::from_secs(at as u64))
        .settings(SigningSettings::default())
        .build()
        .unwrap()
        .into();
    let mut headers = vec![
        ("host".to_string(), "127.0.0.1:7478".to_string()),
        (
            "content-type".to_string(),
            "application/x-amz-json-1.1".to_string(),
        ),
        (
            "x-amz-target".to_string(),
            "TrentService.ListKeys".to_string(),
        ),
    ];
    headers.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let signable = SignableRequest::new(
        "POST",
        "http://127.0.0.1:7478/",
        headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, _) = sdk_sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder()
        .method("POST")
        .uri("http://127.0.0.1:7478/");
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    let mut request = request.body(()).unwrap();
    instructions.apply_to_request_http1x(&mut request);
    request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect()
}

fn check(
    headers: &[(String, String)],
    body: &[u8],
    secret: &str,
    now: i64,
) -> Result<(), AuthError> {
    let pairs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let parts = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &pairs,
        body,
    };
    let auth_value = pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| *v)
        .ok_or(AuthError::Missing)?;
    let auth = parse_authorization(auth_value)?;
    verify(
        &parts,
        &auth,
        secret,
        &Expectation {
            region: "us-east-1",
            services: &["kms"],
            now_epoch_seconds: now,
        },
    )
}

#[test]
fn accepts_what_the_aws_sdk_signs() {
    let body = br#"{"Limit": 10}"#;
    let headers = sdk_signed(body, &[("amz-sdk-invocation-id", "abc  def")], NOW);
    assert_eq!(check(&headers, body, SECRET, NOW), Ok(()));
    assert_eq!(check(&headers, body, SECRET, NOW + 14 * 60), Ok(()));
}

#[test]
fn rejects_wrong_secret_body_or_header() {
    let body = br#"{}"#;
    let headers = sdk_signed(body, &[], NOW);
    assert_eq!(
        check(&headers, body, "other", NOW),
        Err(AuthError::Mismatch)
    );
    assert_eq!(
        check(&headers, br#"{ }"#, SECRET, NOW),
        Err(AuthError::Mismatch)
    );
    let mut changed = headers.clone();
    for (k, v) in changed.iter_mut() {
        if k == "x-amz-target" {
            *v = "TrentService.ScheduleKeyDeletion".into();
        }
    }
    assert_eq!(check(&changed, body, SECRET, NOW), Err(AuthError::Mismatch));
}

#[test]
fn rejects_skew_beyond_fifteen_minutes() {
    let headers = sdk_signed(b"{}", &[], NOW);
    assert!(
        matches!(check(&headers, b"{}", SECRET, NOW + 15 * 60 + 1), Err(AuthError::Expired(m)) if m.starts_with("Signature expired"))
    );
    assert!(
        matches!(check(&headers, b"{}", SECRET, NOW - 15 * 60 - 1), Err(AuthError::Expired(m)) if m.starts_with("Signature not yet current"))
    );
}

#[test]
fn our_signer_agrees_with_the_sdk() {
    let body = br#"{"KeyId":"alias/x"}"#;
    let sdk = sdk_signed(body, &[], NOW);
    let amz_date = format_amz_date(NOW);
    let headers = [
        ("host", "127.0.0.1:7478"),
        ("content-type", "application/x-amz-json-1.1"),
        ("x-amz-target", "TrentService.ListKeys"),
        ("x-amz-date", amz_date.as_str()),
    ];
    let parts = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body,
    };
    let ours = sign(&parts, AKID, SECRET, "us-east-1", "kms", &amz_date);
    let theirs = sdk
        .iter()
        .find(|(k, _)| k == "authorization")
        .unwrap()
        .1
        .clone();
    assert_eq!(ours, theirs);
}

#[test]
fn parse_errors_are_specific() {
    assert!(matches!(
        parse_authorization("Basic abc"),
        Err(AuthError::Incomplete(_))
    ));
    assert!(matches!(
        parse_authorization("AWS4-HMAC-SHA256 Credential=a/b/c, SignedHeaders=host, Signature=00"),
        Err(AuthError::Incomplete(_))
    ));
    let ok = parse_authorization("AWS4-HMAC-SHA256 Credential=AK/20260101/us-east-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=AB").unwrap();
    assert_eq!(ok.access_key_id, "AK");
    assert_eq!(ok.signed_headers, vec!["host", "x-amz-date"]);
    assert_eq!(ok.signature, "ab");
}

#[test]
fn dates_round_trip() {
    assert_eq!(parse_amz_date("19700101T000000Z"), Some(0));
    assert_eq!(parse_amz_date("20240229T235959Z"), Some(1_709_251_199));
    assert_eq!(format_amz_date(1_709_251_199), "20240229T235959Z");
    assert_eq!(parse_amz_date("2024-02-29T23:59:59Z"), None);
    assert_eq!(parse_amz_date("2024022éT235959Z"), None);
    for t in [0, 1, 86_399, 951_782_400, NOW, 4_102_444_800] {
        assert_eq!(parse_amz_date(&format_amz_date(t)), Some(t));
    }
}

#[test]
fn query_canonicalisation_sorts_and_encodes() {
    assert_eq!(canonical_query("b=2&a=1&c"), "a=1&b=2&c=");
    assert_eq!(canonical_query("x=a%20b&y=%7e"), "x=a%20b&y=~");
}
