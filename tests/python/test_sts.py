"""STS: AssumeRole decided by trust and identity policies, temporary
credentials that sign KMS/STS calls, GetCallerIdentity, expiry by the dev
clock, tampered tokens, and sessions surviving a restart."""

from __future__ import annotations

import datetime
import json

import boto3
import botocore.config
import pytest

import harness
from harness import expect_error, unique

INVALID_TOKEN = "The security token included in the request is invalid."
EXPIRED_TOKEN = "The security token included in the request is expired"


def client(server, service, creds=None, token=None, validate=True):
    access, secret = creds or server.default_credentials()
    session = boto3.session.Session(aws_access_key_id=access, aws_secret_access_key=secret,
                                    aws_session_token=token, region_name=server.server_region)
    cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"},
                                 parameter_validation=validate)
    return session.client(service, endpoint_url=server.url, config=cfg)


def allow(action, resource="*"):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": action, "Resource": resource}]})


def trust(*principals):
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": list(principals)}, "Action": "sts:AssumeRole"}]})


def new_user(iam, policies=()):
    name = unique("user")
    iam.create_user(UserName=name)
    for i, policy in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{i}", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, (key["AccessKeyId"], key["SecretAccessKey"])


def session_client(server, service, credentials):
    return client(server, service, (credentials["AccessKeyId"], credentials["SecretAccessKey"]),
                  token=credentials["SessionToken"])


@pytest.fixture(scope="module")
def iam(server):
    return client(server, "iam")


def test_a_user_named_in_the_trust_policy_assumes_the_role(server, iam):
    name, creds = new_user(iam)
    role = unique("ops")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(
        f"arn:aws:iam::{server.account}:user/{name}"))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="kms", PolicyDocument=allow("kms:*"))
    answer = client(server, "sts", creds).assume_role(RoleArn=arn, RoleSessionName="alice-session")
    c = answer["Credentials"]
    assert c["AccessKeyId"].startswith("ASIA") and len(c["AccessKeyId"]) == 20
    assert len(c["SecretAccessKey"]) == 40 and c["SessionToken"]
    lifetime = c["Expiration"].timestamp() - harness.utcnow().timestamp()
    assert 3500 < lifetime <= 3601
    user = answer["AssumedRoleUser"]
    session_arn = f"arn:aws:sts::{server.account}:assumed-role/{role}/alice-session"
    assert user["Arn"] == session_arn
    role_id = iam.get_role(RoleName=role)["Role"]["RoleId"]
    assert user["AssumedRoleId"] == f"{role_id}:alice-session"
    identity = session_client(server, "sts", c).get_caller_identity()
    assert (identity["Arn"], identity["UserId"], identity["Account"]) == (
        session_arn, f"{role_id}:alice-session", server.account)
    # The session signs KMS calls with the role's permissions.
    kms = session_client(server, "kms", c)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    described = kms.describe_key(KeyId=key_id)
    assert described["KeyMetadata"]["KeyId"] == key_id
    # The trail names the session, the role that issued it and when.
    ct = client(server, "cloudtrail", server.admin_credentials())
    rid = described["ResponseMetadata"]["RequestId"]
    [event] = [json.loads(e["CloudTrailEvent"]) for e in ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "Username", "AttributeValue": "alice-session"}])["Events"]
        if json.loads(e["CloudTrailEvent"]).get("requestID") == rid]
    who = event["userIdentity"]
    assert who["type"] == "AssumedRole"
    assert who["arn"] == session_arn
    assert who["principalId"] == f"{role_id}:alice-session"
    assert who["accessKeyId"] == c["AccessKeyId"]
    assert who["sessionContext"]["sessionIssuer"] == {
        "type": "Role", "principalId": role_id, "arn": arn,
        "accountId": server.account, "userName": role}
    attributes = who["sessionContext"]["attributes"]
    assert attributes["mfaAuthenticated"] == "false"
    issued = datetime.datetime.strptime(attributes["creationDate"], "%Y-%m-%dT%H:%M:%SZ")
    assert abs(issued.replace(tzinfo=datetime.timezone.utc).timestamp()
               - (c["Expiration"].timestamp() - 3600)) <= 1


def test_trust_and_identity_policies_decide(server, iam):
    plain, plain_creds = new_user(iam)
    allowed, allowed_creds = new_user(iam, [allow("sts:AssumeRole")])
    role = unique("acct")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(
        f"arn:aws:iam::{server.account}:root"))["Role"]["Arn"]
    expect_error(
        client(server, "sts", plain_creds).assume_role, "AccessDenied",
        f"User: arn:aws:iam::{server.account}:user/{plain} is not authorized to perform: "
        f"sts:AssumeRole on resource: {arn}",
        status=403, RoleArn=arn, RoleSessionName="s1")
    ok = client(server, "sts", allowed_creds).assume_role(RoleArn=arn, RoleSessionName="s1")
    assert ok["AssumedRoleUser"]["Arn"].endswith(f":assumed-role/{role}/s1")
    # Root has an implicit allow.
    assert client(server, "sts").assume_role(RoleArn=arn, RoleSessionName="root")["Credentials"]
    # A role that does not exist is indistinguishable from one you may not assume.
    ghost = f"arn:aws:iam::{server.account}:role/{unique('ghost')}"
    expect_error(client(server, "sts").assume_role, "AccessDenied",
                 f"User: arn:aws:iam::{server.account}:root is not authorized to perform: "
                 f"sts:AssumeRole on resource: {ghost}",
                 status=403, RoleArn=ghost, RoleSessionName="s1")


def test_assume_role_validation(server, iam):
    role = unique("v")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(
        f"arn:aws:iam::{server.account}:root"))["Role"]["Arn"]
    sts = client(server, "sts", validate=False)
    expect_error(sts.assume_role, "ValidationError",
                 "1 validation error detected: Value 'x' at 'roleSessionName' failed to satisfy "
                 "constraint: Member must have length greater than or equal to 2",
                 RoleArn=arn, RoleSessionName="x")
    expect_error(sts.assume_role, "ValidationError",
                 "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
                 RoleArn=arn, RoleSessionName="s1", DurationSeconds=7200)
    expect_error(sts.assume_role, "ValidationError",
                 "1 validation error detected: Value 'a b' at 'roleSessionName' failed to satisfy "
                 "constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
                 RoleArn=arn, RoleSessionName="a b")


def test_the_cli_assumes_a_role_and_uses_the_session(server, aws, iam, tmp_path):
    role = unique("cli")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(
        f"arn:aws:iam::{server.account}:root"))["Role"]["Arn"]
    assumed = aws("sts", "assume-role", "--role-arn", arn, "--role-session-name", "cli-session",
                  "--duration-seconds", "900")
    assert assumed.returncode == 0, assumed
    c = assumed.json["Credentials"]
    creds = tmp_path / "session"
    creds.write_text(f"[default]\naws_access_key_id = {c['AccessKeyId']}\n"
                     f"aws_secret_access_key = {c['SecretAccessKey']}\n"
                     f"aws_session_token = {c['SessionToken']}\n")
    who = harness.run_aws(server, ["sts", "get-caller-identity"], credentials_file=creds)
    assert who.returncode == 0, who
    assert who.json["Arn"] == f"arn:aws:sts::{server.account}:assumed-role/{role}/cli-session"


def test_tampered_and_foreign_tokens_are_refused(server, iam):
    role = unique("t")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(
        f"arn:aws:iam::{server.account}:root"))["Role"]["Arn"]
    c = client(server, "sts").assume_role(RoleArn=arn, RoleSessionName="s1")["Credentials"]
    token = c["SessionToken"]
    middle = len(token) // 2
    tampered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]
    for bad in (tampered, "FwoGZXIvYXdzEJr//////////wEaDKmoto"):
        sts = session_client(server, "sts", {**c, "SessionToken": bad})
        expect_error(sts.get_caller_identity, "InvalidClientTokenId", INVALID_TOKEN, status=403)
        kms = session_client(server, "kms", {**c, "SessionToken": bad})
        expect_error(kms.list_keys, "UnrecognizedClientException", INVALID_TOKEN)
    # Without its token, a session key is unknown.
    no_token = client(server, "sts", (c["AccessKeyId"], c["SecretAccessKey"]))
    expect_error(no_token.get_caller_identity, "InvalidClientTokenId", INVALID_TOKEN, status=403)


def test_sessions_expire_by_the_service_clock(server_factory):
    s = server_factory.start(dev=True)
    iam = client(s, "iam")
    role = unique("exp")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(
        f"arn:aws:iam::{s.account}:root"))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="kms", PolicyDocument=allow("kms:*"))
    c = client(s, "sts").assume_role(RoleArn=arn, RoleSessionName="short",
                                     DurationSeconds=900)["Credentials"]
    sts = session_client(s, "sts", c)
    kms = session_client(s, "kms", c)
    assert sts.get_caller_identity()["Arn"].endswith(f":assumed-role/{role}/short")
    kms.list_keys()
    # The dev clock runs with real time plus the moves, so the steps leave half the session
    # either side of its expiry: the check holds however slowly the calls run (the boundary
    # to the second is checked in-process by the identity crate's unit tests).
    harness.advance_clock(s, 450)
    assert sts.get_caller_identity()["Arn"].endswith("/short")
    harness.advance_clock(s, 451)
    # Expired session tokens are refused even in --dev mode.
    expect_error(sts.get_caller_identity, "ExpiredToken", EXPIRED_TOKEN, status=403)
    expect_error(kms.list_keys, "ExpiredTokenException", EXPIRED_TOKEN)


def test_sessions_survive_a_restart(server_factory):
    s = server_factory.start()
    iam = client(s, "iam")
    role = unique("r")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(
        f"arn:aws:iam::{s.account}:root"))["Role"]["Arn"]
    c = client(s, "sts").assume_role(RoleArn=arn, RoleSessionName="kept")["Credentials"]
    s.restart()
    assert session_client(s, "sts", c).get_caller_identity()["Arn"].endswith(f"/{role}/kept")


def test_external_id_and_session_policies(server, iam):
    role = unique("vendor")
    document = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": server.account}, "Action": "sts:AssumeRole",
        "Condition": {"StringEquals": {"sts:ExternalId": "ext-123"}}}]}
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"]
    sts = client(server, "sts")
    expect_error(sts.assume_role, "AccessDenied", status=403, RoleArn=arn, RoleSessionName="s1")
    expect_error(sts.assume_role, "AccessDenied", status=403, RoleArn=arn, RoleSessionName="s1",
                 ExternalId="ext-999")
    assert sts.assume_role(RoleArn=arn, RoleSessionName="s1", ExternalId="ext-123")["Credentials"]
    # Session policies would narrow the session; keyward refuses rather than ignore them.
    expect_error(sts.assume_role, "ValidationError",
                 "Session policies (Policy, PolicyArns) are not supported by keyward.",
                 RoleArn=arn, RoleSessionName="s1", ExternalId="ext-123", Policy=allow("kms:Decrypt"))


def test_update_assume_role_policy_with_the_cli(server, aws, iam):
    name, creds = new_user(iam)
    role = unique("upd")
    arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust(
        f"arn:aws:iam::{server.account}:root"))["Role"]["Arn"]
    sts = client(server, "sts", creds)
    expect_error(sts.assume_role, "AccessDenied", status=403, RoleArn=arn, RoleSessionName="s1")
    updated = aws("iam", "update-assume-role-policy", "--role-name", role, "--policy-document",
                  trust(f"arn:aws:iam::{server.account}:user/{name}"))
    assert updated.returncode == 0, updated
    assert sts.assume_role(RoleArn=arn, RoleSessionName="s1")["AssumedRoleUser"]["Arn"].endswith("/s1")
