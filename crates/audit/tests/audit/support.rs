//! Trails for the tests: deterministic events, records and digests.

use keyward_audit::{
    ApiCall, ChainHead, ChainRecord, CloudTrailEvent, Digest, DigestPublicKey, DigestSigningKey,
    KmsRequestParameters, Resource, UserIdentity,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

pub const ACCOUNT: &str = "111122223333";
pub const KEY_ARN: &str =
    "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// The time of event `n`: one per second from 2025-08-07 13:00:00.
pub fn event_time(n: u64) -> OffsetDateTime {
    datetime!(2025-08-07 13:00 UTC) + Duration::seconds(i64::try_from(n).unwrap())
}

/// The canonical bytes of a Decrypt event numbered `n`.
pub fn event_bytes(n: u64) -> Vec<u8> {
    CloudTrailEvent::api_call(ApiCall {
        user_identity: UserIdentity::iam_user(
            "AIDAEXAMPLE",
            "arn:aws:iam::111122223333:user/Alice",
            ACCOUNT,
            "Alice",
        )
        .with_access_key_id("AKIAEXAMPLE"),
        event_time: event_time(n),
        event_source: "kms.amazonaws.com".into(),
        event_name: "Decrypt".into(),
        aws_region: "us-east-1".into(),
        source_ip_address: "192.0.2.7".into(),
        user_agent: "aws-cli/2.17".into(),
        request_id: format!("00000000-0000-4000-8000-{n:012}"),
        event_id: format!("11111111-0000-4000-8000-{n:012}"),
        read_only: true,
        recipient_account_id: ACCOUNT.into(),
    })
    .with_request_parameters(KmsRequestParameters {
        key_id: Some(KEY_ARN.into()),
        encryption_context: Some(vec![("purpose".into(), format!("test {n}"))]),
        encryption_algorithm: Some("SYMMETRIC_DEFAULT".into()),
        ..KmsRequestParameters::default()
    })
    .with_resource(Resource::kms_key(ACCOUNT, KEY_ARN))
    .encode()
    .unwrap()
}

pub fn signing_key() -> DigestSigningKey {
    DigestSigningKey::from_seed(&[0x5a; 32]).unwrap()
}

pub fn other_signing_key() -> DigestSigningKey {
    DigestSigningKey::from_seed(&[0xa5; 32]).unwrap()
}

pub fn trusted_keys() -> Vec<DigestPublicKey> {
    vec![signing_key().public_key()]
}

/// A trail of `record_count` events with a digest after every
/// `digest_every` records (records after the last full group are unsigned).
pub struct Trail {
    pub records: Vec<ChainRecord>,
    pub digests: Vec<Digest>,
}

pub fn trail(record_count: u64, digest_every: u64) -> Trail {
    let key = signing_key();
    let mut head = ChainHead::GENESIS;
    let mut records = Vec::new();
    let mut digests: Vec<Digest> = Vec::new();
    for n in 1..=record_count {
        records.push(head.append(event_bytes(n)).unwrap());
        if n % digest_every == 0 {
            digests.push(sign_next(&key, digests.last(), head, event_time(n)));
        }
    }
    Trail { records, digests }
}

/// The digest after `previous`, ending at `end_time`.
pub fn sign_next(
    key: &DigestSigningKey,
    previous: Option<&Digest>,
    head: ChainHead,
    end_time: OffsetDateTime,
) -> Digest {
    let start_time = previous.map_or(datetime!(2025-08-07 13:00 UTC), Digest::end_time);
    key.sign_digest(previous, head, start_time, end_time)
        .unwrap()
}

/// The record's contents changed and its own hash recomputed, as an attacker
/// with write access to the store would do.
pub fn rehash(record: &mut ChainRecord) {
    record.hash = ChainRecord::compute_hash(record.sequence, &record.previous_hash, &record.event);
}

/// Rewrites every record from `position` on so that the chain is consistent
/// again after a change at `position`.
pub fn relink_from(records: &mut [ChainRecord], position: usize) {
    for index in position..records.len() {
        if index > 0 {
            records[index].previous_hash = records[index - 1].hash;
        }
        rehash(&mut records[index]);
    }
}
