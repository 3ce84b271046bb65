//! Log files and digest files for CloudTrail tooling, and what can be checked
//! from an export alone.

use keyward_audit::{
    digest_object_key, log_file, log_file_object_key, verify_digest, ChainHead, ChainRecord,
    CloudTrailEvent, DigestFile, Sha256Hash,
};
use time::macros::datetime;

use crate::support::{event_time, signing_key, trail, ACCOUNT};

fn digest_file_for(trail: &crate::support::Trail, digest_index: usize) -> (DigestFile, Vec<u8>) {
    let digest = trail.digests[digest_index].clone();
    let first = usize::try_from(digest.first_sequence()).unwrap() - 1;
    let last = usize::try_from(digest.last().sequence).unwrap();
    let file = log_file(&trail.records[first..last]).unwrap();
    let object = log_file_object_key(
        ACCOUNT,
        "us-east-1",
        digest.end_time(),
        digest.first_sequence(),
    );
    let digest_file = DigestFile {
        aws_account_id: ACCOUNT.into(),
        bucket: "keyward-export".into(),
        digest_object: digest_object_key(ACCOUNT, "us-east-1", "keyward", digest.end_time()),
        previous_digest_object: (digest_index > 0).then(|| {
            digest_object_key(
                ACCOUNT,
                "us-east-1",
                "keyward",
                trail.digests[digest_index - 1].end_time(),
            )
        }),
        digest,
        log_files: vec![file.entry(object)],
    };
    (digest_file, file.contents)
}

#[test]
fn a_log_file_is_the_records_object_with_the_stored_bytes() {
    let trail = trail(3, 3);
    let file = log_file(&trail.records).unwrap();
    let mut expected = b"{\"Records\":[".to_vec();
    expected.extend_from_slice(&trail.records[0].event);
    expected.push(b',');
    expected.extend_from_slice(&trail.records[1].event);
    expected.push(b',');
    expected.extend_from_slice(&trail.records[2].event);
    expected.extend_from_slice(b"]}");
    assert_eq!(file.contents, expected);
    assert_eq!(file.hash, Sha256Hash::of(&expected));
    assert_eq!(file.record_count, 3);
    assert_eq!(file.oldest_event_time, Some(event_time(1)));
    assert_eq!(file.newest_event_time, Some(event_time(3)));
    let value: serde_json::Value = serde_json::from_slice(&file.contents).unwrap();
    assert_eq!(value["Records"].as_array().unwrap().len(), 3);
}

#[test]
fn an_empty_log_file_is_valid_json() {
    let file = log_file(&[]).unwrap();
    assert_eq!(file.contents, b"{\"Records\":[]}");
    assert_eq!(file.oldest_event_time, None);
}

#[test]
fn a_record_that_is_not_an_event_cannot_be_exported() {
    let mut head = ChainHead::GENESIS;
    let broken = head.append(b"{\"eventTime\":".to_vec()).unwrap();
    assert!(log_file(&[broken]).is_err());
}

#[test]
fn object_keys_follow_the_cloudtrail_layout() {
    let time = datetime!(2025-08-07 13:05:09 UTC);
    assert_eq!(
        log_file_object_key(ACCOUNT, "us-east-1", time, 42),
        "AWSLogs/111122223333/CloudTrail/us-east-1/2025/08/07/111122223333_CloudTrail_us-east-1_20250807T1305Z_000000000000002a.json.gz"
    );
    assert_eq!(
        digest_object_key(ACCOUNT, "us-east-1", "keyward", time),
        "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2025/08/07/111122223333_CloudTrail-Digest_us-east-1_keyward_us-east-1_20250807T130509Z.json.gz"
    );
}

#[test]
fn a_digest_file_has_cloudtrails_members_in_cloudtrails_order() {
    let trail = trail(8, 4);
    let (first, _) = digest_file_for(&trail, 0);
    let (second, log_contents) = digest_file_for(&trail, 1);
    let text = String::from_utf8(second.encode().unwrap()).unwrap();
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    let names: Vec<&str> = [
        "awsAccountId",
        "digestStartTime",
        "digestEndTime",
        "digestS3Bucket",
        "digestS3Object",
        "digestPublicKeyFingerprint",
        "digestSignatureAlgorithm",
        "newestEventTime",
        "oldestEventTime",
        "previousDigestS3Bucket",
        "previousDigestS3Object",
        "previousDigestHashValue",
        "previousDigestHashAlgorithm",
        "previousDigestSignature",
        "logFiles",
        "digestSignature",
        "keywardFirstSequence",
        "keywardLastSequence",
        "keywardLastHash",
    ]
    .to_vec();
    let positions: Vec<usize> = names
        .iter()
        .map(|name| text.find(&format!("\"{name}\"")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "{text}");
    assert_eq!(value["digestSignatureAlgorithm"], "Ed25519");
    assert_eq!(
        value["digestPublicKeyFingerprint"],
        signing_key().public_key().fingerprint().to_hex()
    );
    assert_eq!(
        value["previousDigestHashValue"],
        first.digest.hash().to_hex()
    );
    assert_eq!(value["previousDigestHashAlgorithm"], "SHA-256");
    assert_eq!(
        value["logFiles"][0]["hashValue"],
        Sha256Hash::of(&log_contents).to_hex()
    );
    assert_eq!(value["logFiles"][0]["hashAlgorithm"], "SHA-256");
    assert_eq!(value["oldestEventTime"], "2025-08-07T13:00:05Z");
    assert_eq!(value["newestEventTime"], "2025-08-07T13:00:08Z");

    // The first digest of a chain has null previous-digest members.
    let first_value: serde_json::Value = serde_json::from_slice(&first.encode().unwrap()).unwrap();
    for name in [
        "previousDigestS3Bucket",
        "previousDigestS3Object",
        "previousDigestHashValue",
        "previousDigestHashAlgorithm",
        "previousDigestSignature",
    ] {
        assert!(first_value[name].is_null(), "{name}");
    }
}

#[test]
fn a_digest_file_reads_back_to_the_signed_digest() {
    let trail = trail(8, 4);
    for digest_index in 0..2 {
        let (digest_file, _) = digest_file_for(&trail, digest_index);
        let read = DigestFile::decode(&digest_file.encode().unwrap()).unwrap();
        assert_eq!(read, digest_file);
        assert_eq!(
            verify_digest(&read.digest, &signing_key().public_key()),
            Ok(())
        );
    }
}

#[test]
fn an_edited_digest_file_no_longer_verifies() {
    let trail = trail(8, 4);
    let (digest_file, _) = digest_file_for(&trail, 1);
    let text = String::from_utf8(digest_file.encode().unwrap()).unwrap();
    let edited = text.replace("\"keywardLastSequence\":8", "\"keywardLastSequence\":7");
    assert_ne!(edited, text);
    let read = DigestFile::decode(edited.as_bytes()).unwrap();
    assert!(verify_digest(&read.digest, &signing_key().public_key()).is_err());
}

#[test]
fn the_chain_can_be_recomputed_from_an_export_alone() {
    // The exported records re-encode to the stored bytes, so an auditor with
    // the log files and digest files (and the public key) can redo the chain.
    let trail = trail(8, 4);
    let mut head = ChainHead::GENESIS;
    for digest_index in 0..2 {
        let (digest_file, log_contents) = digest_file_for(&trail, digest_index);
        let digest = DigestFile::decode(&digest_file.encode().unwrap())
            .unwrap()
            .digest;
        assert_eq!(Sha256Hash::of(&log_contents), digest_file.log_files[0].hash);
        // Read straight into events: `serde_json::Value` would sort members.
        #[derive(serde::Deserialize)]
        struct Records {
            #[serde(rename = "Records")]
            records: Vec<CloudTrailEvent>,
        }
        let parsed: Records = serde_json::from_slice(&log_contents).unwrap();
        for event in parsed.records {
            let appended: ChainRecord = head.append(event.encode().unwrap()).unwrap();
            assert_eq!(
                appended.event,
                trail.records[usize::try_from(appended.sequence - 1).unwrap()].event
            );
        }
        assert_eq!(head, digest.last());
    }
}
