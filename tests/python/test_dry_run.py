"""DryRun on Encrypt, Decrypt, ReEncrypt, GenerateDataKey(+WithoutPlaintext)
(kms-api.md §2.9, §14 item 17): success becomes DryRunOperationException, real errors win."""

import uuid

import pytest

import harness
from harness import DRY_RUN_MESSAGE, INCORRECT_KEY_MESSAGE, expect_error, unique


@pytest.fixture(scope="module")
def keys(kms):
    a = kms.create_key(Description="dry a")["KeyMetadata"]
    b = kms.create_key(Description="dry b")["KeyMetadata"]
    ct = kms.encrypt(KeyId=a["KeyId"], Plaintext=b"dry", EncryptionContext={"c": "1"})["CiphertextBlob"]
    return a, b, ct


def calls(kms, a, b, ct):
    return {
        "Encrypt": (kms.encrypt, dict(KeyId=a["KeyId"], Plaintext=b"x")),
        "Decrypt": (kms.decrypt, dict(CiphertextBlob=ct, EncryptionContext={"c": "1"})),
        "ReEncrypt": (kms.re_encrypt, dict(CiphertextBlob=ct, SourceEncryptionContext={"c": "1"},
                                           DestinationKeyId=b["KeyId"])),
        "GenerateDataKey": (kms.generate_data_key, dict(KeyId=a["KeyId"], KeySpec="AES_256")),
        "GenerateDataKeyWithoutPlaintext": (kms.generate_data_key_without_plaintext,
                                            dict(KeyId=a["KeyId"], NumberOfBytes=32)),
    }


OPS = ["Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"]


@pytest.mark.parametrize("op", OPS)
def test_dry_run_that_would_succeed(kms, keys, op):
    fn, kwargs = calls(kms, *keys)[op]
    expect_error(fn, "DryRunOperationException", DRY_RUN_MESSAGE, DryRun=True, **kwargs)


@pytest.mark.parametrize("op", OPS)
def test_dry_run_false_runs_for_real(kms, keys, op):
    fn, kwargs = calls(kms, *keys)[op]
    resp = fn(DryRun=False, **kwargs)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_dry_run_via_alias(kms, keys):
    a, _, _ = keys
    alias = f"alias/{unique('dry')}"
    kms.create_alias(AliasName=alias, TargetKeyId=a["KeyId"])
    expect_error(kms.encrypt, "DryRunOperationException", DRY_RUN_MESSAGE,
                 KeyId=alias, Plaintext=b"x", DryRun=True)


def test_dry_run_wire_format(server, keys):
    a, _, _ = keys
    resp = harness.raw_call(server, "TrentService.Encrypt",
                            {"KeyId": a["KeyId"], "Plaintext": harness.b64(b"x"), "DryRun": True})
    assert resp.status == 400, resp
    body = resp.json
    assert body["__type"].split("#")[-1] == "DryRunOperationException"
    assert body["message"] == DRY_RUN_MESSAGE
    assert "CiphertextBlob" not in body


@pytest.mark.parametrize("op", ["Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"])
def test_dry_run_on_unknown_key_is_not_found(server, kms, keys, op):
    fn, kwargs = calls(kms, *keys)[op]
    missing = str(uuid.uuid4())
    kwargs["KeyId"] = missing
    expect_error(fn, "NotFoundException", f"Key '{server.key_arn(missing)}' does not exist",
                 DryRun=True, **kwargs)


@pytest.mark.parametrize("op", OPS)
def test_dry_run_on_disabled_key_is_disabled(kms, op):
    a = kms.create_key()["KeyMetadata"]
    b = kms.create_key()["KeyMetadata"]
    ct = kms.encrypt(KeyId=a["KeyId"], Plaintext=b"dry", EncryptionContext={"c": "1"})["CiphertextBlob"]
    kms.disable_key(KeyId=a["KeyId"])
    fn, kwargs = calls(kms, a, b, ct)[op]
    expect_error(fn, "DisabledException", harness.disabled_message(a["Arn"]), DryRun=True, **kwargs)


@pytest.mark.parametrize("op", OPS)
def test_dry_run_on_pending_deletion_key_is_invalid_state(kms, op):
    a = kms.create_key()["KeyMetadata"]
    b = kms.create_key()["KeyMetadata"]
    ct = kms.encrypt(KeyId=a["KeyId"], Plaintext=b"dry", EncryptionContext={"c": "1"})["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=a["KeyId"], PendingWindowInDays=7)
    fn, kwargs = calls(kms, a, b, ct)[op]
    expect_error(fn, "KMSInvalidStateException", harness.pending_deletion_message(a["Arn"]),
                 DryRun=True, **kwargs)


def test_dry_run_re_encrypt_to_disabled_destination(kms, keys):
    a, _, ct = keys
    dest = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=dest["KeyId"])
    expect_error(kms.re_encrypt, "DisabledException", harness.disabled_message(dest["Arn"]),
                 CiphertextBlob=ct, SourceEncryptionContext={"c": "1"},
                 DestinationKeyId=dest["KeyId"], DryRun=True)


def test_dry_run_decrypt_with_wrong_context(kms, keys):
    _, _, ct = keys
    expect_error(kms.decrypt, "InvalidCiphertextException", "", CiphertextBlob=ct,
                 EncryptionContext={"c": "2"}, DryRun=True)


def test_dry_run_decrypt_tampered(kms, keys):
    _, _, ct = keys
    bad = bytearray(ct)
    bad[-3] ^= 0x10
    expect_error(kms.decrypt, "InvalidCiphertextException", "", CiphertextBlob=bytes(bad),
                 EncryptionContext={"c": "1"}, DryRun=True)


def test_dry_run_decrypt_with_incorrect_key(kms, keys):
    _, b, ct = keys
    expect_error(kms.decrypt, "IncorrectKeyException", INCORRECT_KEY_MESSAGE, CiphertextBlob=ct,
                 EncryptionContext={"c": "1"}, KeyId=b["KeyId"], DryRun=True)


def test_dry_run_re_encrypt_with_wrong_source_context(kms, keys):
    _, b, ct = keys
    expect_error(kms.re_encrypt, "InvalidCiphertextException", "", CiphertextBlob=ct,
                 DestinationKeyId=b["KeyId"], DryRun=True)


def test_dry_run_validation_errors_win(kms_raw, keys):
    a, _, _ = keys
    expect_error(kms_raw.encrypt, "ValidationException",
                 harness.validation_message(None, "plaintext",
                                            "Member must have length less than or equal to 4096",
                                            sensitive=True),
                 KeyId=a["KeyId"], Plaintext=b"x" * 4097, DryRun=True)
    expect_error(kms_raw.generate_data_key, "ValidationException",
                 harness.validation_message(1025, "numberOfBytes",
                                            "Member must have value less than or equal to 1024"),
                 KeyId=a["KeyId"], NumberOfBytes=1025, DryRun=True)
    expect_error(kms_raw.generate_data_key, "ValidationException",
                 KeyId=a["KeyId"], NumberOfBytes=32, KeySpec="AES_256", DryRun=True)


def test_dry_run_decrypt_ignore_ciphertext(kms, keys):
    a, _, _ = keys
    expect_error(kms.decrypt, "DryRunOperationException", DRY_RUN_MESSAGE,
                 KeyId=a["KeyId"], DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])


def test_dry_run_has_no_side_effects_on_state(kms, keys):
    a, _, ct = keys
    before = kms.describe_key(KeyId=a["KeyId"])["KeyMetadata"]
    for op in OPS:
        fn, kwargs = calls(kms, *keys)[op]
        expect_error(fn, "DryRunOperationException", DRY_RUN_MESSAGE, DryRun=True, **kwargs)
    assert kms.describe_key(KeyId=a["KeyId"])["KeyMetadata"] == before
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"c": "1"})["Plaintext"] == b"dry"


def test_dry_run_re_encrypt_ignore_ciphertext(kms, keys):
    a, b, _ = keys
    expect_error(kms.re_encrypt, "DryRunOperationException", DRY_RUN_MESSAGE,
                 SourceKeyId=a["KeyId"], DestinationKeyId=b["KeyId"], DryRun=True,
                 DryRunModifiers=["IGNORE_CIPHERTEXT"])


def test_ignore_ciphertext_needs_a_key_id(kms):
    expect_error(kms.decrypt, "ValidationException", DryRun=True,
                 DryRunModifiers=["IGNORE_CIPHERTEXT"])


def test_ignore_ciphertext_still_checks_the_key_state(kms):
    a = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=a["KeyId"])
    expect_error(kms.decrypt, "DisabledException", harness.disabled_message(a["Arn"]),
                 KeyId=a["KeyId"], DryRun=True, DryRunModifiers=["IGNORE_CIPHERTEXT"])
