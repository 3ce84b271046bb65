//! Encrypt, Decrypt, ReEncrypt, GenerateDataKey(+WithoutPlaintext), GenerateRandom
//! and their key-state errors (kms-api.md §2.2, §4, §6, §11, §14 items 5-10).

use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, EncryptionAlgorithmSpec};

use crate::aws_error::{assert_failure, assert_failure_code, assert_invalid_ciphertext};
use crate::fixtures::{
    blob_bytes, context, create_key, current_key_material_id, decrypt, encrypt, key_arn, Must,
};
use crate::harness::{ServerOptions, TestServer};

const INCORRECT_KEY_MESSAGE: &str =
    "The key ID in the request does not identify a CMK that can perform this operation.";

#[tokio::test]
async fn encrypt_and_decrypt_round_trip_without_encryption_context() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let material_id = current_key_material_id(&kms, &key_id).await;

    let encrypted = kms
        .encrypt()
        .key_id(&key_id)
        .plaintext(Blob::new(b"attack at dawn"))
        .send()
        .await
        .must("Encrypt");
    assert_eq!(
        encrypted.key_id(),
        Some(key_arn(&key_id).as_str()),
        "Encrypt.KeyId is the key ARN"
    );
    assert_eq!(
        encrypted.encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );
    let ciphertext = blob_bytes(encrypted.ciphertext_blob(), "CiphertextBlob");
    assert!(
        ciphertext.len() > b"attack at dawn".len(),
        "ciphertext of {} bytes",
        ciphertext.len()
    );
    assert!(
        !ciphertext
            .windows(b"attack at dawn".len())
            .any(|window| window == b"attack at dawn"),
        "the plaintext appears in clear inside the ciphertext"
    );

    // Encryption is randomised: the same plaintext twice gives different blobs.
    let again = encrypt(&kms, &key_id, b"attack at dawn", None).await;
    assert_ne!(again, ciphertext);

    // Decrypt needs no KeyId for symmetric ciphertexts (§14 item 6).
    let decrypted = kms
        .decrypt()
        .ciphertext_blob(Blob::new(ciphertext.clone()))
        .send()
        .await
        .must("Decrypt");
    assert_eq!(
        blob_bytes(decrypted.plaintext(), "Plaintext"),
        b"attack at dawn"
    );
    assert_eq!(
        decrypted.key_id(),
        Some(key_arn(&key_id).as_str()),
        "Decrypt.KeyId is the key ARN"
    );
    assert_eq!(
        decrypted.encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );
    assert_eq!(
        decrypted.key_material_id(),
        Some(material_id.as_str()),
        "Decrypt.KeyMaterialId"
    );

    // With a KeyId naming the same key, as ID or ARN.
    for key_ref in [key_id.clone(), key_arn(&key_id)] {
        let output = kms
            .decrypt()
            .key_id(&key_ref)
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .encryption_algorithm(EncryptionAlgorithmSpec::SymmetricDefault)
            .send()
            .await
            .must("Decrypt with KeyId");
        assert_eq!(
            blob_bytes(output.plaintext(), "Plaintext"),
            b"attack at dawn",
            "KeyId {key_ref}"
        );
    }
}

#[tokio::test]
async fn encryption_context_must_match_exactly_on_decrypt() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let bound = context(&[("tenant", "acme"), ("purpose", "invoices")]);
    let ciphertext = encrypt(&kms, &key_id, b"secret", Some(bound.clone())).await;

    let (plaintext, returned_key, _) = decrypt(&kms, &ciphertext, Some(bound.clone())).await;
    assert_eq!(plaintext, b"secret");
    assert_eq!(returned_key, key_arn(&key_id));
    // Pair order on the wire does not matter.
    let (plaintext, _, _) = decrypt(
        &kms,
        &ciphertext,
        Some(context(&[("purpose", "invoices"), ("tenant", "acme")])),
    )
    .await;
    assert_eq!(plaintext, b"secret");

    let mismatches = [
        ("no context", None),
        ("missing pair", Some(context(&[("tenant", "acme")]))),
        (
            "extra pair",
            Some(context(&[
                ("tenant", "acme"),
                ("purpose", "invoices"),
                ("x", "y"),
            ])),
        ),
        (
            "value case",
            Some(context(&[("tenant", "Acme"), ("purpose", "invoices")])),
        ),
        (
            "key case",
            Some(context(&[("Tenant", "acme"), ("purpose", "invoices")])),
        ),
        (
            "other value",
            Some(context(&[("tenant", "acme"), ("purpose", "payroll")])),
        ),
    ];
    for (case, wrong) in mismatches {
        let result = kms
            .decrypt()
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .set_encryption_context(wrong)
            .send()
            .await;
        eprintln!("case: {case}");
        assert_invalid_ciphertext(result);
    }

    // A ciphertext made without context refuses a context on decrypt.
    let plain_ciphertext = encrypt(&kms, &key_id, b"secret", None).await;
    assert_invalid_ciphertext(
        kms.decrypt()
            .ciphertext_blob(Blob::new(plain_ciphertext))
            .set_encryption_context(Some(context(&[("tenant", "acme")])))
            .send()
            .await,
    );
}

#[tokio::test]
async fn encryption_context_serialization_is_unambiguous() {
    // {"ab":"c"} and {"a":"bc"} concatenate to the same characters; they must
    // still be different AAD.
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();

    let ciphertext = encrypt(&kms, &key_id, b"payload", Some(context(&[("ab", "c")]))).await;
    assert_invalid_ciphertext(
        kms.decrypt()
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .set_encryption_context(Some(context(&[("a", "bc")])))
            .send()
            .await,
    );
    let (plaintext, _, _) = decrypt(&kms, &ciphertext, Some(context(&[("ab", "c")]))).await;
    assert_eq!(plaintext, b"payload");

    // Other separators a naive serialisation might use, and JSON-looking values.
    let ambiguous_pairs = [
        (context(&[("a:b", "c")]), context(&[("a", "b:c")])),
        (context(&[("a=b", "c")]), context(&[("a", "b=c")])),
        (
            context(&[("a", "b"), ("c", "d")]),
            context(&[("a", "b\",\"c\":\"d")]),
        ),
        (
            context(&[("a", "b"), ("c", "d")]),
            context(&[("a", "b,c=d")]),
        ),
    ];
    for (encrypt_context, decrypt_context) in ambiguous_pairs {
        eprintln!("case: encrypt {encrypt_context:?}, decrypt {decrypt_context:?}");
        let ciphertext = encrypt(&kms, &key_id, b"payload", Some(encrypt_context)).await;
        assert_invalid_ciphertext(
            kms.decrypt()
                .ciphertext_blob(Blob::new(ciphertext))
                .set_encryption_context(Some(decrypt_context))
                .send()
                .await,
        );
    }
}

#[tokio::test]
async fn decrypt_with_another_keys_id_is_an_incorrect_key() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_a = create_key(&kms).await.key_id().to_owned();
    let key_b = create_key(&kms).await.key_id().to_owned();
    let ciphertext = encrypt(&kms, &key_a, b"for a", None).await;

    for wrong in [key_b.clone(), key_arn(&key_b)] {
        assert_failure(
            kms.decrypt()
                .key_id(&wrong)
                .ciphertext_blob(Blob::new(ciphertext.clone()))
                .send()
                .await,
            "IncorrectKeyException",
            INCORRECT_KEY_MESSAGE,
        );
    }
    // The SDK maps it onto its typed variant too.
    let err = kms
        .decrypt()
        .key_id(&key_b)
        .ciphertext_blob(Blob::new(ciphertext.clone()))
        .send()
        .await
        .unwrap_err();
    assert!(err.into_service_error().is_incorrect_key_exception());
    // The right key still works.
    let (plaintext, _, _) = decrypt(&kms, &ciphertext, None).await;
    assert_eq!(plaintext, b"for a");
}

#[tokio::test]
async fn tampered_or_foreign_ciphertexts_are_invalid() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let ciphertext = encrypt(
        &kms,
        &key_id,
        b"integrity matters",
        Some(context(&[("k", "v")])),
    )
    .await;

    let mut last_byte_flipped = ciphertext.clone();
    if let Some(byte) = last_byte_flipped.last_mut() {
        *byte ^= 0x01;
    }
    let mut middle_byte_flipped = ciphertext.clone();
    let middle = ciphertext.len() / 2;
    middle_byte_flipped[middle] ^= 0x80;
    let truncated = ciphertext[..ciphertext.len() - 1].to_vec();
    let half = ciphertext[..ciphertext.len() / 2].to_vec();
    let mut extended = ciphertext.clone();
    extended.push(0);

    let cases = [
        ("last byte flipped", last_byte_flipped),
        ("middle byte flipped", middle_byte_flipped),
        ("one byte short", truncated),
        ("half", half),
        ("one byte longer", extended),
        ("not a KMS blob", b"this is not a ciphertext".to_vec()),
        ("single byte", vec![0x01]),
    ];
    for (case, blob) in cases {
        eprintln!("case: {case}");
        assert_invalid_ciphertext(
            kms.decrypt()
                .ciphertext_blob(Blob::new(blob))
                .set_encryption_context(Some(context(&[("k", "v")])))
                .send()
                .await,
        );
    }

    // The untouched blob still decrypts.
    let (plaintext, _, _) = decrypt(&kms, &ciphertext, Some(context(&[("k", "v")]))).await;
    assert_eq!(plaintext, b"integrity matters");
}

#[tokio::test]
async fn encrypt_enforces_the_4096_byte_plaintext_limit() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();

    let largest = vec![0xA5_u8; 4096];
    let ciphertext = encrypt(&kms, &key_id, &largest, None).await;
    assert!(
        ciphertext.len() <= 6144,
        "a 4096-byte plaintext gave a {}-byte blob; Decrypt accepts at most 6144",
        ciphertext.len()
    );
    let (plaintext, _, _) = decrypt(&kms, &ciphertext, None).await;
    assert_eq!(plaintext, largest);

    assert_failure(
        kms.encrypt().key_id(&key_id).plaintext(Blob::new(vec![0_u8; 4097])).send().await,
        "ValidationException",
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: Member must have length less than or equal to 4096",
    );
    assert_failure_code(
        kms.encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(Vec::new()))
            .send()
            .await,
        "ValidationException",
    );
}

#[tokio::test]
async fn re_encrypt_moves_a_ciphertext_to_another_key_and_context() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let source = create_key(&kms).await.key_id().to_owned();
    let destination = create_key(&kms).await.key_id().to_owned();
    let source_material = current_key_material_id(&kms, &source).await;
    let destination_material = current_key_material_id(&kms, &destination).await;
    let source_context = context(&[("stage", "old")]);
    let destination_context = context(&[("stage", "new")]);
    let ciphertext = encrypt(&kms, &source, b"move me", Some(source_context.clone())).await;

    let output = kms
        .re_encrypt()
        .ciphertext_blob(Blob::new(ciphertext.clone()))
        .set_source_encryption_context(Some(source_context.clone()))
        .destination_key_id(&destination)
        .set_destination_encryption_context(Some(destination_context.clone()))
        .send()
        .await
        .must("ReEncrypt");
    assert_eq!(
        output.source_key_id(),
        Some(key_arn(&source).as_str()),
        "ReEncrypt.SourceKeyId is an ARN"
    );
    assert_eq!(
        output.key_id(),
        Some(key_arn(&destination).as_str()),
        "ReEncrypt.KeyId is the destination ARN"
    );
    assert_eq!(
        output.source_encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );
    assert_eq!(
        output.destination_encryption_algorithm(),
        Some(&EncryptionAlgorithmSpec::SymmetricDefault)
    );
    assert_eq!(
        output.source_key_material_id(),
        Some(source_material.as_str())
    );
    assert_eq!(
        output.destination_key_material_id(),
        Some(destination_material.as_str())
    );
    let moved = blob_bytes(output.ciphertext_blob(), "ReEncrypt.CiphertextBlob");

    let (plaintext, key, material) = decrypt(&kms, &moved, Some(destination_context.clone())).await;
    assert_eq!(plaintext, b"move me");
    assert_eq!(key, key_arn(&destination));
    assert_eq!(material.as_deref(), Some(destination_material.as_str()));
    assert_invalid_ciphertext(
        kms.decrypt()
            .ciphertext_blob(Blob::new(moved))
            .set_encryption_context(Some(source_context.clone()))
            .send()
            .await,
    );

    // The source context is checked like Decrypt's, and SourceKeyId like Decrypt's KeyId.
    assert_invalid_ciphertext(
        kms.re_encrypt()
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .destination_key_id(&destination)
            .send()
            .await,
    );
    assert_failure(
        kms.re_encrypt()
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .set_source_encryption_context(Some(source_context.clone()))
            .source_key_id(&destination)
            .destination_key_id(&destination)
            .send()
            .await,
        "IncorrectKeyException",
        INCORRECT_KEY_MESSAGE,
    );

    // Re-encrypting onto the same key with a new context.
    let same_key = kms
        .re_encrypt()
        .ciphertext_blob(Blob::new(ciphertext))
        .set_source_encryption_context(Some(source_context))
        .source_key_id(key_arn(&source))
        .destination_key_id(&source)
        .send()
        .await
        .must("ReEncrypt onto the source key");
    assert_eq!(same_key.key_id(), Some(key_arn(&source).as_str()));
    let (plaintext, _, _) = decrypt(
        &kms,
        &blob_bytes(same_key.ciphertext_blob(), "CiphertextBlob"),
        None,
    )
    .await;
    assert_eq!(plaintext, b"move me");
}

#[tokio::test]
async fn generate_data_key_returns_plaintext_and_a_decryptable_copy() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let material_id = current_key_material_id(&kms, &key_id).await;
    let bound = context(&[("aws:s3:arn", "arn:aws:s3:::bucket/object")]);

    let by_spec = [(DataKeySpec::Aes256, 32_usize), (DataKeySpec::Aes128, 16)];
    for (spec, length) in by_spec {
        let output = kms
            .generate_data_key()
            .key_id(&key_id)
            .key_spec(spec.clone())
            .set_encryption_context(Some(bound.clone()))
            .send()
            .await
            .must("GenerateDataKey KeySpec");
        let plaintext = blob_bytes(output.plaintext(), "GenerateDataKey.Plaintext");
        assert_eq!(plaintext.len(), length, "KeySpec {spec:?}");
        assert_eq!(
            output.key_id(),
            Some(key_arn(&key_id).as_str()),
            "GenerateDataKey.KeyId is the ARN"
        );
        assert_eq!(
            output.key_material_id(),
            Some(material_id.as_str()),
            "GenerateDataKey.KeyMaterialId"
        );
        let ciphertext = blob_bytes(output.ciphertext_blob(), "GenerateDataKey.CiphertextBlob");
        let (decrypted, _, _) = decrypt(&kms, &ciphertext, Some(bound.clone())).await;
        assert_eq!(
            decrypted, plaintext,
            "the encrypted copy decrypts to the returned plaintext"
        );
        assert_invalid_ciphertext(
            kms.decrypt()
                .ciphertext_blob(Blob::new(ciphertext))
                .send()
                .await,
        );
    }

    for n_bytes in [1, 32, 64, 1024] {
        let output = kms
            .generate_data_key()
            .key_id(&key_id)
            .number_of_bytes(n_bytes)
            .send()
            .await
            .must("GenerateDataKey NumberOfBytes");
        let plaintext = blob_bytes(output.plaintext(), "Plaintext");
        assert_eq!(plaintext.len(), n_bytes as usize, "NumberOfBytes {n_bytes}");
        let (decrypted, _, _) = decrypt(
            &kms,
            &blob_bytes(output.ciphertext_blob(), "CiphertextBlob"),
            None,
        )
        .await;
        assert_eq!(decrypted, plaintext);
    }

    // Two data keys are different.
    let first = kms
        .generate_data_key()
        .key_id(&key_id)
        .number_of_bytes(32)
        .send()
        .await
        .must("GenerateDataKey");
    let second = kms
        .generate_data_key()
        .key_id(&key_id)
        .number_of_bytes(32)
        .send()
        .await
        .must("GenerateDataKey");
    assert_ne!(first.plaintext(), second.plaintext());

    // Exactly one of KeySpec and NumberOfBytes (§11).
    assert_failure_code(
        kms.generate_data_key().key_id(&key_id).send().await,
        "ValidationException",
    );
    assert_failure_code(
        kms.generate_data_key()
            .key_id(&key_id)
            .key_spec(DataKeySpec::Aes256)
            .number_of_bytes(32)
            .send()
            .await,
        "ValidationException",
    );
    assert_failure(
        kms.generate_data_key().key_id(&key_id).number_of_bytes(1025).send().await,
        "ValidationException",
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
    );
    assert_failure(
        kms.generate_data_key().key_id(&key_id).number_of_bytes(0).send().await,
        "ValidationException",
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
}

#[tokio::test]
async fn generate_data_key_without_plaintext_returns_only_the_encrypted_copy() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let material_id = current_key_material_id(&kms, &key_id).await;
    let bound = context(&[("aws:ebs:id", "vol-0123456789abcdef0")]);

    let output = kms
        .generate_data_key_without_plaintext()
        .key_id(&key_id)
        .number_of_bytes(64)
        .set_encryption_context(Some(bound.clone()))
        .send()
        .await
        .must("GenerateDataKeyWithoutPlaintext");
    assert_eq!(output.key_id(), Some(key_arn(&key_id).as_str()));
    assert_eq!(output.key_material_id(), Some(material_id.as_str()));
    let (plaintext, _, _) = decrypt(
        &kms,
        &blob_bytes(output.ciphertext_blob(), "CiphertextBlob"),
        Some(bound),
    )
    .await;
    assert_eq!(plaintext.len(), 64);

    let output = kms
        .generate_data_key_without_plaintext()
        .key_id(&key_id)
        .key_spec(DataKeySpec::Aes128)
        .send()
        .await
        .must("GenerateDataKeyWithoutPlaintext AES_128");
    let (plaintext, _, _) = decrypt(
        &kms,
        &blob_bytes(output.ciphertext_blob(), "CiphertextBlob"),
        None,
    )
    .await;
    assert_eq!(plaintext.len(), 16);

    assert_failure_code(
        kms.generate_data_key_without_plaintext()
            .key_id(&key_id)
            .send()
            .await,
        "ValidationException",
    );
}

#[tokio::test]
async fn generate_random_returns_the_requested_number_of_fresh_bytes() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();

    for n_bytes in [1, 16, 1024] {
        let output = kms
            .generate_random()
            .number_of_bytes(n_bytes)
            .send()
            .await
            .must("GenerateRandom");
        assert_eq!(
            blob_bytes(output.plaintext(), "Plaintext").len(),
            n_bytes as usize
        );
    }
    let first = kms
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .must("GenerateRandom");
    let second = kms
        .generate_random()
        .number_of_bytes(32)
        .send()
        .await
        .must("GenerateRandom");
    assert_ne!(
        first.plaintext(),
        second.plaintext(),
        "two random draws are equal"
    );
    assert_ne!(blob_bytes(first.plaintext(), "Plaintext"), vec![0_u8; 32]);

    assert_failure(
        kms.generate_random().number_of_bytes(1025).send().await,
        "ValidationException",
        "1 validation error detected: Value '1025' at 'numberOfBytes' failed to satisfy constraint: Member must have value less than or equal to 1024",
    );
    assert_failure(
        kms.generate_random().number_of_bytes(0).send().await,
        "ValidationException",
        "1 validation error detected: Value '0' at 'numberOfBytes' failed to satisfy constraint: Member must have value greater than or equal to 1",
    );
    assert_failure(
        kms.generate_random().send().await,
        "ValidationException",
        "NumberOfBytes is required.",
    );
}

#[tokio::test]
async fn a_disabled_key_refuses_cryptographic_operations() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let other = create_key(&kms).await.key_id().to_owned();
    let ciphertext = encrypt(&kms, &key_id, b"before disable", None).await;
    let other_ciphertext = encrypt(&kms, &other, b"other", None).await;
    kms.disable_key()
        .key_id(&key_id)
        .send()
        .await
        .must("DisableKey");

    let message = format!("{} is disabled.", key_arn(&key_id));
    assert_failure(
        kms.encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(b"x"))
            .send()
            .await,
        "DisabledException",
        &message,
    );
    assert_failure(
        kms.decrypt()
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .send()
            .await,
        "DisabledException",
        &message,
    );
    assert_failure(
        kms.generate_data_key()
            .key_id(&key_id)
            .key_spec(DataKeySpec::Aes256)
            .send()
            .await,
        "DisabledException",
        &message,
    );
    assert_failure(
        kms.generate_data_key_without_plaintext()
            .key_id(&key_id)
            .number_of_bytes(32)
            .send()
            .await,
        "DisabledException",
        &message,
    );
    // ReEncrypt fails on either side being disabled.
    assert_failure(
        kms.re_encrypt()
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .destination_key_id(&other)
            .send()
            .await,
        "DisabledException",
        &message,
    );
    assert_failure(
        kms.re_encrypt()
            .ciphertext_blob(Blob::new(other_ciphertext))
            .destination_key_id(&key_id)
            .send()
            .await,
        "DisabledException",
        &message,
    );

    // DescribeKey still works; re-enabling restores everything.
    kms.describe_key()
        .key_id(&key_id)
        .send()
        .await
        .must("DescribeKey on a disabled key");
    kms.enable_key()
        .key_id(&key_id)
        .send()
        .await
        .must("EnableKey");
    let (plaintext, _, _) = decrypt(&kms, &ciphertext, None).await;
    assert_eq!(plaintext, b"before disable");
}

#[tokio::test]
async fn a_key_pending_deletion_refuses_cryptographic_operations() {
    let server = TestServer::start(ServerOptions::signed()).await;
    let kms = server.kms_client();
    let key_id = create_key(&kms).await.key_id().to_owned();
    let ciphertext = encrypt(&kms, &key_id, b"soon gone", None).await;
    kms.schedule_key_deletion()
        .key_id(&key_id)
        .pending_window_in_days(7)
        .send()
        .await
        .must("ScheduleKeyDeletion");

    // kms-api.md §4 note 3 (the recommended choice among ✗2/✗3).
    let message = format!("{} is pending deletion.", key_arn(&key_id));
    assert_failure(
        kms.encrypt()
            .key_id(&key_id)
            .plaintext(Blob::new(b"x"))
            .send()
            .await,
        "KMSInvalidStateException",
        &message,
    );
    assert_failure(
        kms.decrypt()
            .ciphertext_blob(Blob::new(ciphertext.clone()))
            .send()
            .await,
        "KMSInvalidStateException",
        &message,
    );
    assert_failure(
        kms.generate_data_key()
            .key_id(&key_id)
            .number_of_bytes(32)
            .send()
            .await,
        "KMSInvalidStateException",
        &message,
    );
    assert_failure(
        kms.generate_data_key_without_plaintext()
            .key_id(&key_id)
            .number_of_bytes(32)
            .send()
            .await,
        "KMSInvalidStateException",
        &message,
    );

    // After CancelKeyDeletion (key is Disabled) and EnableKey the ciphertext decrypts again.
    kms.cancel_key_deletion()
        .key_id(&key_id)
        .send()
        .await
        .must("CancelKeyDeletion");
    kms.enable_key()
        .key_id(&key_id)
        .send()
        .await
        .must("EnableKey");
    let (plaintext, _, _) = decrypt(&kms, &ciphertext, None).await;
    assert_eq!(plaintext, b"soon gone");
}
