"""Malformed input, unknown/unsupported operations, authentication failures and the
JSON 1.1 envelope, sent as raw HTTP (kms-api.md §1)."""

import datetime as dt
import json
import re
import uuid

import pytest

import harness
from harness import b64, expect_error, raw_call

JSON_CT = "application/x-amz-json-1.1"


def assert_error(resp, code, status=400, message=None, message_contains=None):
    assert resp.status == status, resp
    assert resp.error_type == code, resp
    body = resp.json
    assert set(body) <= {"__type", "message", "Message"}, body
    if message is not None:
        assert body.get("message") == message, body
    if message_contains is not None:
        assert message_contains in body.get("message", ""), body
    ct = resp.header("Content-Type") or ""
    assert ct.startswith(JSON_CT), ct


@pytest.fixture(scope="module")
def key(kms):
    return kms.create_key()["KeyMetadata"]


@pytest.fixture(autouse=True)
def server_survives(server):
    yield
    assert server.running, "keyward died\n" + server.logs()
    assert harness.http_get(server, "/health").status == 200


# -- envelope -------------------------------------------------------------------------

def test_success_envelope(server):
    resp = raw_call(server, "TrentService.ListKeys", {})
    assert resp.status == 200, resp
    assert (resp.header("Content-Type") or "").startswith(JSON_CT)
    rid = resp.header("x-amzn-RequestId")
    assert rid and re.fullmatch(harness.UUID_RE, rid), resp.headers
    assert isinstance(resp.json["Keys"], list)


def test_request_ids_are_unique_and_reported_to_botocore(server, kms):
    a = raw_call(server, "TrentService.ListKeys", {}).header("x-amzn-RequestId")
    b = raw_call(server, "TrentService.ListKeys", {}).header("x-amzn-RequestId")
    assert a != b
    meta = kms.list_keys()["ResponseMetadata"]
    assert re.fullmatch(harness.UUID_RE, meta["RequestId"]), meta


def test_error_envelope_and_request_id(server):
    missing = str(uuid.uuid4())
    resp = raw_call(server, "TrentService.DescribeKey", {"KeyId": missing})
    assert_error(resp, "NotFoundException",
                 message=f"Key '{server.key_arn(missing)}' does not exist")
    assert resp.header("x-amzn-RequestId")


def test_timestamps_are_epoch_seconds_on_the_wire(server):
    resp = raw_call(server, "TrentService.CreateKey", {"Description": "wire"})
    assert resp.status == 200, resp
    md = resp.json["KeyMetadata"]
    assert isinstance(md["CreationDate"], (int, float)) and not isinstance(md["CreationDate"], bool)
    assert 1.7e9 < md["CreationDate"] < 4e9
    assert md["Enabled"] is True and md["MultiRegion"] is False
    assert None not in md.values(), "absent members must be omitted, not null"


@pytest.mark.parametrize("target,body", [
    ("EnableKey", "key"), ("DisableKey", "key"), ("UpdateKeyDescription", "desc"),
    ("TagResource", "tag"), ("UntagResource", "untag"), ("EnableKeyRotation", "key"),
    ("DisableKeyRotation", "key"),
])
def test_operations_without_output_return_empty_or_empty_object(server, kms, target, body):
    k = kms.create_key()["KeyMetadata"]["KeyId"]
    payload = {"key": {"KeyId": k}, "desc": {"KeyId": k, "Description": "d"},
               "tag": {"KeyId": k, "Tags": [{"TagKey": "a", "TagValue": "b"}]},
               "untag": {"KeyId": k, "TagKeys": ["a"]}}[body]
    resp = raw_call(server, f"TrentService.{target}", payload)
    assert resp.status == 200, resp
    assert resp.body.strip() in (b"", b"{}"), resp


def test_empty_body_is_treated_as_empty_object(server):
    resp = raw_call(server, "TrentService.ListKeys", b"")
    assert resp.status == 200, resp
    assert "Keys" in resp.json


def test_empty_body_for_operation_with_required_member(server):
    resp = raw_call(server, "TrentService.DescribeKey", b"")
    assert_error(resp, "ValidationException",
                 message="1 validation error detected: Value null at 'keyId' failed to satisfy "
                 "constraint: Member must not be null")


# -- malformed bodies ----------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    b'{"KeyId":', b"{", b"not json", b'{"KeyId": "x",}', b"[]", b"null", b"42", b'"str"',
    b"\xff\xfe\x00garbage", b'{"KeyId": "a"} trailing',
])
def test_malformed_json(server, body):
    assert_error(raw_call(server, "TrentService.DescribeKey", body), "SerializationException")


@pytest.mark.parametrize("target,body", [
    ("DescribeKey", {"KeyId": 5}),
    ("DescribeKey", {"KeyId": ["a"]}),
    ("DescribeKey", {"KeyId": {"a": 1}}),
    ("GenerateRandom", {"NumberOfBytes": "32"}),
    ("GenerateRandom", {"NumberOfBytes": 3.5}),
    ("GenerateRandom", {"NumberOfBytes": True}),
    ("ListKeys", {"Limit": "10"}),
    ("Encrypt", {"KeyId": "k", "Plaintext": 123}),
    ("Encrypt", {"KeyId": "k", "Plaintext": "eA==", "EncryptionContext": ["a", "b"]}),
    ("Encrypt", {"KeyId": "k", "Plaintext": "eA==", "DryRun": "yes"}),
    ("TagResource", {"KeyId": "k", "Tags": {"TagKey": "a", "TagValue": "b"}}),
    ("TagResource", {"KeyId": "k", "Tags": [{"TagKey": 1, "TagValue": "b"}]}),
    ("CreateKey", {"Tags": "nope"}),
])
def test_wrong_member_types(server, target, body):
    assert_error(raw_call(server, f"TrentService.{target}", body), "SerializationException")


@pytest.mark.parametrize("blob", ["!!!notbase64", "e===", "eA==eA==", "abc$", "eA==\u0000"])
def test_bad_base64_in_blob(server, key, blob):
    resp = raw_call(server, "TrentService.Encrypt", {"KeyId": key["KeyId"], "Plaintext": blob})
    assert_error(resp, "SerializationException")


def test_bad_base64_in_ciphertext_blob(server):
    resp = raw_call(server, "TrentService.Decrypt", {"CiphertextBlob": "%%%"})
    assert_error(resp, "SerializationException")


def test_oversized_plaintext_raw(server, key):
    resp = raw_call(server, "TrentService.Encrypt",
                    {"KeyId": key["KeyId"], "Plaintext": b64(b"a" * 4097)})
    assert_error(resp, "ValidationException",
                 message="1 validation error detected: Value at 'plaintext' failed to satisfy "
                 "constraint: Member must have length less than or equal to 4096")


def test_validation_error_names_the_value(server):
    resp = raw_call(server, "TrentService.GenerateRandom", {"NumberOfBytes": 1025})
    assert_error(resp, "ValidationException",
                 message="1 validation error detected: Value '1025' at 'numberOfBytes' failed to "
                 "satisfy constraint: Member must have value less than or equal to 1024")


def test_body_just_over_the_limit_gets_a_clean_error(server):
    # ~1.5 MiB: big enough to exceed any sane limit for a 4 KiB-plaintext API, small enough
    # to be fully sent before the server answers.
    body = json.dumps({"KeyId": "k", "Plaintext": b64(b"a" * (1100 * 1024))})
    try:
        resp = raw_call(server, "TrentService.Encrypt", body, timeout=60)
    except (BrokenPipeError, ConnectionResetError) as e:
        pytest.fail(f"server closed the connection instead of answering: {e!r}")
    assert 400 <= resp.status < 500, resp
    assert resp.error_type, resp


def test_unknown_members_are_ignored(server, key):
    resp = raw_call(server, "TrentService.DescribeKey",
                    {"KeyId": key["KeyId"], "SomethingNew": {"x": [1, 2]}})
    assert resp.status == 200, resp
    assert resp.json["KeyMetadata"]["KeyId"] == key["KeyId"]


# -- targets ---------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["TrentService.FooBar", "TrentService.", "Foo.ListKeys",
                                    "ListKeys", ""])
def test_unknown_target(server, target):
    assert_error(raw_call(server, target, {}), "UnknownOperationException")


def test_missing_target_header(server):
    resp = raw_call(server, None, {})
    assert resp.status == 400, resp
    assert resp.error_type == "UnknownOperationException", resp


# Every operation of the AWS KMS model (botocore's, as installed) is either implemented or
# answers UnsupportedOperationException naming it (issue 17, item 21). The import operations
# are implemented as AWS answers them for a key of origin AWS_KMS (test below).
IMPLEMENTED = {
    "CreateKey", "DescribeKey", "ListKeys", "UpdateKeyDescription", "EnableKey", "DisableKey",
    "ScheduleKeyDeletion", "CancelKeyDeletion", "Encrypt", "Decrypt", "ReEncrypt",
    "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom", "CreateAlias",
    "UpdateAlias", "DeleteAlias", "ListAliases", "EnableKeyRotation", "DisableKeyRotation",
    "GetKeyRotationStatus", "RotateKeyOnDemand", "ListKeyRotations", "TagResource",
    "UntagResource", "ListResourceTags", "GetKeyPolicy", "PutKeyPolicy", "ListKeyPolicies",
    "CreateGrant", "ListGrants", "ListRetirableGrants", "RetireGrant", "RevokeGrant",
    "GetParametersForImport", "ImportKeyMaterial", "DeleteImportedKeyMaterial",
}


def kms_model_operations():
    import botocore.session
    return set(botocore.session.get_session().get_service_model("kms").operation_names)


UNSUPPORTED = sorted(kms_model_operations() - IMPLEMENTED)


def test_the_model_has_every_implemented_operation():
    assert IMPLEMENTED <= kms_model_operations(), IMPLEMENTED - kms_model_operations()
    assert len(UNSUPPORTED) >= 17, UNSUPPORTED


@pytest.mark.parametrize("op", UNSUPPORTED)
def test_unsupported_operation_raw(server, key, op):
    resp = raw_call(server, f"TrentService.{op}", {"KeyId": key["KeyId"]})
    assert_error(resp, "UnsupportedOperationException", message=f"{op} is not supported by keyward.")


@pytest.mark.parametrize("op", sorted(IMPLEMENTED))
def test_implemented_operations_are_not_answered_as_unsupported(server, op):
    resp = raw_call(server, f"TrentService.{op}", {})
    assert resp.error_type not in ("UnknownOperationException", "UnsupportedOperationException"), resp


# The import operations work only on keys of origin EXTERNAL; keyward's keys are all AWS_KMS,
# which AWS refuses with this message (issue 17, item 12; LocalStack's AWS-validated
# test_get_parameters_for_import_raises_for_non_external_kms_keys).
IMPORT_OPERATIONS = [
    ("get_parameters_for_import",
     {"WrappingAlgorithm": "RSAES_OAEP_SHA_256", "WrappingKeySpec": "RSA_2048"}),
    ("import_key_material", {"ImportToken": b"token", "EncryptedKeyMaterial": b"material",
                             "ExpirationModel": "KEY_MATERIAL_DOES_NOT_EXPIRE"}),
    ("delete_imported_key_material", {}),
]


@pytest.mark.parametrize("op,kwargs", IMPORT_OPERATIONS, ids=[o for o, _ in IMPORT_OPERATIONS])
def test_import_operations_refuse_keys_of_origin_aws_kms(server, kms, key, op, kwargs):
    call = getattr(kms, op)
    message = f"{key['Arn']} origin is AWS_KMS which is not valid for this operation."
    expect_error(call, "UnsupportedOperationException", message, KeyId=key["KeyId"], **kwargs)
    expect_error(call, "UnsupportedOperationException", message, KeyId=key["Arn"], **kwargs)
    missing = str(uuid.uuid4())
    expect_error(call, "NotFoundException", f"Key '{server.key_arn(missing)}' does not exist",
                 KeyId=missing, **kwargs)


def test_import_operations_validate_their_input_first(server, kms_raw, key, aws):
    expect_error(kms_raw.get_parameters_for_import, "ValidationException",
                 harness.validation_message("RSA_1024", "wrappingKeySpec",
                                            "Member must satisfy enum value set: "
                                            "[RSA_2048, RSA_3072, RSA_4096, SM2]"),
                 KeyId=key["KeyId"], WrappingAlgorithm="RSAES_OAEP_SHA_256",
                 WrappingKeySpec="RSA_1024")
    expect_error(kms_raw.delete_imported_key_material, "ValidationException",
                 harness.validation_message("abc", "keyMaterialId",
                                            "Member must have length greater than or equal to 64"),
                 KeyId=key["KeyId"], KeyMaterialId="abc")
    done = aws("kms", "get-parameters-for-import", "--key-id", key["KeyId"],
               "--wrapping-algorithm", "RSAES_OAEP_SHA_1", "--wrapping-key-spec", "RSA_4096")
    assert done.returncode != 0
    assert (f"(UnsupportedOperationException) when calling the GetParametersForImport operation: "
            f"{key['Arn']} origin is AWS_KMS which is not valid for this operation.") in done.stderr, done


def test_unsupported_operation_via_boto3(kms, key):
    expect_error(kms.sign, "UnsupportedOperationException", message_contains="Sign",
                 KeyId=key["KeyId"], Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")
    expect_error(kms.get_public_key, "UnsupportedOperationException",
                 message_contains="GetPublicKey", KeyId=key["KeyId"])


# -- authentication ---------------------------------------------------------------------------

def test_missing_authorization(server):
    resp = raw_call(server, "TrentService.ListKeys", {}, sign=False)
    assert_error(resp, "MissingAuthenticationTokenException")


def test_unknown_access_key(server):
    resp = raw_call(server, "TrentService.ListKeys", {}, creds=("AKIAUNKNOWNKEY000000", "secret"))
    assert_error(resp, "UnrecognizedClientException",
                 message="The security token included in the request is invalid.")


def test_unknown_access_key_via_boto3(server, make_kms):
    client = make_kms(server, creds=("testing", "testing"))
    expect_error(client.list_keys, "UnrecognizedClientException",
                 "The security token included in the request is invalid.")


def test_wrong_secret(server):
    access, _ = server.admin_credentials()
    resp = raw_call(server, "TrentService.ListKeys", {}, creds=(access, "wrong-secret"))
    assert_error(resp, "InvalidSignatureException")


def test_wrong_secret_via_boto3(server, make_kms):
    access, secret = server.admin_credentials()
    client = make_kms(server, creds=(access, secret[:-1] + ("A" if secret[-1] != "A" else "B")))
    expect_error(client.list_keys, "InvalidSignatureException")


def test_body_changed_after_signing(server, key):
    headers, _ = harness.build_request(server, "TrentService.DescribeKey", {"KeyId": key["KeyId"]})
    tampered = json.dumps({"KeyId": str(uuid.uuid4())}).encode()
    assert_error(harness.send(server, headers, tampered), "InvalidSignatureException")


def test_signed_header_changed_after_signing(server):
    headers, data = harness.build_request(server, "TrentService.ListKeys", {})
    headers["X-Amz-Target"] = "TrentService.ListAliases"
    assert_error(harness.send(server, headers, data), "InvalidSignatureException")


def test_signature_for_other_region(server):
    resp = raw_call(server, "TrentService.ListKeys", {}, region="eu-west-1")
    assert resp.status == 400, resp
    assert resp.error_type in ("InvalidSignatureException", "IncompleteSignatureException"), resp


TS = r"\d{8}T\d{6}Z"


@pytest.mark.parametrize("minutes", [-20, -60 * 24])
def test_request_time_too_old(server, minutes):
    when = harness.utcnow() + dt.timedelta(minutes=minutes)
    resp = raw_call(server, "TrentService.ListKeys", {}, when=when)
    assert_error(resp, "InvalidSignatureException", message_contains="Signature expired")
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    # AWS: "Signature expired: <request time> is now earlier than <limit> (<now> - 15 min.)"
    assert re.fullmatch(rf"Signature expired: {stamp} is now earlier than {TS} \({TS} - 15 min\.\)",
                        resp.json["message"]), resp.json


@pytest.mark.parametrize("minutes", [20, 60 * 24])
def test_request_time_too_far_in_the_future(server, minutes):
    when = harness.utcnow() + dt.timedelta(minutes=minutes)
    resp = raw_call(server, "TrentService.ListKeys", {}, when=when)
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    # AWS words the future case differently from the expired case.
    assert_error(resp, "InvalidSignatureException")
    assert re.fullmatch(
        rf"Signature not yet current: {stamp} is still later than {TS} \({TS} \+ 15 min\.\)",
        resp.json["message"]), resp.json


@pytest.mark.parametrize("minutes", [-10, 10])
def test_request_time_within_fifteen_minutes(server, minutes):
    when = harness.utcnow() + dt.timedelta(minutes=minutes)
    resp = raw_call(server, "TrentService.ListKeys", {}, when=when)
    assert resp.status == 200, resp


@pytest.mark.parametrize("auth", [
    "AWS4-HMAC-SHA256",
    "AWS4-HMAC-SHA256 garbage",
    "AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=",
    "Basic dXNlcjpwYXNz",
    "AWS4-HMAC-SHA256 Credential=AKIA/20200101/us-east-1/kms/aws4_request, "
    "SignedHeaders=host;x-amz-date, Signature=zz",
])
def test_garbled_authorization_header(server, auth):
    headers, data = harness.build_request(server, "TrentService.ListKeys", {})
    headers["Authorization"] = auth
    resp = harness.send(server, headers, data)
    assert resp.status == 400, resp
    assert resp.error_type in ("IncompleteSignatureException", "InvalidSignatureException",
                               "MissingAuthenticationTokenException",
                               "UnrecognizedClientException"), resp


def test_missing_x_amz_date(server):
    headers, data = harness.build_request(server, "TrentService.ListKeys", {})
    headers.pop("X-Amz-Date")
    resp = harness.send(server, headers, data)
    assert resp.status == 400, resp
    assert resp.error_type in ("IncompleteSignatureException", "InvalidSignatureException",
                               "MissingAuthenticationTokenException"), resp


def test_authentication_is_checked_before_the_body(server):
    resp = raw_call(server, "TrentService.DescribeKey", b"{not json", sign=False)
    assert_error(resp, "MissingAuthenticationTokenException")
    resp = raw_call(server, "TrentService.DescribeKey", b"{not json",
                    creds=("AKIAUNKNOWNKEY000000", "x"))
    assert_error(resp, "UnrecognizedClientException",
                 message="The security token included in the request is invalid.")
