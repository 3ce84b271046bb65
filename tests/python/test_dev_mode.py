"""`--dev`: moto-style credentials (testing/testing), account 123456789012, any access key
acts as the default account's admin; without --dev unknown keys are rejected."""

import re

import pytest

import harness
from harness import DEV_ACCOUNT, expect_error


def test_testing_credentials_work_and_arns_carry_the_dev_account(dev_server, dev_kms):
    md = dev_kms.create_key(Description="dev")["KeyMetadata"]
    assert md["AWSAccountId"] == DEV_ACCOUNT
    assert re.fullmatch(rf"arn:aws:kms:us-east-1:{DEV_ACCOUNT}:key/{harness.UUID_RE}", md["Arn"])
    enc = dev_kms.encrypt(KeyId=md["KeyId"], Plaintext=b"dev")
    assert enc["KeyId"] == md["Arn"]
    alias = f"alias/{harness.unique('dev')}"
    dev_kms.create_alias(AliasName=alias, TargetKeyId=md["KeyId"])
    entry = [a for a in dev_kms.list_aliases(KeyId=md["KeyId"])["Aliases"]][0]
    assert entry["AliasArn"] == f"arn:aws:kms:us-east-1:{DEV_ACCOUNT}:{alias}"
    policy = dev_kms.get_key_policy(KeyId=md["KeyId"], PolicyName="default")["Policy"]
    assert f'"AWS" : "arn:aws:iam::{DEV_ACCOUNT}:root"' in policy


def test_any_access_key_is_admin_of_the_default_account(dev_server, make_kms, dev_kms):
    md = dev_kms.create_key()["KeyMetadata"]
    ct = dev_kms.encrypt(KeyId=md["KeyId"], Plaintext=b"shared")["CiphertextBlob"]
    for creds in [("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
                  ("some-other-key", "and-any-secret"),
                  ("testing", "not-the-testing-secret")]:
        client = make_kms(dev_server, creds=creds)
        ids = {k["KeyId"] for p in client.get_paginator("list_keys").paginate() for k in p["Keys"]}
        assert md["KeyId"] in ids, creds
        assert client.decrypt(CiphertextBlob=ct)["Plaintext"] == b"shared"
        created = client.create_key()["KeyMetadata"]
        assert created["AWSAccountId"] == DEV_ACCOUNT


def test_admin_credentials_also_work_in_dev_mode(dev_server, make_kms):
    client = make_kms(dev_server, creds=dev_server.admin_credentials())
    md = client.create_key()["KeyMetadata"]
    assert md["AWSAccountId"] == DEV_ACCOUNT


def test_dev_mode_still_needs_a_sigv4_authorization_header(dev_server):
    resp = harness.raw_call(dev_server, "TrentService.ListKeys", {}, sign=False)
    assert resp.status == 400, resp
    assert resp.error_type == "MissingAuthenticationTokenException", resp


def test_without_dev_testing_credentials_are_rejected(server, make_kms):
    client = make_kms(server, creds=("testing", "testing"))
    expect_error(client.list_keys, "UnrecognizedClientException",
                 "The security token included in the request is invalid.")
    expect_error(client.create_key, "UnrecognizedClientException",
                 "The security token included in the request is invalid.")


def test_dev_account_id_flag_sets_the_account(server_factory):
    s = server_factory.start(dev=True, account_id="210987654321")
    md = harness.kms_client(s).create_key()["KeyMetadata"]
    assert md["AWSAccountId"] == "210987654321"
    assert md["Arn"] == f"arn:aws:kms:us-east-1:210987654321:key/{md['KeyId']}"


def test_dev_region_flag_sets_the_region(server_factory):
    s = server_factory.start(dev=True, region="eu-west-1")
    kms = harness.kms_client(s, region="eu-west-1")
    md = kms.create_key()["KeyMetadata"]
    assert md["Arn"] == f"arn:aws:kms:eu-west-1:{DEV_ACCOUNT}:key/{md['KeyId']}"
    other_region_arn = f"arn:aws:kms:us-east-1:{DEV_ACCOUNT}:key/{md['KeyId']}"
    expect_error(kms.describe_key, "NotFoundException", "Invalid arn us-east-1",
                 KeyId=other_region_arn)


def test_non_dev_server_uses_the_account_id_flag(server, kms):
    md = kms.create_key()["KeyMetadata"]
    assert md["AWSAccountId"] == harness.SERVER_ACCOUNT


def test_dev_mode_verifies_session_keys_as_without_it(dev_server, tmp_path):
    """Issue 17, item 1: an ASIA session key with a wrong or missing token is refused in --dev
    exactly as without it; only unknown long-term (AKIA-style) ids stand in for root."""
    import test_sts as sts_helpers
    iam = sts_helpers.client(dev_server, "iam")
    role = harness.unique("dev")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=sts_helpers.trust(
        f"arn:aws:iam::{DEV_ACCOUNT}:root"))["Role"]["Arn"]
    c = sts_helpers.client(dev_server, "sts").assume_role(
        RoleArn=arn, RoleSessionName="dev-session")["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA")
    invalid = sts_helpers.INVALID_TOKEN
    token = c["SessionToken"]
    tampered = token[:-8] + ("A" if token[-8] != "A" else "B") + token[-7:]
    other = sts_helpers.client(dev_server, "sts").assume_role(
        RoleArn=arn, RoleSessionName="other")["Credentials"]["SessionToken"]
    for bad in (tampered, other, "testing", None):
        sts = sts_helpers.client(dev_server, "sts", (c["AccessKeyId"], c["SecretAccessKey"]),
                                 token=bad)
        expect_error(sts.get_caller_identity, "InvalidClientTokenId", invalid, status=403)
        kms = sts_helpers.client(dev_server, "kms", (c["AccessKeyId"], c["SecretAccessKey"]),
                                 token=bad)
        expect_error(kms.list_keys, "UnrecognizedClientException", invalid)
    # An ASIA id keyward never issued is refused too, token or not.
    for bad in ("testing", None):
        kms = sts_helpers.client(dev_server, "kms", ("ASIAIOSFODNN7EXAMPLE", "secret"), token=bad)
        expect_error(kms.list_keys, "UnrecognizedClientException", invalid)
    # The AWS CLI, as a user would try it: the session key without its token.
    creds = tmp_path / "session"
    creds.write_text(f"[default]\naws_access_key_id = {c['AccessKeyId']}\n"
                     f"aws_secret_access_key = {c['SecretAccessKey']}\n")
    who = harness.run_aws(dev_server, ["sts", "get-caller-identity"], credentials_file=creds)
    assert who.returncode != 0 and "InvalidClientTokenId" in who.stderr, who
    # The right token works; unknown long-term ids (moto's testing/testing, with or without
    # moto's dummy session token) still act as the default root.
    assert sts_helpers.session_client(dev_server, "sts", c).get_caller_identity()["Arn"] == (
        f"arn:aws:sts::{DEV_ACCOUNT}:assumed-role/{role}/dev-session")
    for key_id, dummy_token in (("testing", None), ("testing", "testing"),
                                ("AKIAIOSFODNN7EXAMPLE", None)):
        sts = sts_helpers.client(dev_server, "sts", (key_id, "testing"), token=dummy_token)
        assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{DEV_ACCOUNT}:root"
