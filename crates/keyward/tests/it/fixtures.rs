//! Small building blocks shared by the test modules: ARNs spelled the AWS way,
//! key creation, encryption contexts, and a `must` that reports an unexpected
//! AWS error by code and message instead of a wall of `Debug`.

use std::collections::HashMap;
use std::fmt::Debug;

use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::{Blob, DateTime};
use aws_sdk_kms::types::KeyMetadata;

use crate::harness::{ACCOUNT_ID, REGION};

pub const SECONDS_PER_DAY: u64 = 86_400;

/// `arn:aws:kms:us-east-1:111122223333:key/<id>`.
pub fn key_arn(key_id: &str) -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{key_id}")
}

/// `arn:aws:kms:us-east-1:111122223333:alias/<name>` for `alias_name` = `alias/<name>`.
pub fn alias_arn(alias_name: &str) -> String {
    format!("arn:aws:kms:{REGION}:{ACCOUNT_ID}:{alias_name}")
}

/// An encryption context from literal pairs.
pub fn context(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

pub fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.iter().map(|group| group.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|group| {
            group
                .bytes()
                .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
        })
}

pub fn is_hex64(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|byte| byte.is_ascii_hexdigit())
}

/// Local wall-clock time in epoch seconds, for sanity bounds on server timestamps.
pub fn unix_now() -> f64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(elapsed) => elapsed.as_secs_f64(),
        Err(err) => panic!("clock before 1970: {err}"),
    }
}

pub fn epoch(date: Option<&DateTime>, what: &str) -> f64 {
    match date {
        Some(date) => date.as_secs_f64(),
        None => panic!("{what} is missing"),
    }
}

pub fn blob_bytes(blob: Option<&Blob>, what: &str) -> Vec<u8> {
    match blob {
        Some(blob) => blob.as_ref().to_vec(),
        None => panic!("{what} is missing"),
    }
}

/// Unwraps an SDK result, failing the test with the AWS error code and message.
pub trait Must<T> {
    fn must(self, call: &str) -> T;
}

impl<T, E> Must<T> for Result<T, SdkError<E>>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    #[track_caller]
    fn must(self, call: &str) -> T {
        match self {
            Ok(output) => output,
            Err(err) => {
                let (code, message) = match err.as_service_error() {
                    Some(service_error) => (
                        service_error.code().unwrap_or("<no code>").to_owned(),
                        service_error.message().unwrap_or("<no message>").to_owned(),
                    ),
                    None => ("<not a service error>".to_owned(), String::new()),
                };
                panic!(
                    "{call} failed: {code}: {message}\n{}",
                    DisplayErrorContext(&err)
                )
            }
        }
    }
}

/// Unwraps an `Option` field of an AWS output.
pub trait Present<T> {
    fn present(self, what: &str) -> T;
}

impl<T> Present<T> for Option<T> {
    #[track_caller]
    fn present(self, what: &str) -> T {
        match self {
            Some(value) => value,
            None => panic!("{what} is missing from the response"),
        }
    }
}

/// CreateKey with all defaults; returns the new key's metadata.
pub async fn create_key(kms: &aws_sdk_kms::Client) -> KeyMetadata {
    let output = kms.create_key().send().await.must("CreateKey");
    output
        .key_metadata()
        .present("CreateKey.KeyMetadata")
        .clone()
}

pub async fn describe_key(kms: &aws_sdk_kms::Client, key_id: &str) -> KeyMetadata {
    let output = kms
        .describe_key()
        .key_id(key_id)
        .send()
        .await
        .must("DescribeKey");
    output
        .key_metadata()
        .present("DescribeKey.KeyMetadata")
        .clone()
}

pub async fn current_key_material_id(kms: &aws_sdk_kms::Client, key_id: &str) -> String {
    describe_key(kms, key_id)
        .await
        .current_key_material_id()
        .present("CurrentKeyMaterialId")
        .to_owned()
}

/// Encrypt under `key_id` with an optional context; returns the ciphertext blob.
pub async fn encrypt(
    kms: &aws_sdk_kms::Client,
    key_id: &str,
    plaintext: &[u8],
    encryption_context: Option<HashMap<String, String>>,
) -> Vec<u8> {
    let output = kms
        .encrypt()
        .key_id(key_id)
        .plaintext(Blob::new(plaintext))
        .set_encryption_context(encryption_context)
        .send()
        .await
        .must("Encrypt");
    blob_bytes(output.ciphertext_blob(), "Encrypt.CiphertextBlob")
}

/// Decrypt without a KeyId; returns (plaintext, KeyId, KeyMaterialId).
pub async fn decrypt(
    kms: &aws_sdk_kms::Client,
    ciphertext: &[u8],
    encryption_context: Option<HashMap<String, String>>,
) -> (Vec<u8>, String, Option<String>) {
    let output = kms
        .decrypt()
        .ciphertext_blob(Blob::new(ciphertext))
        .set_encryption_context(encryption_context)
        .send()
        .await
        .must("Decrypt");
    (
        blob_bytes(output.plaintext(), "Decrypt.Plaintext"),
        output.key_id().present("Decrypt.KeyId").to_owned(),
        output.key_material_id().map(str::to_owned),
    )
}

/// Asserts that a `KeyId` in a response names `key_id`, as its ID or its ARN
/// (for the few outputs where AWS's form is not pinned down, kms-api.md §15).
#[track_caller]
pub fn assert_names_key(value: Option<&str>, key_id: &str, what: &str) {
    let value = value.present(what);
    assert!(
        value == key_id || value == key_arn(key_id),
        "{what} = {value:?}, expected the key ID {key_id} or its ARN"
    );
}

/// Drains a `Limit`/`Marker` listing, checking the `Truncated`/`NextMarker`
/// contract on every page. `fetch(marker)` returns (items, truncated, next_marker).
pub async fn drain_pages<T, F, Fut>(limit: usize, mut fetch: F) -> Vec<T>
where
    T: Debug,
    F: FnMut(Option<String>) -> Fut,
    Fut: std::future::Future<Output = (Vec<T>, bool, Option<String>)>,
{
    let mut all = Vec::new();
    let mut marker = None;
    for n_page in 1..=1000 {
        let (items, truncated, next_marker) = fetch(marker.take()).await;
        assert!(
            items.len() <= limit,
            "page {n_page} has {} items, Limit was {limit}: {items:?}",
            items.len()
        );
        all.extend(items);
        if !truncated {
            assert_eq!(
                next_marker, None,
                "NextMarker must be absent when Truncated is false (page {n_page})"
            );
            return all;
        }
        assert!(
            next_marker.is_some(),
            "Truncated is true but NextMarker is missing (page {n_page})"
        );
        marker = next_marker;
    }
    panic!("listing did not end after 1000 pages: {all:?}");
}
