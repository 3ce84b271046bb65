"""IAM over the Query protocol: users, access keys, inline policies, with
boto3 and the AWS CLI, and the keys they create used for KMS and STS calls."""

from __future__ import annotations

import json
import urllib.parse

import boto3
import botocore.config
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

import harness
from harness import expect_error, unique

INVALID_TOKEN = "The security token included in the request is invalid."


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


def new_user(iam, name=None, policies=()):
    """A user with an access key; returns (name, (access key id, secret))."""
    name = name or unique("user")
    iam.create_user(UserName=name)
    for i, policy in enumerate(policies):
        iam.put_user_policy(UserName=name, PolicyName=f"p{i}", PolicyDocument=policy)
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, (key["AccessKeyId"], key["SecretAccessKey"])


def credentials_file(path, creds, token=None):
    text = f"[default]\naws_access_key_id = {creds[0]}\naws_secret_access_key = {creds[1]}\n"
    if token:
        text += f"aws_session_token = {token}\n"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def iam(server):
    return client(server, "iam")


def test_users_are_created_found_listed_and_deleted(server, iam):
    name = unique("alice")
    user = iam.create_user(UserName=name, Path="/eng/")["User"]
    assert user["Arn"] == f"arn:aws:iam::{server.account}:user/eng/{name}"
    assert user["UserId"].startswith("AIDA") and len(user["UserId"]) == 21
    assert user["Path"] == "/eng/" and user["UserName"] == name
    assert iam.get_user(UserName=name)["User"] == user
    names = [u["UserName"] for u in iam.list_users(PathPrefix="/eng/")["Users"]]
    assert name in names
    expect_error(iam.create_user, "EntityAlreadyExists", f"User with name {name} already exists.",
                 status=409, UserName=name)
    iam.delete_user(UserName=name)
    expect_error(iam.get_user, "NoSuchEntity", f"The user with name {name} cannot be found.",
                 status=404, UserName=name)
    expect_error(iam.delete_user, "NoSuchEntity", f"The user with name {name} cannot be found.",
                 status=404, UserName=name)


def test_a_new_access_key_signs_sts_and_kms_calls_as_the_user(server, iam):
    name, creds = new_user(iam, policies=[allow("kms:*")])
    identity = client(server, "sts", creds).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{server.account}:user/{name}"
    assert identity["Account"] == server.account
    assert identity["UserId"] == iam.get_user(UserName=name)["User"]["UserId"]
    kms = harness.kms_client(server, creds)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    assert any(k["KeyId"] == key_id for k in kms.list_keys()["Keys"])
    # Without UserName, GetUser answers for the caller.
    own = client(server, "iam", creds)
    expect_error(own.get_user, "AccessDenied", status=403, message_contains="iam:GetUser")


def test_inactive_and_deleted_keys_are_refused(server, iam):
    name, creds = new_user(iam)
    sts = client(server, "sts", creds)
    kms = harness.kms_client(server, creds)
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{name}")
    iam.update_access_key(UserName=name, AccessKeyId=creds[0], Status="Inactive")
    listed = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in listed] == [(creds[0], "Inactive")]
    expect_error(sts.get_caller_identity, "InvalidClientTokenId", INVALID_TOKEN, status=403)
    expect_error(kms.list_keys, "UnrecognizedClientException", INVALID_TOKEN)
    iam.update_access_key(UserName=name, AccessKeyId=creds[0], Status="Active")
    assert sts.get_caller_identity()["Arn"].endswith(f":user/{name}")
    expect_error(iam.delete_user, "DeleteConflict",
                 "Cannot delete entity, must delete access keys first.", status=409, UserName=name)
    iam.delete_access_key(UserName=name, AccessKeyId=creds[0])
    expect_error(sts.get_caller_identity, "InvalidClientTokenId", INVALID_TOKEN, status=403)
    expect_error(kms.list_keys, "UnrecognizedClientException", INVALID_TOKEN)
    expect_error(iam.delete_access_key, "NoSuchEntity",
                 f"The Access Key with id {creds[0]} cannot be found.", status=404,
                 UserName=name, AccessKeyId=creds[0])
    iam.delete_user(UserName=name)


def test_two_access_keys_per_user(server, iam):
    name, _ = new_user(iam)
    iam.create_access_key(UserName=name)
    expect_error(iam.create_access_key, "LimitExceeded",
                 "Cannot exceed quota for AccessKeysPerUser: 2", status=409, UserName=name)


def test_inline_policy_round_trip_with_the_cli(server, aws, tmp_path):
    name = unique("pol")
    assert aws("iam", "create-user", "--user-name", name).returncode == 0
    document = {"Version": "2012-10-17", "Statement": [
        {"Sid": "Use", "Effect": "Allow", "Action": ["kms:Encrypt", "kms:Decrypt"],
         "Resource": "*", "Condition": {"StringEquals": {"kms:EncryptionContext:app": "x y&z"}}}]}
    put = aws("iam", "put-user-policy", "--user-name", name, "--policy-name", "use",
              "--policy-document", json.dumps(document))
    assert put.returncode == 0, put
    got = aws("iam", "get-user-policy", "--user-name", name, "--policy-name", "use")
    assert got.returncode == 0, got
    assert got.json["PolicyDocument"] == document
    assert got.json["UserName"] == name
    listed = aws("iam", "list-user-policies", "--user-name", name)
    assert listed.json["PolicyNames"] == ["use"]
    bad = aws("iam", "put-user-policy", "--user-name", name, "--policy-name", "bad",
              "--policy-document", '{"Version": "2012-10-17", "Statement": [')
    assert bad.returncode != 0
    assert "MalformedPolicyDocument" in bad.stderr and "Syntax errors in policy." in bad.stderr
    principal = aws("iam", "put-user-policy", "--user-name", name, "--policy-name", "bad",
                    "--policy-document", json.dumps({"Version": "2012-10-17", "Statement": [
                        {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}]}))
    assert "Policy document should not specify a principal." in principal.stderr, principal
    conflict = aws("iam", "delete-user", "--user-name", name)
    assert "DeleteConflict" in conflict.stderr
    assert aws("iam", "delete-user-policy", "--user-name", name, "--policy-name", "use").returncode == 0
    assert aws("iam", "list-user-policies", "--user-name", name).json["PolicyNames"] == []
    assert aws("iam", "delete-user", "--user-name", name).returncode == 0


def test_the_cli_creates_a_user_whose_key_works(server, aws, tmp_path):
    name = unique("cli")
    created = aws("iam", "create-user", "--user-name", name)
    assert created.returncode == 0, created
    key = aws("iam", "create-access-key", "--user-name", name)
    assert key.returncode == 0, key
    k = key.json["AccessKey"]
    assert k["Status"] == "Active" and k["AccessKeyId"].startswith("AKIA")
    creds = credentials_file(tmp_path / "creds", (k["AccessKeyId"], k["SecretAccessKey"]))
    who = harness.run_aws(server, ["sts", "get-caller-identity"], credentials_file=creds)
    assert who.returncode == 0, who
    assert who.json["Arn"] == f"arn:aws:iam::{server.account}:user/{name}"
    listed = aws("iam", "list-access-keys", "--user-name", name)
    assert [m["AccessKeyId"] for m in listed.json["AccessKeyMetadata"]] == [k["AccessKeyId"]]
    users = aws("iam", "list-users")
    assert name in [u["UserName"] for u in users.json["Users"]]


def test_iam_calls_need_an_identity_policy(server, iam):
    name, creds = new_user(iam)
    own = client(server, "iam", creds)
    target = unique("target")
    expect_error(
        own.create_user, "AccessDenied",
        f"User: arn:aws:iam::{server.account}:user/{name} is not authorized to perform: "
        f"iam:CreateUser on resource: arn:aws:iam::{server.account}:user/{target} "
        "because no identity-based policy allows the iam:CreateUser action",
        status=403, UserName=target)
    iam.put_user_policy(UserName=name, PolicyName="users",
                        PolicyDocument=allow(["iam:CreateUser", "iam:GetUser"]))
    assert own.create_user(UserName=target)["User"]["UserName"] == target
    assert own.get_user()["User"]["UserName"] == name


def _signed_query(server, body, service="iam", creds=None):
    creds = creds or server.default_credentials()
    request = AWSRequest(method="POST", url=server.url + "/", data=body.encode(), headers={
        "Host": f"127.0.0.1:{server.port}",
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(*creds), service, "us-east-1").add_auth(request)
    return harness.send(server, dict(request.headers.items()), request.body)


def test_query_protocol_errors_are_aws_xml(server):
    response = _signed_query(server, "Action=ListGroupsForUser&Version=2010-05-08&UserName=x")
    assert response.status == 400
    text = response.body.decode()
    assert text.startswith('<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">')
    assert "<Code>InvalidAction</Code>" in text
    assert "<Message>Could not find operation ListGroupsForUser for version 2010-05-08</Message>" in text
    assert "<Type>Sender</Type>" in text and "<RequestId>" in text
    ok = _signed_query(server, "Action=ListUsers&Version=2010-05-08")
    assert ok.status == 200
    assert ok.body.decode().startswith('<ListUsersResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><ListUsersResult>')
    unknown = _signed_query(server, "Action=ListUsers&Version=2010-05-08",
                            creds=("AKIAUNKNOWNKEY000000", "x" * 40))
    assert unknown.status == 403 and b"<Code>InvalidClientTokenId</Code>" in unknown.body
    tampered = _signed_query(server, "Action=ListUsers&Version=2010-05-08",
                             creds=(server.admin_credentials()[0], "x" * 40))
    assert tampered.status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in tampered.body
    unsigned = harness.send(server, {"Host": f"127.0.0.1:{server.port}",
                                     "Content-Type": "application/x-www-form-urlencoded"},
                            b"Action=ListUsers&Version=2010-05-08")
    assert unsigned.status == 403 and b"<Code>MissingAuthenticationToken</Code>" in unsigned.body
    missing = _signed_query(server, "Action=GetRole&Version=2010-05-08")
    assert missing.status == 400 and b"<Code>ValidationError</Code>" in missing.body


def test_roles_with_boto3(server, iam):
    name = unique("role")
    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account}:root"},
        "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust),
                           Description="ops", MaxSessionDuration=7200)["Role"]
    assert role["Arn"] == f"arn:aws:iam::{server.account}:role/{name}"
    assert role["RoleId"].startswith("AROA")
    got = iam.get_role(RoleName=name)["Role"]
    assert got["AssumeRolePolicyDocument"] == trust
    assert got["MaxSessionDuration"] == 7200 and got["Description"] == "ops"
    assert name in [r["RoleName"] for r in iam.list_roles()["Roles"]]
    iam.put_role_policy(RoleName=name, PolicyName="kms", PolicyDocument=allow("kms:*"))
    assert iam.get_role_policy(RoleName=name, PolicyName="kms")["PolicyDocument"] == json.loads(allow("kms:*"))
    assert iam.list_role_policies(RoleName=name)["PolicyNames"] == ["kms"]
    expect_error(iam.delete_role, "DeleteConflict",
                 "Cannot delete entity, must delete policies first.", status=409, RoleName=name)
    iam.delete_role_policy(RoleName=name, PolicyName="kms")
    iam.delete_role(RoleName=name)
    expect_error(iam.get_role, "NoSuchEntity", f"The role with name {name} cannot be found.",
                 status=404, RoleName=name)
    ghost = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{server.account}:user/ghost"},
        "Action": "sts:AssumeRole"}]}
    expect_error(iam.create_role, "MalformedPolicyDocument",
                 f'Invalid principal in policy: "AWS":"arn:aws:iam::{server.account}:user/ghost"',
                 RoleName=unique("r"), AssumeRolePolicyDocument=json.dumps(ghost))


def test_identities_survive_a_restart(server_factory):
    s = server_factory.start()
    iam = client(s, "iam")
    name, creds = new_user(iam)
    s.restart()
    assert client(s, "sts", creds).get_caller_identity()["Arn"].endswith(f":user/{name}")
    assert client(s, "iam").get_user(UserName=name)["User"]["UserName"] == name


def test_dev_mode_unknown_keys_are_root_and_known_keys_are_verified(dev_server):
    sts = client(dev_server, "sts")
    assert sts.get_caller_identity()["Arn"] == f"arn:aws:iam::{dev_server.account}:root"
    iam = client(dev_server, "iam")
    name, creds = new_user(iam)
    assert client(dev_server, "sts", creds).get_caller_identity()["Arn"].endswith(f":user/{name}")
    expect_error(client(dev_server, "sts", (creds[0], "wrong" * 8)).get_caller_identity,
                 "SignatureDoesNotMatch", status=403)
    iam.update_access_key(UserName=name, AccessKeyId=creds[0], Status="Inactive")
    expect_error(client(dev_server, "sts", creds).get_caller_identity,
                 "InvalidClientTokenId", INVALID_TOKEN, status=403)


def test_get_requests_with_a_query_string(server, iam):
    name = unique("get")
    iam.create_user(UserName=name)
    url = f"{server.url}/?Action=GetUser&Version=2010-05-08&UserName={name}"
    request = AWSRequest(method="GET", url=url, headers={"Host": f"127.0.0.1:{server.port}"})
    SigV4Auth(Credentials(*server.admin_credentials()), "iam", "us-east-1").add_auth(request)
    path = url[len(server.url):]
    response = harness.send(server, dict(request.headers.items()), b"", method="GET", path=path)
    assert response.status == 200, response.body
    assert f"<UserName>{name}</UserName>".encode() in response.body
    assert response.body.startswith(b'<GetUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">')
