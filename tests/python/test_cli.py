"""The AWS CLI (v1, from PyPI) against keyward, unchanged: `aws kms ... --endpoint-url`.

CLI v1 blob semantics: `--plaintext some-text` is sent as the bytes of the text (the CLI
base64-encodes it); `fileb://path` sends the file's raw bytes; blob outputs are printed
base64-encoded.
"""

import base64
import os
import re

import pytest

import harness


def ok(result):
    assert result.returncode == 0, str(result)
    return result.json


def test_documented_list_keys_command(server, kms):
    """AWS_SHARED_CREDENTIALS_FILE=<dir>/admin-credentials aws kms list-keys --endpoint-url URL"""
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    out = ok(harness.run_aws(server, ["kms", "list-keys"]))
    assert key_id in [k["KeyId"] for k in out["Keys"]]
    for k in out["Keys"]:
        assert k["KeyArn"] == server.key_arn(k["KeyId"])


def test_create_key_and_describe_by_alias(server, aws):
    md = ok(aws("kms", "create-key", "--description", "from the cli"))["KeyMetadata"]
    assert md["Arn"] == server.key_arn(md["KeyId"])
    assert md["KeyState"] == "Enabled" and md["Description"] == "from the cli"
    assert md["KeySpec"] == "SYMMETRIC_DEFAULT" and md["KeyManager"] == "CUSTOMER"
    # CLI v1 prints timestamps as the wire's epoch number
    assert isinstance(md["CreationDate"], (int, float))

    alias = f"alias/{harness.unique('cli')}"
    res = aws("kms", "create-alias", "--alias-name", alias, "--target-key-id", md["KeyId"])
    assert res.returncode == 0 and res.stdout.strip() == "", str(res)
    described = ok(aws("kms", "describe-key", "--key-id", alias))["KeyMetadata"]
    assert described["KeyId"] == md["KeyId"]
    aliases = ok(aws("kms", "list-aliases", "--key-id", md["KeyId"]))["Aliases"]
    assert [a["AliasName"] for a in aliases] == [alias]
    assert aliases[0]["AliasArn"] == server.alias_arn(alias)


def test_encrypt_decrypt_round_trip_with_files(server, aws, kms, tmp_path):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    plaintext = os.urandom(300) + b"\x00\xff binary"
    (tmp_path / "plain.bin").write_bytes(plaintext)
    enc = ok(aws("kms", "encrypt", "--key-id", key_id,
                 "--plaintext", f"fileb://{tmp_path / 'plain.bin'}",
                 "--encryption-context", "purpose=cli,team=kw"))
    assert enc["KeyId"] == server.key_arn(key_id)
    assert enc["EncryptionAlgorithm"] == "SYMMETRIC_DEFAULT"
    (tmp_path / "ct.bin").write_bytes(base64.b64decode(enc["CiphertextBlob"]))
    dec = ok(aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}",
                 "--encryption-context", "team=kw,purpose=cli"))
    assert base64.b64decode(dec["Plaintext"]) == plaintext
    assert dec["KeyId"] == server.key_arn(key_id)
    # and boto3 agrees with the CLI
    assert kms.decrypt(CiphertextBlob=base64.b64decode(enc["CiphertextBlob"]),
                       EncryptionContext={"purpose": "cli", "team": "kw"})["Plaintext"] == plaintext


def test_encrypt_text_plaintext_v1_semantics(server, aws, kms, tmp_path):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    enc = ok(aws("kms", "encrypt", "--key-id", key_id, "--plaintext", "hello from cli v1"))
    ct = base64.b64decode(enc["CiphertextBlob"])
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"hello from cli v1"
    (tmp_path / "ct.bin").write_bytes(ct)
    text = harness.run_aws(server, ["kms", "decrypt", "--ciphertext-blob",
                                    f"fileb://{tmp_path / 'ct.bin'}",
                                    "--query", "Plaintext"])
    assert text.returncode == 0, str(text)
    assert base64.b64decode(text.json) == b"hello from cli v1"


def test_wrong_encryption_context_via_cli(aws, kms, tmp_path):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    ct = kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"a": "b"})["CiphertextBlob"]
    (tmp_path / "ct.bin").write_bytes(ct)
    res = aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct.bin'}",
              "--encryption-context", "a=c")
    assert res.returncode != 0, str(res)
    assert "InvalidCiphertextException" in res.stderr, str(res)


def test_generate_data_key_and_random(aws, kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    dk = ok(aws("kms", "generate-data-key", "--key-id", key_id, "--key-spec", "AES_256"))
    assert len(base64.b64decode(dk["Plaintext"])) == 32
    assert kms.decrypt(CiphertextBlob=base64.b64decode(dk["CiphertextBlob"]))["Plaintext"] == \
        base64.b64decode(dk["Plaintext"])
    rnd = ok(aws("kms", "generate-random", "--number-of-bytes", "48"))
    assert len(base64.b64decode(rnd["Plaintext"])) == 48


def test_rotation_and_tags_via_cli(aws, kms):
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert aws("kms", "enable-key-rotation", "--key-id", key_id,
               "--rotation-period-in-days", "120").returncode == 0
    st = ok(aws("kms", "get-key-rotation-status", "--key-id", key_id))
    assert st["KeyRotationEnabled"] is True and st["RotationPeriodInDays"] == 120
    assert aws("kms", "tag-resource", "--key-id", key_id,
               "--tags", "TagKey=team,TagValue=kw").returncode == 0
    tags = ok(aws("kms", "list-resource-tags", "--key-id", key_id))["Tags"]
    assert tags == [{"TagKey": "team", "TagValue": "kw"}]


def test_schedule_and_cancel_deletion_via_cli(server, aws, kms):
    md = kms.create_key()["KeyMetadata"]
    out = ok(aws("kms", "schedule-key-deletion", "--key-id", md["KeyId"],
                 "--pending-window-in-days", "7"))
    assert out["KeyId"] == md["Arn"] and out["KeyState"] == "PendingDeletion"
    assert out["PendingWindowInDays"] == 7
    assert ok(aws("kms", "cancel-key-deletion", "--key-id", md["KeyId"]))["KeyId"] == md["Arn"]


def test_cli_reports_service_errors(server, aws):
    res = aws("kms", "describe-key", "--key-id", "alias/does-not-exist-anywhere")
    assert res.returncode != 0, str(res)
    assert "NotFoundException" in res.stderr, str(res)
    assert f"Alias {server.alias_arn('alias/does-not-exist-anywhere')} is not found." in res.stderr


def test_cli_with_unknown_credentials_is_rejected(server, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = AKIANOTAREALKEY00000\n"
                     "aws_secret_access_key = nope\n")
    res = harness.run_aws(server, ["kms", "list-keys"], credentials_file=creds)
    assert res.returncode != 0, str(res)
    assert "UnrecognizedClientException" in res.stderr, str(res)


def test_cli_against_dev_server_with_testing_credentials(dev_server, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text("[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    md = ok(harness.run_aws(dev_server, ["kms", "create-key"], credentials_file=creds))["KeyMetadata"]
    assert md["Arn"] == f"arn:aws:kms:us-east-1:{harness.DEV_ACCOUNT}:key/{md['KeyId']}"
    assert md["AWSAccountId"] == harness.DEV_ACCOUNT
