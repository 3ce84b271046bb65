//! Header codec tests: the spec's example, round trips, truncation and every
//! malformation the decoder names.

use super::*;
use proptest::prelude::*;

/// The example header of `data-format/message-header.md` ("Example Bytes"):
/// a version 1.0, suite `03 78`, non-framed header with four context pairs
/// and two `aws-kms` encrypted data keys. (The first key is "0this", as the
/// bytes say; the annotation beside them capitalises it.) One typo is corrected: the example
/// spells the value "encryption" as `656E6372 79774690 6F6E`, which is not
/// even UTF-8; the right bytes are `656E6372 79707469 6F6E`.
const SPEC_EXAMPLE: &[&str] = &[
    "01800378b8929b01753d4a45c0217f39404f70ff008e00040005307468697300026973000331616e000a656e63727970",
    "74696f6e000832636f6e7465787400076578616d706c6500156177732d63727970746f2d7075626c69632d6b65790044",
    "41734738674739496e4c50753136594b6c7158544f442b6e796b473859714841687165636a3861586644326535423467",
    "7456453733645a6b79436c412b72414d4f513d3d000200076177732d6b6d73004b61726e3a6177733a6b6d733a75732d",
    "776573742d323a3131313132323232333333333a6b65792f37313563303831382d353832352d343234352d613735352d",
    "31333861366439613131653600a7010102007857a1c1f73705454eca7c83956c470223dce8d716c59679973e3ced02a4",
    "ef297f0000007e307c06092a864886f70d010706a06f306d020100306806092a864886f70d010701301e060960864801",
    "650304012e3011040c284116449a0f2a0383659ef8020110803bb23a81333a33605c48840656c38bcb1f9cce7369e9a3",
    "3ebe33f464610591feca947262f3418e115121311a75e575ecc561a286e03e2debd5cb005d00076177732d6b6d73004e",
    "61726e3a6177733a6b6d733a63612d63656e7472616c2d313a3131313132323232333333333a6b65792f396231336361",
    "34622d616663632d343661382d616134372d62653334333562343233666600a70101020078fafffbd6de06afac72f79b",
    "0e57bd873f60f4e6fd1961445a002c94af787150690000007e307c06092a864886f70d010706a06f306d020100306806",
    "092a864886f70d010701301e060960864801650304012e3011040cb2a820d0cc76616ef2a6b30d020110803b8073d0f1",
    "fdd01bd9b0979082099fdbfcf7b135483cc686d7f3cf7c7accc52639122a149571f18a4680e2c43fa34c0e5811d05114",
    "2a363c2ae1139701000000000c00000000734c1bbe032f702584cda9d02c82bb234cbf4aab8f5c6002622e886c",
];

fn spec_example() -> Vec<u8> {
    hex::decode(SPEC_EXAMPLE.concat()).unwrap()
}

#[test]
fn spec_example_decodes_to_its_documented_fields() {
    let bytes = spec_example();
    let decoded = decode(&bytes, None).unwrap();
    let header = &decoded.header;
    assert_eq!(header.version(), MessageFormatVersion::V1);
    assert_eq!(
        header.algorithm_suite(),
        AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha384EcdsaP384
    );
    assert_eq!(
        hex::encode_upper(header.message_id()),
        "B8929B01753D4A45C0217F39404F70FF"
    );
    let context: Vec<(&str, &str)> = header.encryption_context().iter().collect();
    assert_eq!(
        context,
        [
            ("0this", "is"),
            ("1an", "encryption"),
            ("2context", "example"),
            (
                "aws-crypto-public-key",
                "AsG8gG9InLPu16YKlqXTOD+nykG8YqHAhqecj8aXfD2e5B4gtVE73dZkyClA+rAMOQ=="
            ),
        ]
    );
    let keys = header.encrypted_data_keys();
    assert_eq!(keys.len(), 2);
    assert!(keys
        .iter()
        .all(|key| key.provider_id() == "aws-kms" && key.ciphertext().len() == 167));
    assert_eq!(
        keys[0].provider_info(),
        b"arn:aws:kms:us-west-2:111122223333:key/715c0818-5825-4245-a755-138a6d9a11e6"
    );
    assert_eq!(
        keys[1].provider_info(),
        b"arn:aws:kms:ca-central-1:111122223333:key/9b13ca4b-afcc-46a8-aa47-be3435b423ff"
    );
    assert_eq!(header.content_type(), ContentType::NonFramed);
    assert_eq!(header.frame_length(), 0);
    assert_eq!(
        hex::encode_upper(decoded.authentication.iv),
        "734C1BBE032F702584CDA9D0"
    );
    assert_eq!(
        hex::encode_upper(decoded.authentication.tag),
        "2C82BB234CBF4AAB8F5C6002622E886C"
    );
    assert_eq!(decoded.total_len, bytes.len());
    assert_eq!(decoded.body_len, bytes.len() - IV_LEN - TAG_LEN);

    let mut encoded = header.encode_body().unwrap();
    decoded
        .authentication
        .encode(header.version(), &mut encoded);
    assert_eq!(encoded, bytes);
}

#[test]
fn spec_example_typo_is_rejected_as_not_utf8() {
    let mut bytes = spec_example();
    let at = bytes.windows(10).position(|w| w == b"encryption").unwrap();
    bytes[at + 5..at + 8].copy_from_slice(&[0x77, 0x46, 0x90]);
    assert!(matches!(
        decode(&bytes, None),
        Err(EnvelopeError::Malformed(
            Malformation::EncryptionContextNotUtf8
        ))
    ));
}

#[test]
fn every_prefix_is_a_truncation() {
    let bytes = spec_example();
    for cut in 0..bytes.len() {
        assert!(
            matches!(
                decode(&bytes[..cut], None),
                Err(EnvelopeError::Truncated(MessageSection::Header))
            ),
            "cut at {cut}"
        );
    }
}

#[test]
fn encrypted_data_key_limit_applies_before_the_keys_are_read() {
    let bytes = spec_example();
    // Version, type, suite, message id, AAD length and AAD, then the count.
    let count_at = 1 + 1 + 2 + 16 + 2 + 0x8E;
    assert_eq!(&bytes[count_at..count_at + 2], &[0, 2]);
    let through_count = &bytes[..count_at + 2];
    assert!(matches!(
        decode(through_count, Some(1)),
        Err(EnvelopeError::TooManyEncryptedDataKeys { count: 2, max: 1 })
    ));
    assert!(decode(&bytes, Some(2)).is_ok());
}

fn sample(suite: AlgorithmSuite) -> MessageHeader {
    let version = suite.message_format_version();
    MessageHeader {
        suite,
        message_id: vec![9; version.message_id_len()],
        encryption_context: EncryptionContext::from([("k", "v")]),
        encrypted_data_keys: vec![EncryptedDataKey::new("p", vec![1, 2], vec![3; 40])],
        content_type: ContentType::Framed,
        frame_length: 4096,
        commitment_key: suite.is_committing().then_some([5; COMMIT_KEY_LEN]),
    }
}

fn serialize(header: &MessageHeader) -> Vec<u8> {
    let mut bytes = header.encode_body().unwrap();
    HeaderAuthentication {
        iv: [0; IV_LEN],
        tag: [6; TAG_LEN],
    }
    .encode(header.version(), &mut bytes);
    bytes
}

/// One row per malformation: a byte offset to patch in a serialized header,
/// the new bytes, and the expected error.
#[test]
fn malformations_are_named() {
    let v2 = serialize(&sample(AlgorithmSuite::Aes256GcmHkdfSha512CommitKey));
    let v1 = serialize(&sample(AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha256));
    // v2 layout: version(0) suite(1..3) id(3..35) aad_len(35..37) aad(37..45)
    // count(45..47) edk(47..) ... content type, frame length, suite data.
    let v2_content_type = v2.len() - TAG_LEN - COMMIT_KEY_LEN - 4 - 1;
    let v1_content_type = v1.len() - TAG_LEN - IV_LEN - 4 - 1 - 4 - 1;
    let rows: Vec<(&[u8], usize, Vec<u8>, Malformation)> = vec![
        (&v2, 0, vec![3], Malformation::UnknownVersion(3)),
        (&v1, 1, vec![0x81], Malformation::UnknownType(0x81)),
        (&v2, 1, vec![0x12, 0x34], Malformation::UnknownSuite(0x1234)),
        (
            &v2,
            1,
            vec![0x01, 0x78],
            Malformation::SuiteVersionMismatch {
                suite: 0x0178,
                version: 2,
            },
        ),
        (
            &v1,
            2,
            vec![0x04, 0x78],
            Malformation::SuiteVersionMismatch {
                suite: 0x0478,
                version: 1,
            },
        ),
        (&v2, 35, vec![0, 9], Malformation::EncryptionContextLength),
        (&v2, 45, vec![0, 0], Malformation::NoEncryptedDataKeys),
        (
            &v2,
            v2_content_type,
            vec![3],
            Malformation::UnknownContentType(3),
        ),
        (
            &v2,
            v2_content_type,
            vec![1],
            Malformation::NonFramedVersion2,
        ),
        (
            &v2,
            v2_content_type + 1,
            vec![0, 0, 0, 0],
            Malformation::FrameLengthMismatch(0),
        ),
        (
            &v1,
            v1_content_type + 1,
            vec![0, 0, 0, 1],
            Malformation::ReservedNotZero,
        ),
        (
            &v1,
            v1_content_type + 5,
            vec![16],
            Malformation::IvLengthMismatch(16),
        ),
        (
            &v1,
            v1_content_type,
            vec![1],
            Malformation::FrameLengthMismatch(4096),
        ),
    ];
    for (base, at, patch, expected) in rows {
        let mut bytes = base.to_vec();
        bytes[at..at + patch.len()].copy_from_slice(&patch);
        match decode(&bytes, None) {
            Err(EnvelopeError::Malformed(found)) => assert_eq!(found, expected),
            other => panic!("patch at {at}: expected {expected:?}, got {other:?}"),
        }
    }
}

#[test]
fn base64_of_a_message_is_recognised() {
    for suite in [
        AlgorithmSuite::Aes256GcmHkdfSha512CommitKey,
        AlgorithmSuite::Aes256GcmIv12Tag16HkdfSha256,
    ] {
        use base64::Engine as _;
        let text = base64::engine::general_purpose::STANDARD.encode(serialize(&sample(suite)));
        assert!(matches!(
            decode(text.as_bytes(), None),
            Err(EnvelopeError::Base64Encoded)
        ));
    }
}

fn arb_edk() -> impl Strategy<Value = EncryptedDataKey> {
    (
        ".{0,8}",
        proptest::collection::vec(any::<u8>(), 0..20),
        proptest::collection::vec(any::<u8>(), 0..40),
    )
        .prop_map(|(id, info, ciphertext)| EncryptedDataKey::new(id, info, ciphertext))
}

fn arb_header() -> impl Strategy<Value = (MessageHeader, HeaderAuthentication)> {
    (
        proptest::sample::select(crate::suite::ALL_SUITES.to_vec()),
        any::<[u8; 32]>(),
        proptest::collection::btree_map(".{0,6}", ".{0,10}", 0..4),
        proptest::collection::vec(arb_edk(), 1..4),
        any::<bool>(),
        1u32..=u32::MAX,
        any::<[u8; 32]>(),
        any::<[u8; IV_LEN]>(),
        any::<[u8; TAG_LEN]>(),
    )
        .prop_map(
            |(suite, id, context, keys, framed, frame_length, commit, iv, tag)| {
                let version = suite.message_format_version();
                let framed = framed || version == MessageFormatVersion::V2;
                let header = MessageHeader {
                    suite,
                    message_id: id[..version.message_id_len()].to_vec(),
                    encryption_context: context.into_iter().collect(),
                    encrypted_data_keys: keys,
                    content_type: if framed {
                        ContentType::Framed
                    } else {
                        ContentType::NonFramed
                    },
                    frame_length: if framed { frame_length } else { 0 },
                    commitment_key: suite.is_committing().then_some(commit),
                };
                let iv = if version == MessageFormatVersion::V1 {
                    iv
                } else {
                    [0; IV_LEN]
                };
                (header, HeaderAuthentication { iv, tag })
            },
        )
}

proptest! {
    #[test]
    fn headers_round_trip((header, authentication) in arb_header(), trailing in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut bytes = header.encode_body().unwrap();
        let body_len = bytes.len();
        authentication.encode(header.version(), &mut bytes);
        let total_len = bytes.len();
        bytes.extend_from_slice(&trailing);
        let decoded = decode(&bytes, None).unwrap();
        prop_assert_eq!(&decoded.header, &header);
        prop_assert_eq!(&decoded.authentication, &authentication);
        prop_assert_eq!(decoded.body_len, body_len);
        prop_assert_eq!(decoded.total_len, total_len);
    }

    #[test]
    fn decode_never_panics_and_reencodes(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        crate::fuzzing::header(&bytes);
    }

    /// Mutating a serialized header either still decodes (to a header that
    /// re-encodes to the mutated bytes) or fails with an error; it never
    /// panics.
    #[test]
    fn mutations_never_panic((header, authentication) in arb_header(), at: prop::sample::Index, value: u8) {
        let mut bytes = header.encode_body().unwrap();
        authentication.encode(header.version(), &mut bytes);
        let i = at.index(bytes.len());
        bytes[i] = value;
        crate::fuzzing::header(&bytes);
    }
}
