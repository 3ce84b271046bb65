"""Encrypt, Decrypt, ReEncrypt, GenerateDataKey(+WithoutPlaintext), GenerateRandom and
encryption context (kms-api.md §2.2, §6, §11, §14 items 5-9)."""

import base64
import os
import re
import uuid

import pytest

import harness
from harness import INCORRECT_KEY_MESSAGE, b64, expect_error, unique, validation_message


@pytest.fixture(scope="module")
def key(kms):
    return kms.create_key(Description="crypto")["KeyMetadata"]


@pytest.fixture(scope="module")
def key2(kms):
    return kms.create_key(Description="crypto 2")["KeyMetadata"]


@pytest.fixture(scope="module")
def aliased(server, kms, key):
    alias = f"alias/{unique('crypto')}"
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    return alias


def identifiers(server, key, alias):
    return {"id": key["KeyId"], "arn": key["Arn"], "alias": alias,
            "alias_arn": server.alias_arn(alias)}


# -- Encrypt / Decrypt ----------------------------------------------------------

def test_encrypt_decrypt_round_trip(kms, key):
    enc = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"hello keyward")
    assert enc["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert enc["KeyId"] == key["Arn"]
    assert enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert "KeyMaterialId" not in enc  # not in the Encrypt output shape
    assert set(enc) - {"ResponseMetadata"} == {"CiphertextBlob", "KeyId", "EncryptionAlgorithm"}
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])
    assert dec["Plaintext"] == b"hello keyward"
    assert dec["KeyId"] == key["Arn"]
    assert dec["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    current = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    assert dec["KeyMaterialId"] == current


@pytest.mark.parametrize("algorithm", ["RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"])
def test_an_asymmetric_algorithm_on_a_symmetric_key_is_invalid_key_usage(kms, key, key2, algorithm):
    # Issue 17, item 21: the InvalidKeyUsageException contract, on every operation that takes
    # an algorithm.
    message = (f"The encryption algorithm {algorithm} is not compatible with the key spec "
               f"SYMMETRIC_DEFAULT of {key['Arn']}.")
    expect_error(kms.encrypt, "InvalidKeyUsageException", message,
                 KeyId=key["KeyId"], Plaintext=b"x", EncryptionAlgorithm=algorithm)
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    expect_error(kms.decrypt, "InvalidKeyUsageException", message,
                 CiphertextBlob=blob, EncryptionAlgorithm=algorithm)
    expect_error(kms.re_encrypt, "InvalidKeyUsageException", message, CiphertextBlob=blob,
                 DestinationKeyId=key2["KeyId"], SourceEncryptionAlgorithm=algorithm)
    expect_error(kms.re_encrypt, "InvalidKeyUsageException", message.replace(key["Arn"], key2["Arn"]),
                 CiphertextBlob=blob, DestinationKeyId=key2["KeyId"],
                 DestinationEncryptionAlgorithm=algorithm)


def test_encryption_is_randomized(kms, key):
    a = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same")["CiphertextBlob"]
    b = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same")["CiphertextBlob"]
    assert a != b
    assert b"same" not in a


@pytest.mark.parametrize("form", ["id", "arn", "alias", "alias_arn"])
def test_encrypt_accepts_every_key_identifier_and_answers_with_key_arn(server, kms, key, aliased, form):
    ident = identifiers(server, key, aliased)[form]
    enc = kms.encrypt(KeyId=ident, Plaintext=b"by " + form.encode())
    assert enc["KeyId"] == key["Arn"]
    assert kms.decrypt(CiphertextBlob=enc["CiphertextBlob"])["Plaintext"] == b"by " + form.encode()


@pytest.mark.parametrize("form", ["id", "arn", "alias", "alias_arn"])
def test_decrypt_with_key_id_in_every_form(server, kms, key, aliased, form):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    dec = kms.decrypt(CiphertextBlob=ct, KeyId=identifiers(server, key, aliased)[form])
    assert dec["Plaintext"] == b"p"
    assert dec["KeyId"] == key["Arn"]


def test_decrypt_with_other_key_id_is_incorrect_key(kms, key, key2):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    expect_error(kms.decrypt, "IncorrectKeyException", INCORRECT_KEY_MESSAGE,
                 CiphertextBlob=ct, KeyId=key2["KeyId"])
    expect_error(kms.decrypt, "IncorrectKeyException", INCORRECT_KEY_MESSAGE,
                 CiphertextBlob=ct, KeyId=key2["Arn"])


def test_decrypt_with_unknown_key_id_is_not_found(server, kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"p")["CiphertextBlob"]
    missing = str(uuid.uuid4())
    expect_error(kms.decrypt, "NotFoundException",
                 f"Key '{server.key_arn(missing)}' does not exist",
                 CiphertextBlob=ct, KeyId=missing)


def test_ciphertexts_of_two_keys_decrypt_to_their_own_key(kms, key, key2):
    c1 = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"one")["CiphertextBlob"]
    c2 = kms.encrypt(KeyId=key2["KeyId"], Plaintext=b"two")["CiphertextBlob"]
    d1, d2 = kms.decrypt(CiphertextBlob=c1), kms.decrypt(CiphertextBlob=c2)
    assert (d1["Plaintext"], d1["KeyId"]) == (b"one", key["Arn"])
    assert (d2["Plaintext"], d2["KeyId"]) == (b"two", key2["Arn"])


@pytest.mark.parametrize("size", [1, 2, 255, 1024, 4095, 4096])
def test_plaintext_sizes(kms, key, size):
    pt = os.urandom(size)
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=pt)["CiphertextBlob"]
    assert 1 <= len(ct) <= 6144, len(ct)
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == pt


def test_plaintext_too_long(kms, key):
    expect_error(kms.encrypt, "ValidationException",
                 validation_message(None, "plaintext",
                                    "Member must have length less than or equal to 4096",
                                    sensitive=True),
                 KeyId=key["KeyId"], Plaintext=b"x" * 4097)


def test_plaintext_empty(kms_raw, key):
    expect_error(kms_raw.encrypt, "ValidationException",
                 validation_message(None, "plaintext",
                                    "Member must have length greater than or equal to 1",
                                    sensitive=True),
                 KeyId=key["KeyId"], Plaintext=b"")


def test_encrypt_unknown_key(server, kms):
    missing = str(uuid.uuid4())
    expect_error(kms.encrypt, "NotFoundException",
                 f"Key '{server.key_arn(missing)}' does not exist", KeyId=missing, Plaintext=b"x")


def test_encrypt_unknown_alias(server, kms):
    alias = f"alias/{unique('nope')}"
    expect_error(kms.encrypt, "NotFoundException",
                 f"Alias {server.alias_arn(alias)} is not found.", KeyId=alias, Plaintext=b"x")


def test_encrypt_malformed_key_id(kms):
    expect_error(kms.encrypt, "NotFoundException", "Invalid keyId 'fake-key-id'",
                 KeyId="fake-key-id", Plaintext=b"x")


def test_encrypt_missing_key_id(kms_raw):
    expect_error(kms_raw.encrypt, "ValidationException",
                 "1 validation error detected: Value null at 'keyId' failed to satisfy "
                 "constraint: Member must not be null",
                 Plaintext=b"x")


# -- ciphertext integrity --------------------------------------------------------

def _invalid_ciphertext(kms, blob, **kwargs):
    resp = expect_error(kms.decrypt, "InvalidCiphertextException", "", CiphertextBlob=blob, **kwargs)
    return resp


@pytest.mark.parametrize("where", ["first", "second", "middle", "last"])
def test_decrypt_rejects_a_flipped_bit(kms, key, where):
    ct = bytearray(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"integrity")["CiphertextBlob"])
    idx = {"first": 0, "second": 1, "middle": len(ct) // 2, "last": len(ct) - 1}[where]
    ct[idx] ^= 0x01
    _invalid_ciphertext(kms, bytes(ct))


def test_decrypt_rejects_every_single_byte_corruption(kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"every byte counts")["CiphertextBlob"]
    wrong = {}
    for idx in range(len(ct)):
        bad = bytearray(ct)
        bad[idx] ^= 0x80
        try:
            kms.decrypt(CiphertextBlob=bytes(bad))
        except kms.exceptions.ClientError as e:
            err = e.response["Error"]
            if (err["Code"], err.get("Message", "")) != ("InvalidCiphertextException", ""):
                wrong[idx] = f"{err['Code']}: {err.get('Message')}"
        else:
            wrong[idx] = "accepted"
    assert not wrong, f"{len(wrong)} of {len(ct)} corrupted positions: {harness.short(wrong, 1500)}"


@pytest.mark.parametrize("cut", ["drop_last", "half", "first_10", "one_byte"])
def test_decrypt_rejects_truncated_ciphertext(kms, key, cut):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"truncate me")["CiphertextBlob"]
    blob = {"drop_last": ct[:-1], "half": ct[: len(ct) // 2], "first_10": ct[:10],
            "one_byte": ct[:1]}[cut]
    _invalid_ciphertext(kms, blob)


def test_decrypt_rejects_appended_bytes(kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"append")["CiphertextBlob"]
    _invalid_ciphertext(kms, ct + b"\x00")


@pytest.mark.parametrize("size", [1, 32, 200, 6144])
def test_decrypt_rejects_random_bytes(kms, size):
    _invalid_ciphertext(kms, os.urandom(size))


def test_decrypt_ciphertext_too_long(kms):
    expect_error(kms.decrypt, "ValidationException",
                 message_contains="'ciphertextBlob' failed to satisfy constraint: Member must "
                 "have length less than or equal to 6144",
                 CiphertextBlob=os.urandom(6145))


def test_decrypt_empty_ciphertext(kms_raw):
    expect_error(kms_raw.decrypt, "ValidationException",
                 message_contains="'ciphertextBlob' failed to satisfy constraint: Member must "
                 "have length greater than or equal to 1",
                 CiphertextBlob=b"")


def test_invalid_ciphertext_wire_body_has_no_message(server, key):
    resp = harness.raw_call(server, "TrentService.Decrypt",
                            {"CiphertextBlob": b64(os.urandom(64))})
    assert resp.status == 400, resp
    body = resp.json
    assert body["__type"].split("#")[-1] == "InvalidCiphertextException", body
    assert body.get("message", body.get("Message", "")) in ("", None), body


# -- encryption context --------------------------------------------------------------

CTX = {"purpose": "test", "tenant": "acme"}


def test_encryption_context_round_trip(kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"ctx", EncryptionContext=CTX)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext=dict(CTX))["Plaintext"] == b"ctx"
    reordered = {"tenant": "acme", "purpose": "test"}
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext=reordered)["Plaintext"] == b"ctx"


@pytest.mark.parametrize("label,ctx", [
    ("absent", None),
    ("empty", {}),
    ("missing pair", {"purpose": "test"}),
    ("extra pair", {**CTX, "extra": "x"}),
    ("other value", {"purpose": "test", "tenant": "acme2"}),
    ("value case", {"purpose": "test", "tenant": "ACME"}),
    ("key case", {"Purpose": "test", "tenant": "acme"}),
    ("swapped", {"purpose": "acme", "tenant": "test"}),
])
def test_encryption_context_mismatch_is_invalid_ciphertext(kms, key, label, ctx):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"ctx", EncryptionContext=CTX)["CiphertextBlob"]
    kwargs = {} if ctx is None else {"EncryptionContext": ctx}
    _invalid_ciphertext(kms, ct, **kwargs)


def test_context_given_on_decrypt_but_not_on_encrypt(kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"no ctx")["CiphertextBlob"]
    _invalid_ciphertext(kms, ct, EncryptionContext={"a": "b"})


@pytest.mark.parametrize("enc_ctx,dec_ctx", [
    ({"ab": "c"}, {"a": "bc"}),
    ({"a": "bc"}, {"ab": "c"}),
    ({"a": "b", "cd": "e"}, {"a": "bc", "d": "e"}),
    ({"a=b": "c"}, {"a": "b=c"}),
    ({"a": "b,c=d"}, {"a": "b", "c": "d"}),
])
def test_encryption_context_serialization_is_unambiguous(kms, key, enc_ctx, dec_ctx):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"amb", EncryptionContext=enc_ctx)["CiphertextBlob"]
    _invalid_ciphertext(kms, ct, EncryptionContext=dec_ctx)
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext=enc_ctx)["Plaintext"] == b"amb"


def test_encryption_context_unicode(kms, key):
    ctx = {"clé": "värde ✓", "鍵": "値"}
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"u", EncryptionContext=ctx)["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext=ctx)["Plaintext"] == b"u"
    _invalid_ciphertext(kms, ct, EncryptionContext={"cle": "värde ✓", "鍵": "値"})


def test_encryption_context_member_order_on_the_wire_does_not_matter(server, key):
    """Same pairs, different JSON member order, sent raw."""
    enc_body = ('{"KeyId": "%s", "Plaintext": "%s", "EncryptionContext": '
                '{"a": "1", "b": "2", "c": "3"}}' % (key["KeyId"], b64(b"order")))
    enc = harness.raw_call(server, "TrentService.Encrypt", enc_body)
    assert enc.status == 200, enc
    ct = enc.json["CiphertextBlob"]
    dec_body = '{"CiphertextBlob": "%s", "EncryptionContext": {"c": "3", "a": "1", "b": "2"}}' % ct
    dec = harness.raw_call(server, "TrentService.Decrypt", dec_body)
    assert dec.status == 200, dec
    assert dec.json["Plaintext"] == b64(b"order")


# -- ReEncrypt -------------------------------------------------------------------------

def test_re_encrypt_between_keys(kms, key, key2):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"move me",
                     EncryptionContext={"from": "a"})["CiphertextBlob"]
    r = kms.re_encrypt(CiphertextBlob=ct, SourceEncryptionContext={"from": "a"},
                       DestinationKeyId=key2["KeyId"], DestinationEncryptionContext={"to": "b"})
    assert r["SourceKeyId"] == key["Arn"]
    assert r["KeyId"] == key2["Arn"]
    assert r["SourceEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    assert r["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    km1 = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    km2 = kms.describe_key(KeyId=key2["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    assert r["SourceKeyMaterialId"] == km1
    assert r["DestinationKeyMaterialId"] == km2
    dec = kms.decrypt(CiphertextBlob=r["CiphertextBlob"], EncryptionContext={"to": "b"})
    assert (dec["Plaintext"], dec["KeyId"]) == (b"move me", key2["Arn"])
    _invalid_ciphertext(kms, r["CiphertextBlob"], EncryptionContext={"from": "a"})


def test_re_encrypt_same_key_gives_fresh_ciphertext(kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"same key")["CiphertextBlob"]
    r = kms.re_encrypt(CiphertextBlob=ct, DestinationKeyId=key["Arn"])
    assert r["CiphertextBlob"] != ct
    assert r["SourceKeyId"] == r["KeyId"] == key["Arn"]
    assert kms.decrypt(CiphertextBlob=r["CiphertextBlob"])["Plaintext"] == b"same key"


def test_re_encrypt_to_alias(server, kms, key, key2, aliased):
    ct = kms.encrypt(KeyId=key2["KeyId"], Plaintext=b"to alias")["CiphertextBlob"]
    r = kms.re_encrypt(CiphertextBlob=ct, DestinationKeyId=server.alias_arn(aliased))
    assert r["KeyId"] == key["Arn"]
    assert r["SourceKeyId"] == key2["Arn"]


def test_re_encrypt_source_context_mismatch(kms, key, key2):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x", EncryptionContext={"k": "v"})["CiphertextBlob"]
    expect_error(kms.re_encrypt, "InvalidCiphertextException", "",
                 CiphertextBlob=ct, DestinationKeyId=key2["KeyId"],
                 SourceEncryptionContext={"k": "V"})
    expect_error(kms.re_encrypt, "InvalidCiphertextException", "",
                 CiphertextBlob=ct, DestinationKeyId=key2["KeyId"])


def test_re_encrypt_wrong_source_key_id(kms, key, key2):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    expect_error(kms.re_encrypt, "IncorrectKeyException", INCORRECT_KEY_MESSAGE,
                 CiphertextBlob=ct, SourceKeyId=key2["KeyId"], DestinationKeyId=key2["KeyId"])
    r = kms.re_encrypt(CiphertextBlob=ct, SourceKeyId=key["Arn"], DestinationKeyId=key2["KeyId"])
    assert r["SourceKeyId"] == key["Arn"]


def test_re_encrypt_tampered_ciphertext(kms, key, key2):
    ct = bytearray(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"])
    ct[-1] ^= 1
    expect_error(kms.re_encrypt, "InvalidCiphertextException", "",
                 CiphertextBlob=bytes(ct), DestinationKeyId=key2["KeyId"])


def test_re_encrypt_unknown_destination(server, kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    missing = str(uuid.uuid4())
    expect_error(kms.re_encrypt, "NotFoundException",
                 f"Key '{server.key_arn(missing)}' does not exist",
                 CiphertextBlob=ct, DestinationKeyId=missing)


# -- GenerateDataKey ------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,length", [
    ({"KeySpec": "AES_256"}, 32), ({"KeySpec": "AES_128"}, 16),
    ({"NumberOfBytes": 1}, 1), ({"NumberOfBytes": 64}, 64), ({"NumberOfBytes": 1024}, 1024),
])
def test_generate_data_key(kms, key, kwargs, length):
    ctx = {"dk": "1"}
    r = kms.generate_data_key(KeyId=key["KeyId"], EncryptionContext=ctx, **kwargs)
    assert len(r["Plaintext"]) == length
    assert r["KeyId"] == key["Arn"]
    current = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    assert r["KeyMaterialId"] == current
    dec = kms.decrypt(CiphertextBlob=r["CiphertextBlob"], EncryptionContext=ctx)
    assert dec["Plaintext"] == r["Plaintext"]
    _invalid_ciphertext(kms, r["CiphertextBlob"])


def test_generate_data_keys_are_random(kms, key):
    a = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"]
    b = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_256")["Plaintext"]
    assert a != b


def test_generate_data_key_via_alias(kms, key, aliased):
    r = kms.generate_data_key(KeyId=aliased, NumberOfBytes=32)
    assert r["KeyId"] == key["Arn"]


def test_generate_data_key_without_plaintext(kms, key):
    r = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256",
                                                EncryptionContext={"w": "o"})
    assert "Plaintext" not in r
    assert r["KeyId"] == key["Arn"]
    assert r["KeyMaterialId"] == kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CurrentKeyMaterialId"]
    dec = kms.decrypt(CiphertextBlob=r["CiphertextBlob"], EncryptionContext={"w": "o"})
    assert len(dec["Plaintext"]) == 32
    r64 = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], NumberOfBytes=64)
    assert len(kms.decrypt(CiphertextBlob=r64["CiphertextBlob"])["Plaintext"]) == 64


@pytest.mark.parametrize("op", ["generate_data_key", "generate_data_key_without_plaintext"])
def test_generate_data_key_needs_exactly_one_of_key_spec_and_number_of_bytes(kms, key, op):
    fn = getattr(kms, op)
    expect_error(fn, "ValidationException", KeyId=key["KeyId"], KeySpec="AES_256", NumberOfBytes=32)
    expect_error(fn, "ValidationException", KeyId=key["KeyId"])


@pytest.mark.parametrize("op", ["generate_data_key", "generate_data_key_without_plaintext"])
@pytest.mark.parametrize("n,constraint", [
    (0, "Member must have value greater than or equal to 1"),
    (1025, "Member must have value less than or equal to 1024"),
])
def test_generate_data_key_number_of_bytes_range(kms_raw, key, op, n, constraint):
    expect_error(getattr(kms_raw, op), "ValidationException",
                 validation_message(n, "numberOfBytes", constraint),
                 KeyId=key["KeyId"], NumberOfBytes=n)


def test_generate_data_key_bad_key_spec(kms_raw, key):
    expect_error(kms_raw.generate_data_key, "ValidationException",
                 message_startswith="1 validation error detected: Value 'AES_512' at 'keySpec' "
                 "failed to satisfy constraint: Member must satisfy enum value set: [",
                 KeyId=key["KeyId"], KeySpec="AES_512")


# -- GenerateRandom ---------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 16, 32, 1024])
def test_generate_random(kms, n):
    r = kms.generate_random(NumberOfBytes=n)
    assert len(r["Plaintext"]) == n
    assert set(r) - {"ResponseMetadata"} == {"Plaintext"}


def test_generate_random_is_random(kms):
    assert kms.generate_random(NumberOfBytes=32)["Plaintext"] != \
        kms.generate_random(NumberOfBytes=32)["Plaintext"]


@pytest.mark.parametrize("n,constraint", [
    (0, "Member must have value greater than or equal to 1"),
    (1025, "Member must have value less than or equal to 1024"),
])
def test_generate_random_out_of_range(kms_raw, n, constraint):
    expect_error(kms_raw.generate_random, "ValidationException",
                 validation_message(n, "numberOfBytes", constraint), NumberOfBytes=n)


def test_generate_random_without_number_of_bytes(kms):
    expect_error(kms.generate_random, "ValidationException", "NumberOfBytes is required.")


# -- wire encodings -----------------------------------------------------------------------

def test_blobs_are_standard_base64_with_padding(server, key):
    resp = harness.raw_call(server, "TrentService.GenerateDataKey",
                            {"KeyId": key["KeyId"], "NumberOfBytes": 31})
    assert resp.status == 200, resp
    for member in ("Plaintext", "CiphertextBlob"):
        text = resp.json[member]
        assert re.fullmatch(r"[A-Za-z0-9+/]*={0,2}", text) and len(text) % 4 == 0, (member, text)
    assert len(base64.b64decode(resp.json["Plaintext"])) == 31


# -- explicit algorithm and response shapes ------------------------------------------------

def test_explicit_symmetric_default_algorithm(kms, key, key2):
    enc = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"alg", EncryptionAlgorithm="SYMMETRIC_DEFAULT")
    assert enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionAlgorithm="SYMMETRIC_DEFAULT")
    assert dec["Plaintext"] == b"alg"
    r = kms.re_encrypt(CiphertextBlob=enc["CiphertextBlob"], DestinationKeyId=key2["KeyId"],
                       SourceEncryptionAlgorithm="SYMMETRIC_DEFAULT",
                       DestinationEncryptionAlgorithm="SYMMETRIC_DEFAULT")
    assert r["DestinationEncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"


def test_decrypt_response_members(kms, key):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"shape")["CiphertextBlob"]
    dec = kms.decrypt(CiphertextBlob=ct)
    assert set(dec) - {"ResponseMetadata"} == {"KeyId", "Plaintext", "EncryptionAlgorithm",
                                               "KeyMaterialId"}


def test_generate_data_key_response_members(kms, key):
    r = kms.generate_data_key(KeyId=key["KeyId"], KeySpec="AES_128")
    assert set(r) - {"ResponseMetadata"} == {"CiphertextBlob", "Plaintext", "KeyId",
                                             "KeyMaterialId"}
    r = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_128")
    assert set(r) - {"ResponseMetadata"} == {"CiphertextBlob", "KeyId", "KeyMaterialId"}


def test_re_encrypt_response_members(kms, key, key2):
    ct = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"shape")["CiphertextBlob"]
    r = kms.re_encrypt(CiphertextBlob=ct, DestinationKeyId=key2["KeyId"])
    assert set(r) - {"ResponseMetadata"} == {
        "CiphertextBlob", "SourceKeyId", "KeyId", "SourceEncryptionAlgorithm",
        "DestinationEncryptionAlgorithm", "SourceKeyMaterialId", "DestinationKeyMaterialId"}


def test_decrypt_without_ciphertext(kms_raw):
    expect_error(kms_raw.decrypt, "ValidationException",
                 "1 validation error detected: Value null at 'ciphertextBlob' failed to satisfy "
                 "constraint: Member must not be null")
