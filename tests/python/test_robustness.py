"""Hostile and odd input over the wire: every request gets a clean AWS-style 4xx, never a
500, a hang or a crash; identifiers are only accepted in the forms each operation allows."""

import json
import random
import uuid

import pytest

import harness
from harness import b64, expect_error, raw_call

OPERATIONS = [
    "CreateKey", "DescribeKey", "ListKeys", "UpdateKeyDescription", "EnableKey", "DisableKey",
    "ScheduleKeyDeletion", "CancelKeyDeletion", "Encrypt", "Decrypt", "ReEncrypt",
    "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom", "CreateAlias",
    "UpdateAlias", "DeleteAlias", "ListAliases", "EnableKeyRotation", "DisableKeyRotation",
    "GetKeyRotationStatus", "RotateKeyOnDemand", "ListKeyRotations", "TagResource",
    "UntagResource", "ListResourceTags", "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies",
    "CreateGrant", "ListGrants", "ListRetirableGrants", "RetireGrant", "RevokeGrant",
    "GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial",
]

MEMBERS = ["KeyId", "Plaintext", "CiphertextBlob", "EncryptionContext", "NumberOfBytes",
           "KeySpec", "Limit", "Marker", "Description", "AliasName", "TargetKeyId", "Tags",
           "TagKeys", "Policy", "PolicyName", "PendingWindowInDays", "RotationPeriodInDays",
           "DestinationKeyId", "SourceKeyId", "DryRun", "GrantTokens", "KeyUsage",
           "IncludeKeyMaterial", "SourceEncryptionContext", "DestinationEncryptionContext",
           "EncryptionAlgorithm", "DryRunModifiers", "BypassPolicyLockoutSafetyCheck"]

# Members only some operations have, sent to those operations on top of MEMBERS.
GRANT_MEMBERS = ["GranteePrincipal", "RetiringPrincipal", "Operations", "Constraints",
                 "GrantId", "GrantToken", "Name"]
IMPORT_MEMBERS = ["WrappingAlgorithm", "WrappingKeySpec", "ImportToken", "EncryptedKeyMaterial",
                  "ExpirationModel", "ValidTo", "ImportType", "KeyMaterialId"]
EXTRA_MEMBERS = {
    **{op: GRANT_MEMBERS for op in ("CreateGrant", "ListGrants", "ListRetirableGrants",
                                    "RetireGrant", "RevokeGrant")},
    **{op: IMPORT_MEMBERS for op in ("GetParametersForImport", "ImportKeyMaterial",
                                     "DeleteImportedKeyMaterial")},
}

ODD_VALUES = [None, True, False, 0, -1, 2**31, 2**63, -(2**63), 2**64, 1.5, 1e308, "", " ",
              "x" * 5000, "\u0000", "\ud7ff\ue000", "🔑", [], [None], [1, "a"], {}, {"a": None},
              {"a": {"b": []}}, "alias/", "arn:", "arn:aws:kms:us-east-1:111122223333:key/",
              "AQICAH==", "====", "a" * 70000]


@pytest.fixture(autouse=True)
def server_survives(server):
    yield
    assert server.running, "keyward died\n" + server.logs()
    assert harness.http_get(server, "/health").status == 200


def assert_clean(resp, context):
    assert resp.status < 500, (context, resp)
    if resp.status != 200:
        assert 400 <= resp.status < 500, (context, resp)
        assert resp.error_type, (context, resp)


@pytest.mark.parametrize("op", OPERATIONS)
def test_every_member_with_odd_values(server, op):
    rng = random.Random(f"members-{op}")
    members = MEMBERS + EXTRA_MEMBERS.get(op, [])
    for member in members:
        for value in ODD_VALUES:
            body = {member: value}
            resp = raw_call(server, f"TrentService.{op}", body)
            assert_clean(resp, (op, body if len(json.dumps(body)) < 300 else member))
    # and some random mixtures
    for _ in range(40):
        body = {m: rng.choice(ODD_VALUES) for m in rng.sample(members, rng.randint(1, 6))}
        assert_clean(raw_call(server, f"TrentService.{op}", body), (op, sorted(body)))


@pytest.mark.parametrize("op", ["Encrypt", "Decrypt", "DescribeKey", "CreateKey", "ListKeys"])
def test_random_bytes_bodies(server, op):
    rng = random.Random(f"bytes-{op}")
    for _ in range(60):
        body = bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 300)))
        assert_clean(raw_call(server, f"TrentService.{op}", body), (op, body[:40]))


def test_deeply_nested_json(server):
    for depth in (100, 1000, 100000):
        body = '{"KeyId": ' + "[" * depth + "]" * depth + "}"
        resp = raw_call(server, "TrentService.DescribeKey", body)
        assert resp.status == 400 and resp.error_type == "SerializationException", (depth, resp)


def test_duplicate_json_members(server, kms):
    md = kms.create_key()["KeyMetadata"]
    body = '{"KeyId": "%s", "KeyId": "%s"}' % (md["KeyId"], md["KeyId"])
    assert_clean(raw_call(server, "TrentService.DescribeKey", body), "duplicate KeyId")


def test_key_id_too_long(kms_raw):
    long_id = "a" * 2049
    expect_error(kms_raw.describe_key, "ValidationException",
                 harness.validation_message(long_id, "keyId",
                                            "Member must have length less than or equal to 2048"),
                 KeyId=long_id)


def test_empty_key_id(kms_raw):
    expect_error(kms_raw.describe_key, "ValidationException",
                 harness.validation_message("", "keyId",
                                            "Member must have length greater than or equal to 1"),
                 KeyId="")


@pytest.mark.parametrize("marker", ["x", "%%%%", "a" * 1024, "🔑", "0", "-1"])
def test_bad_markers_are_client_errors(server, marker):
    for op in ("ListKeys", "ListAliases"):
        resp = raw_call(server, f"TrentService.{op}", {"Marker": marker})
        assert resp.status == 400, (op, marker, resp)


def test_marker_of_another_listing(server, kms):
    md = kms.create_key()["KeyMetadata"]
    for i in range(3):
        kms.tag_resource(KeyId=md["KeyId"], Tags=[{"TagKey": f"m{i}", "TagValue": "v"}])
        kms.create_alias(AliasName=f"alias/{harness.unique('mk')}", TargetKeyId=md["KeyId"])
    tag_marker = kms.list_resource_tags(KeyId=md["KeyId"], Limit=1)["NextMarker"]
    resp = raw_call(server, "TrentService.ListKeys", {"Marker": tag_marker})
    assert_clean(resp, "tag marker on ListKeys")


# -- identifier forms: id/ARN-only operations must not act through an alias ---------------

@pytest.mark.parametrize("op,extra", [
    ("enable_key", {}), ("disable_key", {}), ("schedule_key_deletion", {}),
    ("cancel_key_deletion", {}), ("update_key_description", {"Description": "via alias"}),
    ("tag_resource", {"Tags": [{"TagKey": "a", "TagValue": "b"}]}),
    ("untag_resource", {"TagKeys": ["a"]}), ("list_resource_tags", {}),
    ("get_key_policy", {"PolicyName": "default"}), ("list_key_policies", {}),
    ("enable_key_rotation", {}), ("disable_key_rotation", {}), ("rotate_key_on_demand", {}),
    ("list_key_rotations", {}), ("get_key_rotation_status", {}),
])
@pytest.mark.parametrize("form", ["alias", "alias_arn"])
def test_id_or_arn_only_operations_reject_aliases(server, kms, op, extra, form):
    md = kms.create_key()["KeyMetadata"]
    alias = f"alias/{harness.unique('only')}"
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    ident = alias if form == "alias" else server.alias_arn(alias)
    expect_error(getattr(kms, op), "NotFoundException", KeyId=ident, **extra)
    after = kms.describe_key(KeyId=md["KeyId"])["KeyMetadata"]
    assert (after["KeyState"], after["Description"]) == ("Enabled", "")
    assert kms.list_resource_tags(KeyId=md["KeyId"])["Tags"] == []


def test_key_arn_of_another_account_is_not_found(server, kms):
    md = kms.create_key()["KeyMetadata"]
    foreign = harness.key_arn(md["KeyId"], "999999999999")
    expect_error(kms.describe_key, "NotFoundException", KeyId=foreign)
    expect_error(kms.encrypt, "NotFoundException", KeyId=foreign, Plaintext=b"x")


def test_alias_arn_of_another_account_is_not_found(server, kms):
    md = kms.create_key()["KeyMetadata"]
    alias = f"alias/{harness.unique('acct')}"
    kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    foreign = harness.alias_arn(alias, "999999999999")
    expect_error(kms.describe_key, "NotFoundException", KeyId=foreign)


@pytest.mark.parametrize("bad", [
    "arn:aws:kms:us-east-1:111122223333:key/",
    "arn:aws:kms:us-east-1:111122223333:alias/",
    "arn:aws:kms:us-east-1:111122223333:something/x",
    "arn:aws:kms:us-east-1:111122223333",
    "arn:aws:s3:::bucket",
    "arn:",
    "alias/",
])
def test_malformed_identifiers_are_not_found(kms, bad):
    expect_error(kms.describe_key, "NotFoundException", KeyId=bad)


def test_uppercase_key_id_does_not_match(server, kms):
    md = kms.create_key()["KeyMetadata"]
    resp = raw_call(server, "TrentService.DescribeKey", {"KeyId": md["KeyId"].upper()})
    # AWS key ids are lower-case; either "Invalid keyId" or "does not exist", never a match
    # for a different spelling... unless the server normalises, which is also acceptable.
    if resp.status == 200:
        assert resp.json["KeyMetadata"]["KeyId"] == md["KeyId"]
    else:
        assert resp.error_type == "NotFoundException", resp


# -- key types keyward does not implement -------------------------------------------------

@pytest.mark.parametrize("kwargs", [
    {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"},
    {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"},
    {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
    {"KeyUsage": "SIGN_VERIFY"},
    {"Origin": "EXTERNAL"},
    {"MultiRegion": True},
    {"CustomKeyStoreId": "cks-1234567890abcdef0"},
])
def test_unsupported_key_types_are_refused_cleanly(kms, kwargs):
    before = sum(len(p["Keys"]) for p in kms.get_paginator("list_keys").paginate())
    with pytest.raises(kms.exceptions.ClientError) as err:
        kms.create_key(**kwargs)
    resp = err.value.response
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 400, resp
    assert resp["Error"]["Code"] in ("UnsupportedOperationException", "ValidationException",
                                     "CustomKeyStoreNotFoundException"), resp["Error"]
    after = sum(len(p["Keys"]) for p in kms.get_paginator("list_keys").paginate())
    assert after == before
