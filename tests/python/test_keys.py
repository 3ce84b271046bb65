"""Key lifecycle and metadata: CreateKey, DescribeKey, ListKeys, UpdateKeyDescription,
EnableKey/DisableKey and the key-state table (kms-api.md §2.1, §4, §5)."""

import re
import time
import uuid

import pytest

import harness
from harness import expect_error, unique, validation_message

KEY_METADATA_MEMBERS = {
    "AWSAccountId", "KeyId", "Arn", "CreationDate", "Enabled", "Description", "KeyUsage",
    "KeyState", "DeletionDate", "ValidTo", "Origin", "CustomKeyStoreId", "CloudHsmClusterId",
    "ExpirationModel", "KeyManager", "CustomerMasterKeySpec", "KeySpec", "EncryptionAlgorithms",
    "SigningAlgorithms", "KeyAgreementAlgorithms", "EncapsulationAlgorithms", "MultiRegion",
    "MultiRegionConfiguration", "PendingDeletionWindowInDays", "MacAlgorithms",
    "XksKeyConfiguration", "CurrentKeyMaterialId",
}


def new_key(kms, **kwargs):
    return kms.create_key(**kwargs)["KeyMetadata"]


def check_new_symmetric_metadata(md, server, description=""):
    assert set(md) <= KEY_METADATA_MEMBERS, set(md) - KEY_METADATA_MEMBERS
    assert re.fullmatch(harness.UUID_RE, md["KeyId"]), md["KeyId"]
    assert md["Arn"] == server.key_arn(md["KeyId"])
    assert md["AWSAccountId"] == server.account
    assert abs(md["CreationDate"].timestamp() - time.time()) < 300
    assert md["Enabled"] is True
    assert md["Description"] == description
    assert md["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert md["KeyState"] == "Enabled"
    assert md["Origin"] == "AWS_KMS"
    assert md["KeyManager"] == "CUSTOMER"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["CustomerMasterKeySpec"] == "SYMMETRIC_DEFAULT"
    assert md["EncryptionAlgorithms"] == ["SYMMETRIC_DEFAULT"]
    assert md["MultiRegion"] is False
    assert re.fullmatch(r"[0-9a-f]{64}", md["CurrentKeyMaterialId"]), md.get("CurrentKeyMaterialId")
    assert "DeletionDate" not in md
    assert "SigningAlgorithms" not in md and "MacAlgorithms" not in md


# -- CreateKey / DescribeKey ---------------------------------------------

def test_create_key_defaults(server, kms):
    resp = kms.create_key()
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    check_new_symmetric_metadata(resp["KeyMetadata"], server)


def test_create_key_with_explicit_symmetric_parameters(server, kms):
    md = new_key(kms, Description="explicit", KeyUsage="ENCRYPT_DECRYPT",
                 KeySpec="SYMMETRIC_DEFAULT", Origin="AWS_KMS", MultiRegion=False)
    check_new_symmetric_metadata(md, server, description="explicit")


def test_create_key_with_customer_master_key_spec_alias(server, kms):
    md = new_key(kms, CustomerMasterKeySpec="SYMMETRIC_DEFAULT")
    check_new_symmetric_metadata(md, server)


@pytest.mark.parametrize("spec", [{"KeySpec": "HMAC_256"}, {"KeySpec": "RSA_2048"},
                                  {"KeySpec": "ECC_NIST_P256"},
                                  {"CustomerMasterKeySpec": "ECC_SECG_P256K1"}],
                         ids=["HMAC_256", "RSA_2048", "ECC_NIST_P256", "cmk-spec"])
def test_create_key_without_key_usage_for_a_non_symmetric_spec(kms, spec):
    # AWS asks for KeyUsage before it says anything about the spec (issue 17, item 13;
    # LocalStack's AWS-validated test_hmac_create_key_invalid_operations).
    expect_error(kms.create_key, "ValidationException",
                 "You must specify a KeyUsage value for all KMS keys except for symmetric "
                 "encryption keys.", **spec)


def test_create_key_without_key_usage_through_the_cli(aws):
    done = aws("kms", "create-key", "--key-spec", "HMAC_512")
    assert done.returncode != 0
    assert ("(ValidationException) when calling the CreateKey operation: You must specify a "
            "KeyUsage value for all KMS keys except for symmetric encryption keys.") in done.stderr, done


def test_create_key_ids_are_unique(kms):
    ids = {new_key(kms)["KeyId"] for _ in range(5)}
    assert len(ids) == 5


def test_key_material_ids_are_unique_per_key(kms):
    a, b = new_key(kms), new_key(kms)
    assert a["CurrentKeyMaterialId"] != b["CurrentKeyMaterialId"]


def test_describe_key_matches_create_key(server, kms):
    md = new_key(kms, Description="describe me")
    described = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert described == md
    check_new_symmetric_metadata(described, server, description="describe me")


def test_describe_key_accepts_id_arn_alias_name_and_alias_arn(server, kms):
    md = new_key(kms)
    alias = f"alias/{unique('desc')}"
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    for ident in (md["KeyId"], md["Arn"], alias, server.alias_arn(alias)):
        got = kms.describe_key(KeyId=ident)["KeyMetadata"]
        assert got["KeyId"] == md["KeyId"], ident
        assert got["Arn"] == md["Arn"], ident


def test_describe_key_unknown_key_id(server, kms):
    key_id = str(uuid.uuid4())
    expect_error(kms.describe_key, "NotFoundException",
                 f"Key '{server.key_arn(key_id)}' does not exist", KeyId=key_id)


def test_describe_key_unknown_key_arn(server, kms):
    key_id = str(uuid.uuid4())
    expect_error(kms.describe_key, "NotFoundException",
                 f"Key '{server.key_arn(key_id)}' does not exist", KeyId=server.key_arn(key_id))


def test_describe_key_unknown_multi_region_key_id(server, kms, aws):
    # A well-formed multi-Region key ID (mrk- and 32 hex digits) that names no key is
    # "does not exist", not "Invalid keyId" (issue 17, item 11; LocalStack's AWS-validated
    # test_get_key_does_not_exist).
    key_id = "mrk-" + uuid.uuid4().hex
    expect_error(kms.describe_key, "NotFoundException",
                 f"Key '{server.key_arn(key_id)}' does not exist", KeyId=key_id)
    expect_error(kms.describe_key, "NotFoundException",
                 f"Key '{server.key_arn(key_id)}' does not exist", KeyId=server.key_arn(key_id))
    done = aws("kms", "encrypt", "--key-id", key_id, "--plaintext", "eA==")
    assert done.returncode != 0
    assert f"(NotFoundException) when calling the Encrypt operation: Key '{server.key_arn(key_id)}' does not exist" in done.stderr, done


@pytest.mark.parametrize("bad", ["fake-key-id", "1234abcd12ab34cd56ef1234567890ab", "not a key",
                                 "mrk-fake-key-id", "mrk-" + "a" * 31])
def test_describe_key_malformed_key_id(kms, bad):
    expect_error(kms.describe_key, "NotFoundException", f"Invalid keyId '{bad}'", KeyId=bad)


def test_describe_key_unknown_alias(server, kms):
    alias = f"alias/{unique('missing')}"
    expect_error(kms.describe_key, "NotFoundException",
                 f"Alias {server.alias_arn(alias)} is not found.", KeyId=alias)


def test_describe_key_arn_of_other_region(server, kms):
    md = new_key(kms)
    other = harness.key_arn(md["KeyId"], server.account, "us-west-2")
    expect_error(kms.describe_key, "NotFoundException", "Invalid arn us-west-2", KeyId=other)


def test_create_key_description_max_length(server, kms):
    md = new_key(kms, Description="d" * 8192)
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["Description"] == "d" * 8192


def test_create_key_description_too_long(kms):
    desc = "d" * 8193
    expect_error(kms.create_key, "ValidationException",
                 validation_message(desc, "description",
                                    "Member must have length less than or equal to 8192"),
                 Description=desc)


def test_create_key_invalid_key_usage_enum(kms_raw):
    expect_error(kms_raw.create_key, "ValidationException",
                 message_startswith="1 validation error detected: Value 'RANDOM' at 'keyUsage' "
                 "failed to satisfy constraint: Member must satisfy enum value set: [",
                 KeyUsage="RANDOM")


def test_create_key_unicode_description_round_trips(kms):
    desc = "clé für 鍵 🔑"
    md = new_key(kms, Description=desc)
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["Description"] == desc


# -- ListKeys ---------------------------------------------------------------

def test_list_keys_contains_created_keys(server, kms):
    created = [new_key(kms) for _ in range(3)]
    listed = []
    for page in kms.get_paginator("list_keys").paginate():
        listed += page["Keys"]
    for entry in listed:
        assert set(entry) == {"KeyId", "KeyArn"}, entry
        assert entry["KeyArn"] == server.key_arn(entry["KeyId"])
    ids = [e["KeyId"] for e in listed]
    assert len(ids) == len(set(ids)), "duplicate keys in ListKeys"
    for md in created:
        assert md["KeyId"] in ids


def test_list_keys_paging_with_limit_and_marker(server_factory):
    s = server_factory.start()
    kms = harness.kms_client(s)
    first = kms.list_keys()
    assert first["Keys"] == [] and first["Truncated"] is False and "NextMarker" not in first
    created = {new_key(kms)["KeyId"] for _ in range(5)}

    pages = []
    resp = kms.list_keys(Limit=2)
    pages.append(resp)
    while resp["Truncated"]:
        assert isinstance(resp["NextMarker"], str) and resp["NextMarker"]
        resp = kms.list_keys(Limit=2, Marker=resp["NextMarker"])
        pages.append(resp)
    assert [len(p["Keys"]) for p in pages] == [2, 2, 1]
    assert [p["Truncated"] for p in pages] == [True, True, False]
    assert "NextMarker" not in pages[-1]
    seen = [k["KeyId"] for p in pages for k in p["Keys"]]
    assert sorted(seen) == sorted(created)

    whole = kms.list_keys()
    assert {k["KeyId"] for k in whole["Keys"]} == created
    assert whole["Truncated"] is False
    exact = kms.list_keys(Limit=5)
    assert len(exact["Keys"]) == 5 and exact["Truncated"] is False


@pytest.mark.parametrize("limit,constraint", [
    (0, "Member must have value greater than or equal to 1"),
    (1001, "Member must have value less than or equal to 1000"),
])
def test_list_keys_limit_out_of_range(kms_raw, limit, constraint):
    expect_error(kms_raw.list_keys, "ValidationException",
                 validation_message(limit, "limit", constraint), Limit=limit)


def test_list_keys_bad_marker(kms):
    expect_error(kms.list_keys, "InvalidMarkerException", Marker="not-a-marker-we-issued")


# -- UpdateKeyDescription ------------------------------------------------------

def test_update_key_description(kms):
    md = new_key(kms, Description="before")
    resp = kms.update_key_description(KeyId=md["KeyId"], Description="after")
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["Description"] == "after"
    kms.update_key_description(KeyId=md["Arn"], Description="")
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["Description"] == ""


def test_update_key_description_unknown_key(server, kms):
    key_id = str(uuid.uuid4())
    expect_error(kms.update_key_description, "NotFoundException",
                 f"Key '{server.key_arn(key_id)}' does not exist", KeyId=key_id, Description="x")


def test_update_key_description_too_long(kms):
    md = new_key(kms)
    desc = "x" * 8193
    expect_error(kms.update_key_description, "ValidationException",
                 validation_message(desc, "description",
                                    "Member must have length less than or equal to 8192"),
                 KeyId=md["KeyId"], Description=desc)


# -- EnableKey / DisableKey and the key-state table --------------------------

def test_disable_and_enable_key(kms):
    md = new_key(kms)
    assert kms.disable_key(KeyId=md["KeyId"])["ResponseMetadata"]["HTTPStatusCode"] == 200
    d = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert (d["KeyState"], d["Enabled"]) == ("Disabled", False)
    kms.disable_key(KeyId=md["Arn"])  # idempotent, ARN accepted
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=md["KeyId"])
    d = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert (d["KeyState"], d["Enabled"]) == ("Enabled", True)
    kms.enable_key(KeyId=md["Arn"])  # idempotent
    assert kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_enable_key_unknown(server, kms):
    key_id = str(uuid.uuid4())
    expect_error(kms.enable_key, "NotFoundException",
                 f"Key '{server.key_arn(key_id)}' does not exist", KeyId=key_id)
    expect_error(kms.disable_key, "NotFoundException",
                 f"Key '{server.key_arn(key_id)}' does not exist", KeyId=key_id)


@pytest.fixture
def disabled_key(kms):
    md = new_key(kms)
    ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    kms.disable_key(KeyId=md["KeyId"])
    return md, ct


@pytest.fixture
def pending_key(kms):
    md = new_key(kms)
    ct = kms.encrypt(KeyId=md["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    kms.schedule_key_deletion(KeyId=md["KeyId"], PendingWindowInDays=7)
    return md, ct


def crypto_calls(kms, md, ct, other_key_id):
    """Every crypto operation against the key in md (ct is one of its ciphertexts)."""
    k = md["KeyId"]
    return {
        "Encrypt": lambda: kms.encrypt(KeyId=k, Plaintext=b"x"),
        "Decrypt": lambda: kms.decrypt(CiphertextBlob=ct),
        "DecryptWithKeyId": lambda: kms.decrypt(CiphertextBlob=ct, KeyId=k),
        "ReEncryptFrom": lambda: kms.re_encrypt(CiphertextBlob=ct, DestinationKeyId=other_key_id),
        "ReEncryptTo": lambda: kms.re_encrypt(
            CiphertextBlob=kms.encrypt(KeyId=other_key_id, Plaintext=b"y")["CiphertextBlob"],
            DestinationKeyId=k),
        "GenerateDataKey": lambda: kms.generate_data_key(KeyId=k, KeySpec="AES_256"),
        "GenerateDataKeyWithoutPlaintext":
            lambda: kms.generate_data_key_without_plaintext(KeyId=k, NumberOfBytes=32),
    }


CRYPTO_OPS = ["Encrypt", "Decrypt", "DecryptWithKeyId", "ReEncryptFrom", "ReEncryptTo",
              "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"]


@pytest.mark.parametrize("op", CRYPTO_OPS)
def test_crypto_on_disabled_key_is_disabled_exception(kms, disabled_key, op):
    md, ct = disabled_key
    other = new_key(kms)["KeyId"]
    expect_error(crypto_calls(kms, md, ct, other)[op], "DisabledException",
                 harness.disabled_message(md["Arn"]))


@pytest.mark.parametrize("op", CRYPTO_OPS)
def test_crypto_on_pending_deletion_key_is_invalid_state(kms, pending_key, op):
    md, ct = pending_key
    other = new_key(kms)["KeyId"]
    expect_error(crypto_calls(kms, md, ct, other)[op], "KMSInvalidStateException",
                 harness.pending_deletion_message(md["Arn"]))


def test_disabled_key_allows_management_operations(kms, disabled_key):
    md, _ = disabled_key
    k = md["KeyId"]
    assert kms.describe_key(KeyId=k)["KeyMetadata"]["KeyState"] == "Disabled"
    assert kms.get_key_policy(KeyId=k, PolicyName="default")["Policy"]
    assert kms.list_key_policies(KeyId=k)["PolicyNames"] == ["default"]
    kms.tag_resource(KeyId=k, Tags=[{"TagKey": "a", "TagValue": "b"}])
    assert kms.list_resource_tags(KeyId=k)["Tags"] == [{"TagKey": "a", "TagValue": "b"}]
    kms.untag_resource(KeyId=k, TagKeys=["a"])
    kms.update_key_description(KeyId=k, Description="still manageable")
    alias = f"alias/{unique('dis')}"
    kms.create_alias(AliasName=alias, TargetKeyId=k)
    kms.delete_alias(AliasName=alias)
    assert kms.get_key_rotation_status(KeyId=k)["KeyRotationEnabled"] is False


def test_rotation_changes_on_disabled_key_are_disabled_exception(kms, disabled_key):
    md, _ = disabled_key
    msg = harness.disabled_message(md["Arn"])
    expect_error(kms.enable_key_rotation, "DisabledException", msg, KeyId=md["KeyId"])
    expect_error(kms.disable_key_rotation, "DisabledException", msg, KeyId=md["KeyId"])
    expect_error(kms.rotate_key_on_demand, "DisabledException", msg, KeyId=md["KeyId"])


def test_pending_deletion_key_rejects_mutations(kms, pending_key):
    md, _ = pending_key
    k = md["KeyId"]
    msg = harness.pending_deletion_message(md["Arn"])
    expect_error(kms.enable_key, "KMSInvalidStateException", msg, KeyId=k)
    expect_error(kms.disable_key, "KMSInvalidStateException", msg, KeyId=k)
    expect_error(kms.update_key_description, "KMSInvalidStateException", msg, KeyId=k,
                 Description="nope")
    expect_error(kms.tag_resource, "KMSInvalidStateException", msg, KeyId=k,
                 Tags=[{"TagKey": "a", "TagValue": "b"}])
    expect_error(kms.untag_resource, "KMSInvalidStateException", msg, KeyId=k, TagKeys=["a"])
    expect_error(kms.create_alias, "KMSInvalidStateException", msg,
                 AliasName=f"alias/{unique('pd')}", TargetKeyId=k)
    expect_error(kms.schedule_key_deletion, "KMSInvalidStateException", msg, KeyId=k)
    expect_error(kms.enable_key_rotation, "KMSInvalidStateException", msg, KeyId=k)
    expect_error(kms.rotate_key_on_demand, "KMSInvalidStateException", msg, KeyId=k)


def test_pending_deletion_key_allows_reads(kms, pending_key):
    md, _ = pending_key
    k = md["KeyId"]
    d = kms.describe_key(KeyId=k)["KeyMetadata"]
    assert (d["KeyState"], d["Enabled"]) == ("PendingDeletion", False)
    assert "DeletionDate" in d
    assert kms.get_key_policy(KeyId=k, PolicyName="default")["Policy"]
    assert kms.list_key_policies(KeyId=k)["PolicyNames"] == ["default"]
    assert kms.list_resource_tags(KeyId=k)["Tags"] == []
    assert kms.list_aliases(KeyId=k)["Aliases"] == []
    assert kms.get_key_rotation_status(KeyId=k)["KeyRotationEnabled"] is False
    assert any(e["KeyId"] == k for p in kms.get_paginator("list_keys").paginate()
               for e in p["Keys"])


def test_cancel_key_deletion_of_enabled_and_disabled_key(kms):
    md = new_key(kms)
    msg = f"{md['Arn']} is not pending deletion."
    expect_error(kms.cancel_key_deletion, "KMSInvalidStateException", msg, KeyId=md["KeyId"])
    kms.disable_key(KeyId=md["KeyId"])
    expect_error(kms.cancel_key_deletion, "KMSInvalidStateException", msg, KeyId=md["KeyId"])


def test_list_keys_default_page_size_is_100(server_factory):
    s = server_factory.start()
    kms = harness.kms_client(s)
    created = {new_key(kms)["KeyId"] for _ in range(105)}
    first = kms.list_keys()
    assert len(first["Keys"]) == 100 and first["Truncated"] is True
    rest = kms.list_keys(Marker=first["NextMarker"])
    assert len(rest["Keys"]) == 5 and rest["Truncated"] is False
    assert {k["KeyId"] for k in first["Keys"] + rest["Keys"]} == created
    assert len(kms.list_keys(Limit=1000)["Keys"]) == 105
