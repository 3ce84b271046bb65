"""The audit trail end to end: one CloudTrail event per call, field by field,
for every KMS operation family and outcome (boto3 through the real server),
IAM events without secrets, and `keyward trail verify/export/prune` on a
stopped server's data directory, including tampering made directly in the
segment files under DATA_DIR/trail (kms-api.md §12; issue 4)."""

from __future__ import annotations

import gzip
import json
import re
import shutil
import struct
import subprocess
import zlib

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

import harness
from harness import advance_clock, unique

ACCOUNT = harness.SERVER_ACCOUNT
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def client(server, service, creds=None):
    creds = creds or server.admin_credentials()
    session = boto3.session.Session(
        aws_access_key_id=creds[0], aws_secret_access_key=creds[1],
        region_name=server.server_region)
    cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
    return session.client(service, endpoint_url=server.url, config=cfg)


@pytest.fixture(scope="module")
def ct(server):
    return client(server, "cloudtrail")


@pytest.fixture(scope="module")
def iam(server):
    return client(server, "iam")


def request_id(result):
    """The x-amzn-RequestId of a boto3 result or ClientError."""
    meta = result.response if isinstance(result, ClientError) else result
    return meta["ResponseMetadata"]["RequestId"]


def looked_up(ct, attribute, value):
    """Every stored event (parsed CloudTrailEvent) LookupEvents finds by one attribute."""
    for page in ct.get_paginator("lookup_events").paginate(
            LookupAttributes=[{"AttributeKey": attribute, "AttributeValue": value}]):
        for e in page["Events"]:
            yield json.loads(e["CloudTrailEvent"])


def events_of(ct, rid, event_name):
    """Every stored event of the call `rid`."""
    return [r for r in looked_up(ct, "EventName", event_name) if r.get("requestID") == rid]


def the_event(ct, result, event_name):
    events = events_of(ct, request_id(result), event_name)
    assert len(events) == 1, events
    return events[0]


def failing(fn, **kwargs):
    with pytest.raises(ClientError) as info:
        fn(**kwargs)
    return info.value


def assert_root_caller(event, server):
    identity = event["userIdentity"]
    assert identity["type"] == "Root"
    assert identity["arn"] == ROOT_ARN
    assert identity["accountId"] == ACCOUNT
    assert identity["principalId"] == ACCOUNT
    assert identity["accessKeyId"] == server.admin_credentials()[0]
    assert event["recipientAccountId"] == ACCOUNT
    assert event["sourceIPAddress"] == "127.0.0.1"
    assert event["userAgent"].startswith("Boto3/") or "botocore" in event["userAgent"]
    assert event["eventType"] == "AwsApiCall"
    assert event["eventCategory"] == "Management"
    assert event["managementEvent"] is True
    assert event["awsRegion"] == server.server_region


def key_resource(server, key_id):
    return [{"accountId": ACCOUNT, "type": "AWS::KMS::Key", "ARN": server.key_arn(key_id)}]


@pytest.fixture(scope="module")
def key(kms):
    return kms.create_key(Description="trail test key")["KeyMetadata"]["KeyId"]


def test_create_key_logs_key_metadata(server, kms, ct):
    result = kms.create_key(Description="made for the trail", Tags=[{"TagKey": "team", "TagValue": "a"}])
    key_id = result["KeyMetadata"]["KeyId"]
    event = the_event(ct, result, "CreateKey")
    assert_root_caller(event, server)
    assert event["eventSource"] == "kms.amazonaws.com"
    assert event["readOnly"] is False
    assert event["requestParameters"]["description"] == "made for the trail"
    assert event["requestParameters"]["tags"] == [{"tagKey": "team", "tagValue": "a"}]
    metadata = event["responseElements"]["keyMetadata"]
    assert metadata["keyId"] == key_id
    assert metadata["arn"] == server.key_arn(key_id)
    assert metadata["aWSAccountId"] == ACCOUNT
    assert metadata["keyState"] == "Enabled"
    assert re.match(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M$", metadata["creationDate"])
    assert event["resources"] == key_resource(server, key_id)
    assert "errorCode" not in event


def test_crypto_operations_log_parameters_but_no_response(server, kms, ct, key):
    context = {"purpose": "trail", "tenant": "t1"}
    encrypted = kms.encrypt(KeyId=key, Plaintext=b"hello trail", EncryptionContext=context)
    event = the_event(ct, encrypted, "Encrypt")
    assert_root_caller(event, server)
    assert event["readOnly"] is True
    assert event["requestParameters"] == {
        "keyId": key, "encryptionContext": context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    assert event["responseElements"] is None
    assert event["resources"] == key_resource(server, key)

    decrypted = kms.decrypt(CiphertextBlob=encrypted["CiphertextBlob"], EncryptionContext=context)
    event = the_event(ct, decrypted, "Decrypt")
    assert event["requestParameters"] == {
        "encryptionContext": context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
    assert event["responseElements"] is None
    assert HEX64.match(event["additionalEventData"]["keyMaterialId"])
    assert event["resources"] == key_resource(server, key)

    data_key = kms.generate_data_key(KeyId=key, KeySpec="AES_256", EncryptionContext=context)
    event = the_event(ct, data_key, "GenerateDataKey")
    assert event["requestParameters"] == {"keyId": key, "encryptionContext": context, "keySpec": "AES_256"}
    assert event["responseElements"] is None
    assert HEX64.match(event["additionalEventData"]["keyMaterialId"])

    without = kms.generate_data_key_without_plaintext(KeyId=key, NumberOfBytes=48)
    event = the_event(ct, without, "GenerateDataKeyWithoutPlaintext")
    assert event["requestParameters"] == {"keyId": key, "numberOfBytes": 48}
    assert event["readOnly"] is True

    other = kms.create_key()["KeyMetadata"]["KeyId"]
    reencrypted = kms.re_encrypt(CiphertextBlob=encrypted["CiphertextBlob"],
                                 SourceEncryptionContext=context, DestinationKeyId=other)
    event = the_event(ct, reencrypted, "ReEncrypt")
    assert event["requestParameters"]["destinationKeyId"] == other
    assert event["requestParameters"]["sourceEncryptionContext"] == context
    arns = {r["ARN"] for r in event["resources"]}
    assert arns == {server.key_arn(key), server.key_arn(other)}
    assert HEX64.match(event["additionalEventData"]["keyMaterialId"])

    random = kms.generate_random(NumberOfBytes=16)
    event = the_event(ct, random, "GenerateRandom")
    assert event["requestParameters"] == {"numberOfBytes": 16}
    assert event["responseElements"] is None
    assert "resources" not in event

    # None of the secrets appear anywhere in these events.
    everything = "".join(e["CloudTrailEvent"] for page in ct.get_paginator("lookup_events").paginate()
                         for e in page["Events"])
    import base64
    for secret in (encrypted["CiphertextBlob"], decrypted["Plaintext"], data_key["Plaintext"],
                   data_key["CiphertextBlob"], random["Plaintext"]):
        assert base64.b64encode(secret).decode()[:24] not in everything
        assert secret.hex()[:24] not in everything


def test_management_operations(server, kms, ct):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    alias = f"alias/{unique('trail')}"
    result = kms.create_alias(AliasName=alias, TargetKeyId=key_id)
    event = the_event(ct, result, "CreateAlias")
    assert event["requestParameters"] == {"aliasName": alias, "targetKeyId": key_id}
    assert event["readOnly"] is False
    assert event["responseElements"] is None

    result = kms.describe_key(KeyId=alias)
    event = the_event(ct, result, "DescribeKey")
    assert event["requestParameters"] == {"keyId": alias}
    assert event["readOnly"] is True
    assert event["resources"] == key_resource(server, key_id)

    result = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    event = the_event(ct, result, "ScheduleKeyDeletion")
    assert event["requestParameters"] == {"keyId": key_id, "pendingWindowInDays": 7}
    elements = event["responseElements"]
    assert elements["keyId"] == server.key_arn(key_id)
    assert elements["keyState"] == "PendingDeletion"
    assert elements["pendingWindowInDays"] == 7
    assert isinstance(elements["deletionDate"], str)

    result = kms.cancel_key_deletion(KeyId=key_id)
    event = the_event(ct, result, "CancelKeyDeletion")
    assert event["responseElements"] == {"keyId": server.key_arn(key_id)}


def test_failures_are_recorded_with_their_error(server, kms, kms_raw, ct, key):
    error = failing(kms.encrypt, KeyId=key, Plaintext=b"x", DryRun=True)
    event = the_event(ct, error, "Encrypt")
    assert event["errorCode"] == "DryRunOperationException"
    assert event["errorMessage"] == "The request would have succeeded, but the DryRun option is set."
    assert event["requestParameters"]["dryRun"] is True
    assert event["resources"] == key_resource(server, key)

    error = failing(kms.encrypt, KeyId="alias/does-not-exist", Plaintext=b"x")
    event = the_event(ct, error, "Encrypt")
    assert event["errorCode"] == "NotFoundException"
    assert event["errorMessage"] == error.response["Error"]["Message"]
    assert event["requestParameters"]["keyId"] == "alias/does-not-exist"

    error = failing(kms_raw.generate_data_key, KeyId=key, NumberOfBytes=4096)
    event = the_event(ct, error, "GenerateDataKey")
    assert event["errorCode"] == "ValidationException"

    disabled = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.disable_key(KeyId=disabled)
    error = failing(kms.encrypt, KeyId=disabled, Plaintext=b"x")
    event = the_event(ct, error, "Encrypt")
    assert event["errorCode"] == "DisabledException"
    assert event["resources"] == key_resource(server, disabled)

    # Named through an alias, a failed call still names the key behind it.
    alias = f"alias/{unique('disabled')}"
    kms.create_alias(AliasName=alias, TargetKeyId=disabled)
    error = failing(kms.encrypt, KeyId=alias, Plaintext=b"x")
    event = the_event(ct, error, "Encrypt")
    assert event["errorCode"] == "DisabledException"
    assert event["requestParameters"]["keyId"] == alias
    assert event["resources"] == key_resource(server, disabled)


def test_encrypt_names_its_key_material(kms, ct, key):
    result = kms.encrypt(KeyId=key, Plaintext=b"material")
    event = the_event(ct, result, "Encrypt")
    current = kms.describe_key(KeyId=key)["KeyMetadata"]["CurrentKeyMaterialId"]
    assert event["additionalEventData"] == {"keyMaterialId": current}


def test_retire_grant_by_token_logs_the_grant_not_the_token(server, kms, ct, key):
    grant = kms.create_grant(KeyId=key, GranteePrincipal=ROOT_ARN, Operations=["Decrypt"])
    result = kms.retire_grant(GrantToken=grant["GrantToken"])
    event = the_event(ct, result, "RetireGrant")
    assert event["requestParameters"] is None
    assert event["additionalEventData"] == {"grantId": grant["GrantId"]}
    assert event["resources"] == key_resource(server, key)
    assert grant["GrantToken"] not in json.dumps(event)


def service_events(ct, event_name, key_arn):
    """The AwsServiceEvent records named `event_name` about `key_arn`."""
    return [r for r in looked_up(ct, "ResourceName", key_arn)
            if r["eventName"] == event_name and r["eventType"] == "AwsServiceEvent"]


def assert_service_event(event, server, key_arn):
    account = key_arn.split(":")[4]
    assert event["userIdentity"] == {"accountId": account, "invokedBy": "AWS Internal"}
    assert event["sourceIPAddress"] == "AWS Internal"
    assert event["userAgent"] == "AWS Internal"
    assert event["requestParameters"] is None
    assert event["responseElements"] is None
    assert "requestID" not in event
    assert event["readOnly"] is False
    assert event["managementEvent"] is True
    assert event["eventCategory"] == "Management"
    assert event["recipientAccountId"] == account
    assert event["resources"] == [{"accountId": account, "type": "AWS::KMS::Key", "ARN": key_arn}]


def test_rotations_and_deletions_are_recorded_as_service_events(dev_server, dev_kms):
    ct = client(dev_server, "cloudtrail")
    rotating = dev_kms.create_key()["KeyMetadata"]
    dev_kms.enable_key_rotation(KeyId=rotating["KeyId"], RotationPeriodInDays=90)
    on_demand = dev_kms.create_key()["KeyMetadata"]
    dev_kms.rotate_key_on_demand(KeyId=on_demand["KeyId"])
    doomed = dev_kms.create_key()["KeyMetadata"]
    dev_kms.schedule_key_deletion(KeyId=doomed["KeyId"], PendingWindowInDays=7)
    assert service_events(ct, "DeleteKey", doomed["Arn"]) == []
    assert service_events(ct, "RotateKey", rotating["Arn"]) == []

    advance_clock(dev_server, 91 * 86400)

    [deleted] = service_events(ct, "DeleteKey", doomed["Arn"])
    assert_service_event(deleted, dev_server, doomed["Arn"])
    assert "serviceEventDetails" not in deleted
    [rotated] = service_events(ct, "RotateKey", rotating["Arn"])
    assert_service_event(rotated, dev_server, rotating["Arn"])
    assert rotated["serviceEventDetails"] == {"rotationType": "AUTOMATIC", "keyId": rotating["KeyId"]}
    [rotated] = service_events(ct, "RotateKey", on_demand["Arn"])
    assert_service_event(rotated, dev_server, on_demand["Arn"])
    assert rotated["serviceEventDetails"] == {"rotationType": "ON_DEMAND", "keyId": on_demand["KeyId"]}


def test_access_denied_is_recorded_with_the_users_identity(server, kms, ct, iam, key):
    name = unique("trailuser")
    iam.create_user(UserName=name)
    access = iam.create_access_key(UserName=name)["AccessKey"]
    user_kms = client(server, "kms", (access["AccessKeyId"], access["SecretAccessKey"]))
    error = failing(user_kms.encrypt, KeyId=key, Plaintext=b"x")
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    event = the_event(ct, error, "Encrypt")
    assert event["errorCode"] == "AccessDeniedException"
    identity = event["userIdentity"]
    assert identity["type"] == "IAMUser"
    assert identity["userName"] == name
    assert identity["arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
    assert identity["accessKeyId"] == access["AccessKeyId"]
    assert identity["principalId"].startswith("AIDA")


def test_iam_calls_are_recorded_without_secrets(server, ct, iam):
    name = unique("iamtrail")
    created = iam.create_user(UserName=name)
    event = the_event(ct, created, "CreateUser")
    assert event["eventSource"] == "iam.amazonaws.com"
    assert event["requestParameters"] == {"userName": name}
    assert event["readOnly"] is False
    key = iam.create_access_key(UserName=name)
    event = the_event(ct, key, "CreateAccessKey")
    assert event["requestParameters"] == {"userName": name}
    raw = b"".join(f.read_bytes() for f in sorted((server.data_dir / "trail").iterdir()))
    assert b'"CreateAccessKey"' in raw
    assert key["AccessKey"]["SecretAccessKey"].encode() not in raw

    # A call that deletes the very key that signed it is still recorded
    # under that key's user.
    iam.put_user_policy(UserName=name, PolicyName="own-keys", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iam:DeleteAccessKey", "Resource": "*"}]}))
    access = key["AccessKey"]["AccessKeyId"]
    own = client(server, "iam", (access, key["AccessKey"]["SecretAccessKey"]))
    deleted = own.delete_access_key(UserName=name, AccessKeyId=access)
    event = the_event(ct, deleted, "DeleteAccessKey")
    assert event["userIdentity"]["type"] == "IAMUser"
    assert event["userIdentity"]["userName"] == name
    assert event["userIdentity"]["accessKeyId"] == access
    assert event["requestParameters"] == {"userName": name, "accessKeyId": access}
    assert "errorCode" not in event


def test_unknown_operations_and_bad_signatures(server, ct):
    response = harness.raw_call(server, "TrentService.NoSuchOperation", {})
    rid = response.header("x-amzn-requestid")
    events = events_of(ct, rid, "NoSuchOperation")
    assert len(events) == 1 and events[0]["errorCode"] == response.error_type
    # A request whose signature does not verify has no identity: not recorded.
    bad = harness.raw_call(server, "TrentService.ListKeys", {}, creds=("AKIANOTAKEY0000000", "x"))
    assert bad.status == 400
    assert events_of(ct, bad.header("x-amzn-requestid"), "ListKeys") == []


# -- keyward trail verify / export / prune ---------------------------------

def trail_cli(*args):
    return subprocess.run([str(harness.keyward_bin()), "trail", *args],
                          capture_output=True, text=True, timeout=60)


def copy_data_dir(src, dst):
    shutil.copytree(src, dst)
    for lock in dst.glob("keyward.lock"):
        lock.unlink()
    return dst


# DATA_DIR/trail/segment-*.log: a 32-byte header ("KWTRAIL\0", version 1,
# segment number), then frames, then zeros. A frame is a 48-byte header (magic
# "KWFR", payload length, first and last sequence, min and max event time,
# record count, CRC-32 of the rest of the header and the payload) and the
# payload: chain records back to back — version (1 byte), sequence (8,
# big-endian), previous hash (32), hash (32), event length (4), event JSON.
SEGMENT_HEADER = 32
FRAME_HEADER = 48


def segments(data_dir):
    return sorted((data_dir / "trail").glob("segment-*.log"))


def stored_records(data_dir):
    records = []
    for path in segments(data_dir):
        data = path.read_bytes()
        offset = SEGMENT_HEADER
        while offset + FRAME_HEADER <= len(data) and data[offset:offset + 4] == b"KWFR":
            (length,) = struct.unpack(">I", data[offset + 4:offset + 8])
            payload = data[offset + FRAME_HEADER:offset + FRAME_HEADER + length]
            at = 0
            while at < len(payload):
                (sequence,) = struct.unpack(">Q", payload[at + 1:at + 9])
                (size,) = struct.unpack(">I", payload[at + 73:at + 77])
                records.append({"sequence": sequence, "hashes": payload[at + 9:at + 73],
                                "event": payload[at + 77:at + 77 + size]})
                at += 77 + size
            offset += FRAME_HEADER + length
    return records


def tamper(data_dir, edit):
    """Edits the stored records and writes them back as one segment of frames
    of one record each, with correct CRCs, as anyone who can write the files could."""
    records = stored_records(data_dir)
    edit(records)
    size = segments(data_dir)[-1].stat().st_size
    for path in segments(data_dir):
        path.unlink()
    data = b"KWTRAIL\0" + struct.pack(">IIQQ", 1, 0, 1, 0)
    for r in records:
        payload = (b"\x01" + struct.pack(">Q", r["sequence"]) + r["hashes"]
                   + struct.pack(">I", len(r["event"])) + r["event"])
        header = b"KWFR" + struct.pack(">IQQqqI", len(payload), r["sequence"], r["sequence"],
                                       0, 2**62, 1)
        data += header + struct.pack(">I", zlib.crc32(header + payload)) + payload
    (data_dir / "trail" / "segment-0000000001.log").write_bytes(data.ljust(size, b"\0"))


def index_of(records, sequence):
    return next(i for i, r in enumerate(records) if r["sequence"] == sequence)


def modify(records):
    records[index_of(records, 3)]["event"] = records[index_of(records, 3)]["event"].replace(b"k2", b"kX")


def delete(sequence):
    return lambda records: records.pop(index_of(records, sequence))


def reorder(records):
    a, b = index_of(records, 6), index_of(records, 7)
    records[a], records[b] = records[b], records[a]


def insert(records):
    # A copy of record 8 appended after the last record.
    records.append(dict(records[index_of(records, 8)]))


@pytest.fixture(scope="module")
def stopped(server_factory_module, tmp_path_factory):
    """A stopped server's data directory with ten recorded calls, restarted once."""
    server, kms = server_factory_module
    for i in range(5):
        kms.create_key(Description=f"k{i}")
    server.stop()
    server.start()
    kms = harness.kms_client(server)
    for i in range(5):
        kms.list_keys()
    server.stop()
    return server.data_dir


@pytest.fixture(scope="module")
def server_factory_module(work_dir):
    s = harness.new_server(work_dir, account_id=ACCOUNT)
    s.start()
    yield s, harness.kms_client(s)
    s.stop()


def test_verify_passes_on_an_untouched_trail_across_restarts(stopped):
    result = trail_cli("verify", "--data-dir", str(stopped))
    assert result.returncode == 0, result.stderr
    assert "trail verified: 10 records" in result.stdout
    assert "2 digests" in result.stdout


@pytest.mark.parametrize("kind,edit,position,words", [
    ("modify", modify, 2, "modified"),
    ("delete", delete(4), 3, "missing"),
    ("reorder", reorder, 5, "out of order"),
    ("insert", insert, 10, "inserted"),
])
def test_verify_names_the_first_bad_position(stopped, tmp_path, kind, edit, position, words):
    data_dir = copy_data_dir(stopped, tmp_path / kind)
    before = stored_records(data_dir)
    tamper(data_dir, edit)
    assert stored_records(data_dir) != before
    result = trail_cli("verify", "--data-dir", str(data_dir))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"first bad position: {position} " in result.stderr, result.stderr
    assert words in result.stderr


def test_the_tamper_helper_alone_changes_nothing(stopped, tmp_path):
    data_dir = copy_data_dir(stopped, tmp_path / "rewritten")
    tamper(data_dir, lambda records: None)
    result = trail_cli("verify", "--data-dir", str(data_dir))
    assert result.returncode == 0, result.stderr


def test_export_writes_cloudtrail_log_and_digest_files(stopped, tmp_path):
    out = tmp_path / "export"
    result = trail_cli("export", "--data-dir", str(stopped), "--out", str(out))
    assert result.returncode == 0, result.stderr
    logs = sorted(out.glob(f"AWSLogs/{ACCOUNT}/CloudTrail/*/*/*/*/*.json.gz"))
    digests = sorted(out.glob(f"AWSLogs/{ACCOUNT}/CloudTrail-Digest/*/*/*/*/*.json.gz"))
    assert len(logs) == 2 and len(digests) == 2
    records = [r for f in logs for r in json.loads(gzip.decompress(f.read_bytes()))["Records"]]
    assert [r["eventName"] for r in records] == ["CreateKey"] * 5 + ["ListKeys"] * 5
    files = [json.loads(gzip.decompress(f.read_bytes())) for f in digests]
    digest = max(files, key=lambda d: d["keywardFirstSequence"])
    assert digest["digestSignatureAlgorithm"] == "Ed25519"
    assert digest["previousDigestSignature"]
    assert (out / "trail-public-key.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    # A tampered trail is not exported.
    bad = copy_data_dir(stopped, tmp_path / "bad")
    tamper(bad, delete(2))
    assert trail_cli("export", "--data-dir", str(bad), "--out", str(tmp_path / "x")).returncode == 1


def test_verify_passes_after_pruning_and_with_an_external_public_key(stopped, tmp_path):
    data_dir = copy_data_dir(stopped, tmp_path / "pruned")
    key_file = tmp_path / "kept.pem"
    key_file.write_text(trail_cli("public-key", "--data-dir", str(data_dir)).stdout)
    result = trail_cli("prune", "--data-dir", str(data_dir), "--retention-days", "0")
    assert result.returncode == 0 and "pruned 10 events" in result.stdout, result
    result = trail_cli("verify", "--data-dir", str(data_dir), "--public-key", str(key_file))
    assert result.returncode == 0, result.stderr
    assert "0 records" in result.stdout


def test_every_acknowledged_event_survives_sigkill(server_factory):
    """Concurrent calls group-committed, the server killed right after the
    last answer: every answered call's event is there after a restart, and
    the trail still verifies (its tail unsigned, no digest at a kill)."""
    from concurrent.futures import ThreadPoolExecutor
    s = server_factory.start(account_id=ACCOUNT)
    kms = harness.kms_client(s)
    key = kms.create_key(Description="kill me")["KeyMetadata"]["KeyId"]

    def calls(_):
        own = harness.kms_client(s)
        return [request_id(own.generate_data_key(KeyId=key, KeySpec="AES_256"))
                for _ in range(25)]

    with ThreadPoolExecutor(8) as pool:
        answered = {rid for batch in pool.map(calls, range(8)) for rid in batch}
    s.kill()
    s.start()
    try:
        stored = {r.get("requestID") for r in looked_up(client(s, "cloudtrail"), "EventName",
                                                         "GenerateDataKey")}
        assert len(answered) == 200 and answered <= stored
    finally:
        s.stop()
    result = trail_cli("verify", "--data-dir", str(s.data_dir))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_decrypt_naming_no_key_names_the_ciphertexts_key(server, kms, ct, iam, key):
    """Issue 17 item 7: a Decrypt without KeyId — allowed, a dry run, or
    denied — names the ciphertext's key in `resources` (seed 000's dry-run
    Decrypt does), so a ResourceName lookup finds all three."""
    blob = kms.encrypt(KeyId=key, Plaintext=b"resource")["CiphertextBlob"]
    allowed = kms.decrypt(CiphertextBlob=blob)
    dry_run = failing(kms.decrypt, CiphertextBlob=blob, DryRun=True)
    assert dry_run.response["Error"]["Code"] == "DryRunOperationException"
    name = unique("nokey")
    iam.create_user(UserName=name)
    access = iam.create_access_key(UserName=name)["AccessKey"]
    denied = failing(client(server, "kms", (access["AccessKeyId"], access["SecretAccessKey"])).decrypt,
                     CiphertextBlob=blob)
    assert denied.response["Error"]["Code"] == "AccessDeniedException"
    arn = server.key_arn(key)
    found = {(r["requestID"], r.get("errorCode")) for r in looked_up(ct, "ResourceName", arn)
             if r["eventName"] == "Decrypt"}
    for result, code in ((allowed, None), (dry_run, "DryRunOperationException"),
                         (denied, "AccessDeniedException")):
        assert (request_id(result), code) in found, (code, found)


def test_assume_role_and_create_access_key_log_what_they_create(server, ct, iam):
    """Issue 17 item 8: AssumeRole's event names the session's access key id,
    its expiry and the assumed role user, so the ASIA key of later events is
    traced to it; CreateAccessKey's names the new key; neither logs a secret
    or a session token."""
    name = unique("creator")
    iam.create_user(UserName=name)
    created = iam.create_access_key(UserName=name)
    access = created["AccessKey"]
    event = the_event(ct, created, "CreateAccessKey")
    assert event["responseElements"]["accessKey"]["accessKeyId"] == access["AccessKeyId"]
    assert event["responseElements"]["accessKey"]["status"] == "Active"
    assert event["responseElements"]["accessKey"]["userName"] == name
    assert event["responseElements"]["accessKey"]["createDate"]
    assert access["SecretAccessKey"] not in json.dumps(event)

    role = unique("traced")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    assumed = client(server, "sts").assume_role(RoleArn=role_arn, RoleSessionName="traced-session")
    credentials = assumed["Credentials"]
    event = the_event(ct, assumed, "AssumeRole")
    elements = event["responseElements"]
    assert elements["credentials"]["accessKeyId"] == credentials["AccessKeyId"]
    assert credentials["AccessKeyId"].startswith("ASIA")
    assert elements["credentials"]["expiration"]
    assert elements["assumedRoleUser"] == {
        "assumedRoleId": assumed["AssumedRoleUser"]["AssumedRoleId"],
        "arn": assumed["AssumedRoleUser"]["Arn"],
    }
    text = json.dumps(event)
    assert credentials["SecretAccessKey"] not in text
    assert credentials["SessionToken"] not in text
    # A later call signed with the session's key names that key.
    session = boto3.session.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=server.server_region).client("sts", endpoint_url=server.url)
    later = session.get_caller_identity()
    assert the_event(ct, later, "GetCallerIdentity")["userIdentity"]["accessKeyId"] == credentials["AccessKeyId"]
