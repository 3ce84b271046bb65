//! Signed digests: signing, verifying, chaining, and what a signer refuses.

use keyward_audit::{
    verify_digest, verify_digest_chain, verify_trail, AuditError, ChainHead, Digest,
    DigestFaultKind, DigestSigningKey, DIGEST_DOMAIN,
};
use time::macros::datetime;

use crate::support::{other_signing_key, sign_next, signing_key, trail, trusted_keys};

#[test]
fn a_digest_verifies_with_its_key_and_no_other() {
    let trail = trail(4, 4);
    let digest = &trail.digests[0];
    assert_eq!(verify_digest(digest, &signing_key().public_key()), Ok(()));
    assert_eq!(
        verify_digest(digest, &other_signing_key().public_key()),
        Err(DigestFaultKind::FingerprintMismatch)
    );
    assert_eq!(digest.first_sequence(), 1);
    assert_eq!(digest.last(), trail.records[3].head());
    assert_eq!(digest.record_count(), 4);
    assert!(digest.previous().is_none());
    assert_eq!(
        digest.public_key_fingerprint(),
        signing_key().public_key().fingerprint()
    );
}

#[test]
fn digests_link_to_the_one_before() {
    let trail = trail(12, 4);
    let [first, second, third] = &trail.digests[..] else {
        panic!("three digests expected");
    };
    assert_eq!(second.previous().unwrap().hash, first.hash());
    assert_eq!(second.previous().unwrap().signature, *first.signature());
    assert_eq!(third.first_sequence(), 9);
    let summary = verify_digest_chain(&trail.digests, &trusted_keys()).unwrap();
    assert_eq!(summary.digests, 3);
    assert_eq!(summary.signed_head, trail.records[11].head());
}

#[test]
fn signing_is_deterministic() {
    let one = trail(4, 4);
    let two = trail(4, 4);
    assert_eq!(one.digests, two.digests);
    assert_eq!(&one.digests[0].canonical_bytes()[..24], DIGEST_DOMAIN);
}

#[test]
fn a_digest_may_cover_no_records() {
    // A quiet hour, or a shutdown right after a digest.
    let trail = trail(4, 4);
    let key = signing_key();
    let quiet = sign_next(
        &key,
        trail.digests.last(),
        trail.records[3].head(),
        datetime!(2025-08-07 15:00 UTC),
    );
    assert_eq!(quiet.record_count(), 0);
    let digests = [trail.digests[0].clone(), quiet];
    let report = verify_trail(
        &trail.records,
        &digests,
        &trusted_keys(),
        ChainHead::GENESIS,
    );
    assert!(report.is_ok(), "{report}");
}

#[test]
fn a_digest_before_any_record_vouches_for_genesis() {
    let key = signing_key();
    let empty = sign_next(
        &key,
        None,
        ChainHead::GENESIS,
        datetime!(2025-08-07 13:00 UTC),
    );
    assert_eq!(empty.record_count(), 0);
    let report = verify_trail(&[], &[empty], &trusted_keys(), ChainHead::GENESIS);
    assert!(report.is_ok(), "{report}");
}

#[test]
fn a_rotated_key_continues_the_chain() {
    let mut trail = trail(8, 4);
    let new_key = other_signing_key();
    let previous = trail.digests[0].clone();
    trail.digests[1] = sign_next(
        &new_key,
        Some(&previous),
        trail.records[7].head(),
        datetime!(2025-08-07 14:00 UTC),
    );
    let both = [signing_key().public_key(), new_key.public_key()];
    assert!(verify_digest_chain(&trail.digests, &both).is_ok());
    let only_old = verify_digest_chain(&trail.digests, &trusted_keys()).unwrap_err();
    assert_eq!(only_old.digest_index, 1);
}

#[test]
fn a_deleted_middle_digest_breaks_the_digest_chain() {
    let mut trail = trail(12, 4);
    trail.digests.remove(1);
    let fault = verify_digest_chain(&trail.digests, &trusted_keys()).unwrap_err();
    assert_eq!(fault.digest_index, 1);
    assert_eq!(fault.kind, DigestFaultKind::PreviousHashMismatch);
}

#[test]
fn the_signer_refuses_what_a_verifier_would_reject() {
    let trail = trail(8, 4);
    let key = signing_key();
    let first = &trail.digests[0];
    let end = first.end_time();
    assert!(matches!(
        key.sign_digest(
            Some(first),
            trail.records[7].head(),
            end,
            end - time::Duration::SECOND
        ),
        Err(AuditError::DigestPeriodReversed { .. })
    ));
    assert!(matches!(
        key.sign_digest(
            Some(first),
            trail.records[7].head(),
            end - time::Duration::SECOND,
            end
        ),
        Err(AuditError::DigestPeriodOverlaps { .. })
    ));
    assert!(matches!(
        key.sign_digest(Some(first), trail.records[2].head(), end, end),
        Err(AuditError::DigestHeadBehind { .. })
    ));
    let mut forked = first.last();
    forked.hash.0[0] ^= 1;
    assert!(matches!(
        key.sign_digest(Some(first), forked, end, end),
        Err(AuditError::DigestHeadBehind { .. })
    ));
}

#[test]
fn times_are_kept_to_the_second() {
    let key = signing_key();
    let digest = key
        .sign_digest(
            None,
            ChainHead::GENESIS,
            datetime!(2025-08-07 13:00:00.9 UTC),
            datetime!(2025-08-07 14:00:00.2 UTC),
        )
        .unwrap();
    assert_eq!(digest.start_time(), datetime!(2025-08-07 13:00 UTC));
    assert_eq!(digest.end_time(), datetime!(2025-08-07 14:00 UTC));
}

#[test]
fn the_stored_form_reads_back_exactly_and_rejects_damage() {
    let trail = trail(8, 4);
    for digest in &trail.digests {
        let bytes = digest.encode();
        assert_eq!(&Digest::decode(&bytes).unwrap(), digest);
        for length in 0..bytes.len() {
            assert!(Digest::decode(&bytes[..length]).is_err(), "length {length}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(matches!(
            Digest::decode(&longer),
            Err(AuditError::TrailingBytes { .. })
        ));
    }
    let mut bad_flag = trail.digests[0].encode();
    bad_flag[24 + 16 + 8 + 8 + 32] = 2;
    assert!(Digest::decode(&bad_flag).is_err());
}

#[test]
fn keys_load_from_pkcs8_too() {
    // RFC 8410, section 10.3: the example private key as PKCS#8 v1 DER.
    let pkcs8 = hex::decode(
        "302e020100300506032b657004220420d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842",
    )
    .unwrap();
    let key = DigestSigningKey::from_pkcs8(&pkcs8).unwrap();
    assert_eq!(
        hex::encode(key.public_key().as_bytes()),
        "19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1"
    );
    assert!(DigestSigningKey::from_pkcs8(&pkcs8[..20]).is_err());
}
