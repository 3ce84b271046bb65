"""Grants end to end through boto3 and the AWS CLI: CreateGrant, ListGrants,
ListRetirableGrants, RetireGrant, RevokeGrant, grant tokens and DryRun, as
the account's root user (grantees acting on their grants are in
test_authorization.py, which needs IAM identities)."""

from __future__ import annotations

import json
import re

import pytest

from harness import DRY_RUN_MESSAGE, expect_error, unique

ACCOUNT = "111122223333"


@pytest.fixture(scope="module")
def key(kms):
    return kms.create_key(Description=unique("grants"))["KeyMetadata"]


def grantee(name: str) -> str:
    # Service-style principals need no IAM user to exist.
    return f"{name}.amazonaws.com"


def test_create_list_retire_by_token(kms, key):
    out = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=grantee("fargate"),
        RetiringPrincipal="ec2.amazonaws.com", Operations=["Decrypt"],
        Constraints={"EncryptionContextSubset": {"aws:ecs:clusterAccount": ACCOUNT}})
    assert re.fullmatch(r"[0-9a-f]{64}", out["GrantId"])
    assert len(out["GrantToken"]) > 20
    grants = kms.list_grants(KeyId=key["Arn"], GrantId=out["GrantId"])["Grants"]
    assert len(grants) == 1
    g = grants[0]
    assert g["KeyId"] == key["Arn"]
    assert g["GranteePrincipal"] == "fargate.amazonaws.com"
    assert g["RetiringPrincipal"] == "ec2.amazonaws.com"
    assert g["IssuingAccount"] == f"arn:aws:iam::{ACCOUNT}:root"
    assert g["Operations"] == ["Decrypt"]
    assert g["Constraints"] == {"EncryptionContextSubset": {"aws:ecs:clusterAccount": ACCOUNT}}
    assert "CreationDate" in g
    retirable = kms.list_retirable_grants(RetiringPrincipal="ec2.amazonaws.com")["Grants"]
    assert out["GrantId"] in [x["GrantId"] for x in retirable]
    kms.retire_grant(GrantToken=out["GrantToken"])
    assert kms.list_grants(KeyId=key["KeyId"], GrantId=out["GrantId"])["Grants"] == []
    # Retiring twice: the grant is gone.
    expect_error(kms.retire_grant, "NotFoundException", GrantToken=out["GrantToken"])


def test_name_makes_create_grant_idempotent(kms, key):
    args = dict(KeyId=key["KeyId"], GranteePrincipal=grantee("batch"),
                Operations=["Encrypt", "Decrypt"], Name="run-42")
    first = kms.create_grant(**args)
    second = kms.create_grant(**args)
    assert first["GrantId"] == second["GrantId"]
    assert first["GrantToken"] != second["GrantToken"]
    third = kms.create_grant(**{**args, "Name": "run-43"})
    assert third["GrantId"] != first["GrantId"]


def test_revoke_and_dry_runs(kms, key):
    g = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=grantee("lambda"),
                         Operations=["GenerateDataKey"])
    expect_error(kms.create_grant, "DryRunOperationException", DRY_RUN_MESSAGE,
                 KeyId=key["KeyId"], GranteePrincipal=grantee("lambda"),
                 Operations=["GenerateDataKey"], DryRun=True)
    expect_error(kms.revoke_grant, "DryRunOperationException", DRY_RUN_MESSAGE,
                 KeyId=key["KeyId"], GrantId=g["GrantId"], DryRun=True)
    expect_error(kms.retire_grant, "DryRunOperationException", DRY_RUN_MESSAGE,
                 KeyId=key["Arn"], GrantId=g["GrantId"], DryRun=True)
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=g["GrantId"])
    expect_error(kms.revoke_grant, "NotFoundException",
                 KeyId=key["KeyId"], GrantId=g["GrantId"])
    expect_error(kms.revoke_grant, "InvalidGrantIdException",
                 KeyId=key["KeyId"], GrantId="not-a-grant-id")


def test_grant_validation(kms, key, kms_raw):
    expect_error(kms_raw.create_grant, "ValidationException",
                 message_contains="Member must satisfy enum value set",
                 KeyId=key["KeyId"], GranteePrincipal=grantee("x"), Operations=["Dance"])
    expect_error(kms.create_grant, "ValidationException",
                 message_contains="Sign",
                 KeyId=key["KeyId"], GranteePrincipal=grantee("x"), Operations=["Sign"])
    expect_error(kms.create_grant, "InvalidArnException",
                 KeyId=key["KeyId"], GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:user/no-such-user",
                 Operations=["Decrypt"])
    expect_error(kms.encrypt, "InvalidGrantTokenException",
                 KeyId=key["KeyId"], Plaintext=b"x", GrantTokens=["garbage"])


def test_a_grantee_who_needs_its_grant_uses_it_with_its_token(server, kms, key):
    # Issue 17, item 21: the token is presented by a caller who is allowed only by the grant
    # (an IAM user without any policy), not by root, who would succeed without it.
    import boto3
    import botocore.config
    import harness
    access, secret = server.admin_credentials()
    iam = boto3.session.Session(aws_access_key_id=access, aws_secret_access_key=secret,
                                region_name=server.server_region).client(
        "iam", endpoint_url=server.url,
        config=botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"}))
    name = unique("grantee")
    user_arn = iam.create_user(UserName=name)["User"]["Arn"]
    user_key = iam.create_access_key(UserName=name)["AccessKey"]
    bob = harness.kms_client(server, creds=(user_key["AccessKeyId"], user_key["SecretAccessKey"]))
    denied = (f"User: {user_arn} is not authorized to perform: kms:Encrypt on resource: "
              f"{key['Arn']} because no identity-based policy allows the kms:Encrypt action")
    expect_error(bob.encrypt, "AccessDeniedException", denied, KeyId=key["Arn"], Plaintext=b"x")
    g = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn, Operations=["Encrypt"])
    out = bob.encrypt(KeyId=key["Arn"], Plaintext=b"x", GrantTokens=[g["GrantToken"]])
    assert out["KeyId"] == key["Arn"]
    # The grant allows Encrypt only, and a token keyward did not issue is refused.
    expect_error(bob.decrypt, "AccessDeniedException", CiphertextBlob=out["CiphertextBlob"],
                 GrantTokens=[g["GrantToken"]])
    expect_error(bob.encrypt, "InvalidGrantTokenException", "The grant token is not valid.",
                 KeyId=key["Arn"], Plaintext=b"x", GrantTokens=["not-a-grant-token"])
    # Revoked, the grant and its token no longer let bob in.
    kms.revoke_grant(KeyId=key["KeyId"], GrantId=g["GrantId"])
    expect_error(bob.encrypt, "AccessDeniedException", denied, KeyId=key["Arn"], Plaintext=b"x",
                 GrantTokens=[g["GrantToken"]])


def test_grants_on_a_disabled_key(kms):
    k = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=k["KeyId"])
    expect_error(kms.create_grant, "DisabledException", f"{k['Arn']} is disabled.",
                 KeyId=k["KeyId"], GranteePrincipal=grantee("x"), Operations=["Decrypt"])
    # Listing works in any state.
    assert kms.list_grants(KeyId=k["KeyId"])["Grants"] == []


def test_list_grants_pages(kms):
    k = kms.create_key()["KeyMetadata"]
    ids = {kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=grantee(f"p{i}"),
                            Operations=["Decrypt"])["GrantId"] for i in range(7)}
    seen, marker = [], None
    while True:
        kwargs = {"KeyId": k["KeyId"], "Limit": 3}
        if marker:
            kwargs["Marker"] = marker
        page = kms.list_grants(**kwargs)
        seen += [g["GrantId"] for g in page["Grants"]]
        if not page["Truncated"]:
            break
        marker = page["NextMarker"]
    assert sorted(seen) == sorted(ids)
    only = kms.list_grants(KeyId=k["KeyId"], GranteePrincipal=grantee("p3"))["Grants"]
    assert [g["GranteePrincipal"] for g in only] == [grantee("p3")]


def test_aws_cli_grant_commands(aws, kms):
    k = kms.create_key()["KeyMetadata"]
    r = aws("kms", "create-grant", "--key-id", k["KeyId"], "--grantee-principal",
            grantee("cli"), "--operations", "Decrypt", "Encrypt",
            "--constraints", json.dumps({"EncryptionContextEquals": {"app": "a"}}))
    assert r.returncode == 0, r.stderr
    grant_id = json.loads(r.stdout)["GrantId"]
    r = aws("kms", "list-grants", "--key-id", k["KeyId"])
    assert r.returncode == 0, r.stderr
    grants = json.loads(r.stdout)["Grants"]
    assert [g["GrantId"] for g in grants] == [grant_id]
    assert grants[0]["Constraints"] == {"EncryptionContextEquals": {"app": "a"}}
    r = aws("kms", "revoke-grant", "--key-id", k["KeyId"], "--grant-id", grant_id)
    assert r.returncode == 0, r.stderr
    r = aws("kms", "list-grants", "--key-id", k["KeyId"])
    assert json.loads(r.stdout)["Grants"] == []


def test_grants_survive_a_restart(server_factory):
    import harness
    s = server_factory.start()
    kms = harness.kms_client(s)
    k = kms.create_key()["KeyMetadata"]
    g = kms.create_grant(KeyId=k["KeyId"], GranteePrincipal=grantee("durable"),
                         Operations=["Decrypt"])
    s.kill()
    s.start()
    kms = harness.kms_client(s)
    assert [x["GrantId"] for x in kms.list_grants(KeyId=k["KeyId"])["Grants"]] == [g["GrantId"]]
