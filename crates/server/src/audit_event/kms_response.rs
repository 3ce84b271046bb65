//! What a KMS event takes from the call's reply: the keys and key material it
//! names, and `responseElements` for the few operations that log any.
//!
//! The reply is keyward's own JSON (`kms_api`), read in place: the members
//! below are borrowed, everything else (plaintext, blobs, grant tokens) is
//! skipped without being copied. A reply of the cryptographic operations'
//! flat shape is read in one pass (`flat_reply.rs`), any other with serde's
//! derive as the typed path read it; both read the same members. The blob
//! Encrypt returns is read, never logged: its header names the key material
//! that sealed it.

use std::borrow::Cow;

use keyward_audit::{KeyMetadataElement, KmsResponseElements};
use serde::Deserialize;
use time::OffsetDateTime;

use super::flat_reply;
use super::loose_json::{from_body, Text};

/// The reply members an event logs or needs (key ARNs, material ids).
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub(super) struct KmsResponseMembers<'a> {
    #[serde(borrow)]
    key_id: Option<Text<'a>>,
    #[serde(borrow)]
    source_key_id: Option<Text<'a>>,
    #[serde(borrow)]
    key_material_id: Option<Text<'a>>,
    #[serde(borrow)]
    source_key_material_id: Option<Text<'a>>,
    #[serde(borrow)]
    destination_key_material_id: Option<Text<'a>>,
    /// Boxed: only CreateKey and DescribeKey answer it, and the other
    /// replies' members are read and moved about without its bulk.
    #[serde(borrow)]
    key_metadata: Option<Box<ResponseKeyMetadata<'a>>>,
    #[serde(borrow)]
    grant_id: Option<Text<'a>>,
    #[serde(borrow)]
    key_state: Option<Text<'a>>,
    deletion_date: Option<f64>,
    pending_window_in_days: Option<u64>,
}

/// Encrypt's blob, read only for its header (never logged), apart from the
/// other members, with the grant token a reply never has: the typed path read
/// both into one struct, so a repeated one of them loses the blob.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct SealedBlob<'a> {
    #[serde(borrow)]
    grant_token: Option<Text<'a>>,
    #[serde(borrow)]
    ciphertext_blob: Option<Text<'a>>,
}

/// What the event reads from a reply: its members, and Encrypt's blob when
/// the reply was read in one pass ([`flat_reply`]; otherwise the blob is read
/// on its own when it is needed).
pub(super) struct KmsReply<'a> {
    pub(super) members: KmsResponseMembers<'a>,
    blob: Option<Option<&'a str>>,
    body: &'a [u8],
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ResponseKeyMetadata<'a> {
    #[serde(rename = "AWSAccountId", borrow)]
    aws_account_id: Option<Text<'a>>,
    #[serde(borrow)]
    key_id: Option<Text<'a>>,
    #[serde(borrow)]
    arn: Option<Text<'a>>,
    creation_date: Option<f64>,
    enabled: Option<bool>,
    #[serde(borrow)]
    description: Option<Text<'a>>,
    #[serde(borrow)]
    key_usage: Option<Text<'a>>,
    #[serde(borrow)]
    key_state: Option<Text<'a>>,
    deletion_date: Option<f64>,
    valid_to: Option<f64>,
    #[serde(borrow)]
    origin: Option<Text<'a>>,
    #[serde(borrow)]
    custom_key_store_id: Option<Text<'a>>,
    #[serde(borrow)]
    key_manager: Option<Text<'a>>,
    #[serde(borrow)]
    customer_master_key_spec: Option<Text<'a>>,
    #[serde(borrow)]
    key_spec: Option<Text<'a>>,
    #[serde(borrow)]
    encryption_algorithms: Option<Vec<Text<'a>>>,
    multi_region: Option<bool>,
}

impl<'a> KmsReply<'a> {
    /// Reads a reply body (members it does not have, or a body that is no
    /// reply, are `None`).
    pub(super) fn read(body: &'a [u8]) -> Self {
        if let Some((members, blob)) = std::str::from_utf8(body).ok().and_then(read_flat) {
            return KmsReply {
                members,
                blob: Some(blob),
                body,
            };
        }
        KmsReply {
            members: from_body(body).unwrap_or_default(),
            blob: None,
            body,
        }
    }

    /// The key material in the header of the blob in Encrypt's reply.
    pub(super) fn sealed_by(&self) -> Option<String> {
        let blob = match self.blob {
            Some(blob) => Cow::Borrowed(blob?),
            None => {
                from_body::<SealedBlob<'_>>(self.body)
                    .ok()?
                    .ciphertext_blob?
                    .0
            }
        };
        material_of_blob(&blob)
    }
}

/// A reply of the flat shape ([`flat_reply`]), read as the derived
/// deserializers read it: the members of [`KmsResponseMembers`] (a repeated
/// one, or one that is no string there, fails that read: declined, so that
/// serde_json fails it), and the blob as [`SealedBlob`] reads it.
fn read_flat(body: &str) -> Option<(KmsResponseMembers<'_>, Option<&str>)> {
    let mut members = KmsResponseMembers::default();
    let mut blob = None;
    let (mut blob_seen, mut token_seen, mut blob_lost) = (false, false, false);
    let flat = flat_reply::for_each_member(body, |name, value| {
        let field = match name {
            "KeyId" => &mut members.key_id,
            "SourceKeyId" => &mut members.source_key_id,
            "KeyMaterialId" => &mut members.key_material_id,
            "SourceKeyMaterialId" => &mut members.source_key_material_id,
            "DestinationKeyMaterialId" => &mut members.destination_key_material_id,
            "GrantId" => &mut members.grant_id,
            "KeyState" => &mut members.key_state,
            "KeyMetadata" | "DeletionDate" | "PendingWindowInDays" => return false,
            "CiphertextBlob" => {
                blob_lost |= blob_seen;
                blob_seen = true;
                blob = Some(value);
                return true;
            }
            "GrantToken" => {
                blob_lost |= token_seen;
                token_seen = true;
                return true;
            }
            _ => return true,
        };
        if field.is_some() {
            return false;
        }
        *field = Some(Text(Cow::Borrowed(value)));
        true
    });
    flat.then_some((members, if blob_lost { None } else { blob }))
}

impl<'a> KmsResponseMembers<'a> {
    /// The key ARNs the reply names, in the order the event lists them.
    pub(super) fn key_arns(&self) -> [Option<&str>; 3] {
        [
            self.source_key_id.as_ref(),
            self.key_id.as_ref(),
            self.key_metadata.as_ref().and_then(|m| m.arn.as_ref()),
        ]
        .map(|text| text.map(|Text(text)| text.as_ref()))
    }

    /// The key material that served a cryptographic operation, as AWS names
    /// it in `additionalEventData.keyMaterialId`: the destination's for a
    /// ReEncrypt, else the key's, else the source's, else `sealed_by` (what
    /// [`KmsReply::sealed_by`] found: Encrypt answers no material).
    pub(super) fn key_material_id(&self, sealed_by: Option<String>) -> Option<Cow<'_, str>> {
        self.destination_key_material_id
            .as_ref()
            .or(self.key_material_id.as_ref())
            .or(self.source_key_material_id.as_ref())
            .map(|Text(id)| Cow::Borrowed(id.as_ref()))
            .or(sealed_by.map(Cow::Owned))
    }
}

/// The key material id (hex) in the header of a base64 ciphertext blob.
fn material_of_blob(blob_base64: &str) -> Option<String> {
    use base64::Engine as _;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(blob_base64)
        .ok()?;
    keyward_crypto::BlobHeader::decode(&blob)
        .ok()
        .map(|header| header.material_id.to_hex())
}

fn owned(text: &Option<Text<'_>>) -> Option<String> {
    text.as_ref().map(|Text(text)| text.clone().into_owned())
}

fn epoch_to_time(seconds: f64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp(seconds.floor() as i64).ok()
}

/// `responseElements` as AWS logs them: `null` for cryptographic and read
/// operations, the listed members for the operations that have any.
pub(super) fn response_elements(
    operation: &str,
    r: &KmsResponseMembers<'_>,
) -> Option<KmsResponseElements> {
    match operation {
        "CreateKey" => {
            let m = r.key_metadata.as_ref()?;
            Some(KmsResponseElements {
                key_metadata: Some(KeyMetadataElement {
                    aws_account_id: owned(&m.aws_account_id),
                    key_id: owned(&m.key_id),
                    arn: owned(&m.arn),
                    creation_date: m.creation_date.and_then(epoch_to_time),
                    enabled: m.enabled,
                    description: owned(&m.description),
                    key_usage: owned(&m.key_usage),
                    key_state: owned(&m.key_state),
                    deletion_date: m.deletion_date.and_then(epoch_to_time),
                    valid_to: m.valid_to.and_then(epoch_to_time),
                    origin: owned(&m.origin),
                    custom_key_store_id: owned(&m.custom_key_store_id),
                    key_manager: owned(&m.key_manager),
                    customer_master_key_spec: owned(&m.customer_master_key_spec),
                    key_spec: owned(&m.key_spec),
                    encryption_algorithms: m.encryption_algorithms.as_ref().map(|algorithms| {
                        algorithms
                            .iter()
                            .map(|Text(algorithm)| algorithm.clone().into_owned())
                            .collect()
                    }),
                    multi_region: m.multi_region,
                }),
                ..KmsResponseElements::default()
            })
        }
        "CreateGrant" => Some(KmsResponseElements {
            grant_id: owned(&r.grant_id),
            key_id: owned(&r.key_id),
            ..KmsResponseElements::default()
        }),
        "ScheduleKeyDeletion" => Some(KmsResponseElements {
            key_id: owned(&r.key_id),
            key_state: owned(&r.key_state),
            deletion_date: r.deletion_date.and_then(epoch_to_time),
            pending_window_in_days: r.pending_window_in_days,
            ..KmsResponseElements::default()
        }),
        "CancelKeyDeletion" => Some(KmsResponseElements {
            key_id: owned(&r.key_id),
            ..KmsResponseElements::default()
        }),
        _ => None,
    }
}
