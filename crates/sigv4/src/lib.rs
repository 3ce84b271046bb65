//! AWS Signature Version 4 for requests with the whole body in hand.
//!
//! Written here rather than taken from a crate because verification is the
//! front door of a KMS: we want its error cases (each mapped to the exact AWS
//! error), its constant-time comparison and its cost on the hot path under our
//! own control. The algorithm follows
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html>;
//! the tests check it against `aws-sigv4`, the SDKs' own signer.
//!
//! Only the headers named in `SignedHeaders` are canonicalised, exactly as the
//! client listed them: botocore signs `amz-sdk-*`, `content-type`,
//! `x-amz-target` and others, aws-sdk-rust a different set.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

use aws_lc_rs::{constant_time, digest, hmac};
use thiserror::Error;
use zeroize::Zeroizing;

/// Largest clock difference accepted between client and server (AWS: 15 min).
pub const MAX_SKEW_SECONDS: i64 = 15 * 60;
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The parts of an HTTP request that SigV4 covers.
pub struct RequestParts<'a> {
    pub method: &'a str,
    /// The path as sent, e.g. `/`.
    pub path: &'a str,
    /// The raw query string without `?`, possibly empty.
    pub query: &'a str,
    /// All headers; names in any case. Repeated names appear repeatedly.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// A parsed `Authorization: AWS4-HMAC-SHA256 ...` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub date: String,
    pub region: String,
    pub service: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Why a request's signature was not accepted. Each maps to one AWS error.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization` header (AWS: `MissingAuthenticationTokenException`).
    #[error("Missing Authentication Token")]
    Missing,
    /// The header is there but cannot be parsed (AWS: `IncompleteSignatureException`).
    #[error("{0}")]
    Incomplete(String),
    /// The access key id is not known (AWS: `UnrecognizedClientException`).
    #[error("The security token included in the request is invalid.")]
    UnknownAccessKey,
    /// Date outside the allowed skew (AWS: `InvalidSignatureException`).
    #[error("{0}")]
    Expired(String),
    /// Scope does not fit this endpoint (AWS: `InvalidSignatureException`).
    #[error("{0}")]
    BadScope(String),
    /// Signature differs (AWS: `InvalidSignatureException`).
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    Mismatch,
}

/// Parses the `Authorization` header value.
pub fn parse_authorization(value: &str) -> Result<Authorization, AuthError> {
    let rest = value.strip_prefix(ALGORITHM).ok_or_else(|| {
        AuthError::Incomplete(format!(
            "Authorization header requires '{ALGORITHM}' algorithm."
        ))
    })?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut signature = None;
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v);
        }
    }
    let missing = |name: &str| {
        AuthError::Incomplete(format!(
            "Authorization header requires '{name}' parameter. Authorization={value}"
        ))
    };
    let credential = credential.ok_or_else(|| missing("Credential"))?;
    let signed_headers = signed_headers.ok_or_else(|| missing("SignedHeaders"))?;
    let signature = signature.ok_or_else(|| missing("Signature"))?;
    let scope: Vec<&str> = credential.split('/').collect();
    let [access_key_id, date, region, service, terminator] = scope.as_slice() else {
        return Err(AuthError::Incomplete(format!(
            "Credential should have the form <AccessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request. Credential={credential}"
        )));
    };
    if *terminator != "aws4_request" || access_key_id.is_empty() || date.len() != 8 {
        return Err(AuthError::Incomplete(format!(
            "Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )));
    }
    Ok(Authorization {
        access_key_id: access_key_id.to_string(),
        date: date.to_string(),
        region: region.to_string(),
        service: service.to_string(),
        signed_headers: signed_headers
            .split(';')
            .map(str::to_ascii_lowercase)
            .collect(),
        signature: signature.to_ascii_lowercase(),
    })
}

/// Parses `YYYYMMDDTHHMMSSZ` into seconds since the Unix epoch.
pub fn parse_amz_date(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<i64> {
        let s = text.get(range)?;
        if !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

/// Formats epoch seconds as `YYYYMMDDTHHMMSSZ`.
pub fn format_amz_date(epoch_seconds: i64) -> String {
    let days = epoch_seconds.div_euclid(86_400);
    let secs = epoch_seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

// Howard Hinnant's civil-date algorithms (public domain), proleptic Gregorian.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (
        if m <= 2 {
            yoe + era * 400 + 1
        } else {
            yoe + era * 400
        },
        m,
        d,
    )
}

fn header_values<'a>(
    headers: &'a [(&'a str, &'a str)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    headers
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| *v)
}

/// `x-amz-date`, else `date` is not supported (AWS SDKs always send x-amz-date).
pub fn request_time(parts: &RequestParts<'_>) -> Result<i64, AuthError> {
    let value = header_values(parts.headers, "x-amz-date").next().ok_or_else(|| {
        AuthError::Incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.".into())
    })?;
    parse_amz_date(value).ok_or_else(|| {
        AuthError::Incomplete(format!(
            "Date must be in ISO-8601 'basic format'. Got '{value}'."
        ))
    })
}

fn trim_collapse(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
fn uri_encode(input: &str, encode_slash: bool) -> String {
    let mut out = String::with_capacity(input.len());
    for byte in input.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            b'/' if !encode_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            if let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                bytes.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            ) {
                out.push((hi * 16 + lo) as u8);
                i += 3;
                continue;
            }
        }
        out.push(if byte == b'+' { b' ' } else { byte });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k), true),
                uri_encode(&percent_decode(v), true),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

fn canonical_path(path: &str) -> String {
    if path.is_empty() {
        return "/".to_string();
    }
    // Non-S3 services encode each segment of the (already encoded) path again.
    uri_encode(path, false)
}

fn hex_sha256(data: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, data))
}

/// The canonical request (step 1 of SigV4).
pub fn canonical_request(parts: &RequestParts<'_>, signed_headers: &[String]) -> String {
    let mut out = String::with_capacity(256 + parts.headers.len() * 48);
    out.push_str(parts.method);
    out.push('\n');
    out.push_str(&canonical_path(parts.path));
    out.push('\n');
    out.push_str(&canonical_query(parts.query));
    out.push('\n');
    for name in signed_headers {
        out.push_str(name);
        out.push(':');
        let values: Vec<String> = header_values(parts.headers, name)
            .map(trim_collapse)
            .collect();
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out.push('\n');
    out.push_str(&signed_headers.join(";"));
    out.push('\n');
    out.push_str(&hex_sha256(parts.body));
    out
}

fn hmac_sign(key: &[u8], data: &[u8]) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
}

/// The per-day signing key `kSigning` derived from a secret access key.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> Zeroizing<Vec<u8>> {
    let mut seed = Zeroizing::new(Vec::with_capacity(4 + secret.len()));
    seed.extend_from_slice(b"AWS4");
    seed.extend_from_slice(secret.as_bytes());
    let k_date = hmac_sign(&seed, date.as_bytes());
    let k_region = hmac_sign(k_date.as_ref(), region.as_bytes());
    let k_service = hmac_sign(k_region.as_ref(), service.as_bytes());
    let k_signing = hmac_sign(k_service.as_ref(), b"aws4_request");
    Zeroizing::new(k_signing.as_ref().to_vec())
}

fn string_to_sign(amz_date: &str, scope: &str, canonical: &str) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex_sha256(canonical.as_bytes())
    )
}

/// What the server knows about the endpoint a request must be scoped to.
pub struct Expectation<'a> {
    pub region: &'a str,
    pub services: &'a [&'a str],
    pub now_epoch_seconds: i64,
}

/// Verifies a request's signature with `secret`, the secret access key of
/// `auth.access_key_id` (looked up by the caller after [`parse_authorization`]).
pub fn verify(
    parts: &RequestParts<'_>,
    auth: &Authorization,
    secret: &str,
    expect: &Expectation<'_>,
) -> Result<(), AuthError> {
    verify_with(parts, auth, expect, || {
        signing_key(secret, &auth.date, &auth.region, &auth.service)
    })
}

/// [`verify`] with the derived `kSigning` supplied by the caller, who may
/// cache it: it depends only on the secret and the scope
/// (`date/region/service`), so it changes once a day, and deriving it is four
/// chained HMACs per request otherwise. It is asked for only after the date
/// and scope checks passed.
pub fn verify_with(
    parts: &RequestParts<'_>,
    auth: &Authorization,
    expect: &Expectation<'_>,
    signing_key: impl FnOnce() -> Zeroizing<Vec<u8>>,
) -> Result<(), AuthError> {
    let amz_date = header_values(parts.headers, "x-amz-date")
        .next()
        .unwrap_or_default();
    let request_time = request_time(parts)?;
    let now = expect.now_epoch_seconds;
    if request_time < now - MAX_SKEW_SECONDS {
        return Err(AuthError::Expired(format!(
            "Signature expired: {amz_date} is now earlier than {} ({} - 15 min.)",
            format_amz_date(now - MAX_SKEW_SECONDS),
            format_amz_date(now)
        )));
    }
    if request_time > now + MAX_SKEW_SECONDS {
        return Err(AuthError::Expired(format!(
            "Signature not yet current: {amz_date} is still later than {} ({} + 15 min.)",
            format_amz_date(now + MAX_SKEW_SECONDS),
            format_amz_date(now)
        )));
    }
    if !amz_date.starts_with(&auth.date) {
        return Err(AuthError::BadScope(format!(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{amz_date}'.",
            auth.date,
            amz_date.get(..8).unwrap_or(amz_date)
        )));
    }
    if auth.region != expect.region {
        return Err(AuthError::BadScope(format!(
            "Credential should be scoped to a valid region, not '{}'. ",
            auth.region
        )));
    }
    if !expect.services.contains(&auth.service.as_str()) {
        return Err(AuthError::BadScope(format!(
            "Credential should be scoped to correct service: '{}'. ",
            expect.services.first().copied().unwrap_or_default()
        )));
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(AuthError::Incomplete(
            "'Host' must be a 'SignedHeader' in the AWS Authorization.".into(),
        ));
    }
    let scope = format!(
        "{}/{}/{}/aws4_request",
        auth.date, auth.region, auth.service
    );
    let canonical = canonical_request(parts, &auth.signed_headers);
    let to_sign = string_to_sign(amz_date, &scope, &canonical);
    let key = signing_key();
    let expected = hex::encode(hmac_sign(&key, to_sign.as_bytes()));
    constant_time::verify_slices_are_equal(expected.as_bytes(), auth.signature.as_bytes())
        .map_err(|_| AuthError::Mismatch)
}

impl Authorization {
    /// `date/region/service`: what a derived signing key depends on besides the secret.
    pub fn scope(&self) -> String {
        format!("{}/{}/{}", self.date, self.region, self.service)
    }
}

/// Signs a request: returns the `Authorization` header value. `parts.headers`
/// must already hold `host` and `x-amz-date`; all of them are signed.
pub fn sign(
    parts: &RequestParts<'_>,
    access_key_id: &str,
    secret: &str,
    region: &str,
    service: &str,
    amz_date: &str,
) -> String {
    let date = amz_date.get(..8).unwrap_or(amz_date);
    let mut signed: Vec<String> = parts
        .headers
        .iter()
        .map(|(n, _)| n.to_ascii_lowercase())
        .collect();
    signed.sort();
    signed.dedup();
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let canonical = canonical_request(parts, &signed);
    let key = signing_key(secret, date, region, service);
    let signature = hex::encode(hmac_sign(
        &key,
        string_to_sign(amz_date, &scope, &canonical).as_bytes(),
    ));
    format!(
        "{ALGORITHM} Credential={access_key_id}/{scope}, SignedHeaders={}, Signature={signature}",
        signed.join(";")
    )
}

#[cfg(test)]
mod tests;
