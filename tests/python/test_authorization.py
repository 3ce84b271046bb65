"""Authorization end to end, as several identities, through boto3 and the
AWS CLI: key policies naming users and roles, identity policies under a key
policy that allows the account, role sessions from sts:AssumeRole,
cross-account use, grants (the seed 003 flow), the lockout safety check,
and forged service headers.

Identities are made with IAM and STS on the same endpoint, as the account's
root user (the admin credentials)."""

from __future__ import annotations

import json
import subprocess

import boto3
import botocore.config
import pytest

import harness
from harness import DRY_RUN_MESSAGE, expect_error, unique

ACCOUNT = harness.SERVER_ACCOUNT


def client(server, service, creds, token=None):
    session = boto3.session.Session(
        aws_access_key_id=creds[0], aws_secret_access_key=creds[1],
        aws_session_token=token, region_name=server.server_region)
    cfg = botocore.config.Config(retries={"max_attempts": 1, "mode": "standard"})
    return session.client(service, endpoint_url=server.url, config=cfg)


@pytest.fixture(scope="module")
def iam(server):
    return client(server, "iam", server.admin_credentials())


def new_user(iam, name=None, policy=None):
    """An IAM user with an access key and, optionally, an inline policy."""
    name = name or unique("u")
    iam.create_user(UserName=name)
    if policy is not None:
        iam.put_user_policy(UserName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return name, (key["AccessKeyId"], key["SecretAccessKey"])


def allow(actions, resource="*"):
    return {"Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": actions, "Resource": resource}]}


def user_arn(name, account=ACCOUNT):
    return f"arn:aws:iam::{account}:user/{name}"


def denied_message(arn, action, key_arn, why):
    return (f"User: {arn} is not authorized to perform: kms:{action} on resource: {key_arn} "
            f"because no {why}-based policy allows the kms:{action} action")


def test_identity_policy_under_the_default_key_policy(server, kms, iam):
    key = kms.create_key()["KeyMetadata"]
    name, creds = new_user(iam, policy=allow(["kms:Encrypt", "kms:DescribeKey"]))
    alice = client(server, "kms", creds)
    blob = alice.encrypt(KeyId=key["KeyId"], Plaintext=b"hello")["CiphertextBlob"]
    assert alice.describe_key(KeyId=key["Arn"])["KeyMetadata"]["KeyId"] == key["KeyId"]
    expect_error(alice.decrypt, "AccessDeniedException",
                 denied_message(user_arn(name), "Decrypt", key["Arn"], "identity"),
                 CiphertextBlob=blob)
    expect_error(alice.disable_key, "AccessDeniedException", KeyId=key["KeyId"])
    expect_error(alice.create_key, "AccessDeniedException",
                 f"User: {user_arn(name)} is not authorized to perform: kms:CreateKey "
                 "because no identity-based policy allows the kms:CreateKey action")
    # DryRun answers only for callers who would be allowed.
    expect_error(alice.encrypt, "DryRunOperationException", DRY_RUN_MESSAGE,
                 KeyId=key["KeyId"], Plaintext=b"x", DryRun=True)
    expect_error(alice.decrypt, "AccessDeniedException",
                 CiphertextBlob=blob, DryRun=True)
    # Root still decrypts.
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello"


def test_key_policy_naming_a_user_and_deny_statements(server, kms, iam):
    name, creds = new_user(iam)  # no identity policy at all
    policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Sid": "use", "Effect": "Allow", "Principal": {"AWS": user_arn(name)},
         "Action": ["kms:Encrypt", "kms:Decrypt"], "Resource": "*"},
        {"Sid": "no-secret", "Effect": "Deny", "Principal": {"AWS": user_arn(name)},
         "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:tier": "secret"}}}]}
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    bob = client(server, "kms", creds)
    blob = bob.encrypt(KeyId=key["KeyId"], Plaintext=b"x",
                       EncryptionContext={"tier": "public"})["CiphertextBlob"]
    assert bob.decrypt(CiphertextBlob=blob, EncryptionContext={"tier": "public"})["Plaintext"] == b"x"
    secret = bob.encrypt(KeyId=key["KeyId"], Plaintext=b"y",
                         EncryptionContext={"tier": "secret"})["CiphertextBlob"]
    expect_error(bob.decrypt, "AccessDeniedException",
                 f"User: {user_arn(name)} is not authorized to perform: kms:Decrypt on resource: "
                 f"{key['Arn']} with an explicit deny in a resource-based policy",
                 CiphertextBlob=secret, EncryptionContext={"tier": "secret"})
    expect_error(bob.generate_data_key, "AccessDeniedException",
                 KeyId=key["KeyId"], KeySpec="AES_256")


def test_an_operator_role_reached_through_assume_role(server, kms, iam):
    role = unique("operator")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "sts:AssumeRole"}]}
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": role_arn},
         "Action": ["kms:GenerateDataKey", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*",
         "Condition": {"StringEquals": {"kms:EncryptionContext:aws:kinesisanalytics:arn":
                                        f"arn:aws:kinesisanalytics:us-east-1:{ACCOUNT}:application/app"}}}]}
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    # A user allowed to assume the role (the trust policy delegates to the account).
    _, creds = new_user(iam, policy=allow("sts:AssumeRole", role_arn))
    sts = client(server, "sts", creds)
    assumed = sts.assume_role(RoleArn=role_arn, RoleSessionName="deploy")
    c = assumed["Credentials"]
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/deploy"
    assert assumed["AssumedRoleUser"]["Arn"] == session_arn
    operator = client(server, "kms", (c["AccessKeyId"], c["SecretAccessKey"]), c["SessionToken"])
    context = {"aws:kinesisanalytics:arn": f"arn:aws:kinesisanalytics:us-east-1:{ACCOUNT}:application/app"}
    data_key = operator.generate_data_key(KeyId=key["Arn"], KeySpec="AES_256",
                                          EncryptionContext=context)
    assert operator.decrypt(CiphertextBlob=data_key["CiphertextBlob"],
                            EncryptionContext=context)["Plaintext"] == data_key["Plaintext"]
    expect_error(operator.generate_data_key, "AccessDeniedException",
                 message_startswith=f"User: {session_arn} is not authorized to perform: kms:GenerateDataKey",
                 KeyId=key["Arn"], KeySpec="AES_256",
                 EncryptionContext={"aws:kinesisanalytics:arn": "another"})
    expect_error(operator.encrypt, "AccessDeniedException", KeyId=key["Arn"], Plaintext=b"x")


def test_a_decrypt_grant_with_a_subset_constraint(server, kms, iam):
    """Seed 003: a grant for Decrypt only, EncryptionContextSubset."""
    key = kms.create_key()["KeyMetadata"]
    name, creds = new_user(iam)
    worker = client(server, "kms", creds)
    constraint = {"aws:ecs:clusterAccount": ACCOUNT, "aws:ecs:clusterName": "prod"}
    grant = kms.create_grant(KeyId=key["KeyId"], GranteePrincipal=user_arn(name),
                             Operations=["Decrypt"],
                             Constraints={"EncryptionContextSubset": constraint})
    superset = {**constraint, "aws:ecs:taskId": "t-1"}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"task-data",
                       EncryptionContext=superset)["CiphertextBlob"]
    # Usable at once, with or without the token.
    assert worker.decrypt(CiphertextBlob=blob, EncryptionContext=superset,
                          GrantTokens=[grant["GrantToken"]])["Plaintext"] == b"task-data"
    assert worker.decrypt(CiphertextBlob=blob, EncryptionContext=superset)["Plaintext"] == b"task-data"
    other = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x",
                        EncryptionContext={"aws:ecs:clusterAccount": "444455556666"})["CiphertextBlob"]
    expect_error(worker.decrypt, "AccessDeniedException", CiphertextBlob=other,
                 EncryptionContext={"aws:ecs:clusterAccount": "444455556666"})
    expect_error(worker.encrypt, "AccessDeniedException", KeyId=key["Arn"], Plaintext=b"x",
                 EncryptionContext=superset)
    kms.retire_grant(GrantToken=grant["GrantToken"])
    expect_error(worker.decrypt, "AccessDeniedException", CiphertextBlob=blob,
                 EncryptionContext=superset)


def test_grantee_retires_and_issues_narrower_grants(server, kms, iam):
    key = kms.create_key()["KeyMetadata"]
    name, creds = new_user(iam)
    third, _ = new_user(iam)
    delegate = client(server, "kms", creds)
    parent = kms.create_grant(
        KeyId=key["KeyId"], GranteePrincipal=user_arn(name),
        Operations=["Decrypt", "CreateGrant", "RetireGrant"],
        Constraints={"EncryptionContextSubset": {"app": "a"}})
    child = delegate.create_grant(
        KeyId=key["Arn"], GranteePrincipal=user_arn(third), Operations=["Decrypt"],
        Constraints={"EncryptionContextSubset": {"app": "a", "env": "prod"}})
    assert child["GrantId"] != parent["GrantId"]
    expect_error(delegate.create_grant, "AccessDeniedException",
                 KeyId=key["Arn"], GranteePrincipal=user_arn(third), Operations=["Encrypt"],
                 Constraints={"EncryptionContextSubset": {"app": "a"}})
    expect_error(delegate.create_grant, "AccessDeniedException",
                 KeyId=key["Arn"], GranteePrincipal=user_arn(third), Operations=["Decrypt"])
    delegate.retire_grant(KeyId=key["Arn"], GrantId=parent["GrantId"])
    ids = [g["GrantId"] for g in kms.list_grants(KeyId=key["KeyId"])["Grants"]]
    assert ids == [child["GrantId"]]


def test_lockout_safety_check(kms, aws):
    key = kms.create_key()["KeyMetadata"]
    lockout = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:Encrypt", "Resource": "*"}]})
    expect_error(kms.put_key_policy, "MalformedPolicyDocumentException",
                 "The new key policy will not allow you to update the key policy in the future.",
                 KeyId=key["KeyId"], PolicyName="default", Policy=lockout)
    expect_error(kms.create_key, "MalformedPolicyDocumentException",
                 "The new key policy will not allow you to update the key policy in the future.",
                 Policy=lockout)
    # The AWS CLI sees the same, and the bypass flag works.
    r = aws("kms", "put-key-policy", "--key-id", key["KeyId"], "--policy-name", "default",
            "--policy", lockout)
    assert r.returncode != 0 and "MalformedPolicyDocumentException" in r.stderr, r.stderr
    r = aws("kms", "put-key-policy", "--key-id", key["KeyId"], "--policy-name", "default",
            "--policy", lockout, "--bypass-policy-lockout-safety-check")
    assert r.returncode == 0, r.stderr
    expect_error(kms.get_key_policy, "AccessDeniedException", KeyId=key["KeyId"],
                 PolicyName="default")
    assert kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["KeyId"] == key["Arn"]


def test_principals_must_exist_and_documents_must_parse(kms):
    ghost = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": user_arn("nobody-by-this-name")},
         "Action": "kms:*", "Resource": "*"}]})
    expect_error(kms.create_key, "MalformedPolicyDocumentException",
                 "Policy contains a statement with one or more invalid principals.",
                 Policy=ghost)
    bad = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Maybe", "Principal": "*", "Action": "kms:*", "Resource": "*"}]})
    resp = expect_error(kms.create_key, "MalformedPolicyDocumentException", Policy=bad)
    assert "Effect" in resp["Error"]["Message"]


def test_cross_account_use_needs_both_policies(server, kms, iam):
    r = subprocess.run(
        [str(harness.keyward_bin()), "admin", "create-account", "--account-id", "444455556666",
         "--endpoint-url", server.url, "--credentials-file", str(server.credentials_file),
         "--output", str(server.log_dir / "other-credentials")],
        capture_output=True, text=True, env=harness.clean_env(), timeout=60)
    assert r.returncode == 0, r.stderr
    other = harness.KeywardServer.__new__(harness.KeywardServer)
    import configparser
    cp = configparser.ConfigParser()
    cp.read(server.log_dir / "other-credentials")
    section = cp[cp.sections()[0]]
    other_root = (section["aws_access_key_id"].strip(), section["aws_secret_access_key"].strip())
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::444455556666:root"},
         "Action": ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"], "Resource": "*"}]}
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    stranger = client(server, "kms", other_root)
    blob = stranger.encrypt(KeyId=key["Arn"], Plaintext=b"shared")["CiphertextBlob"]
    assert stranger.decrypt(CiphertextBlob=blob)["Plaintext"] == b"shared"
    # A bare key id is looked up in the caller's own account.
    expect_error(stranger.encrypt, "NotFoundException", KeyId=key["KeyId"], Plaintext=b"x")
    expect_error(stranger.generate_data_key, "AccessDeniedException", KeyId=key["Arn"],
                 KeySpec="AES_256")
    # A user of the other account needs its own account's IAM policy too.
    other_iam = client(server, "iam", other_root)
    name, creds = new_user(other_iam)
    bare = client(server, "kms", creds)
    expect_error(bare.encrypt, "AccessDeniedException",
                 denied_message(user_arn(name, "444455556666"), "Encrypt", key["Arn"], "identity"),
                 KeyId=key["Arn"], Plaintext=b"x")
    other_iam.put_user_policy(UserName=name, PolicyName="use",
                              PolicyDocument=json.dumps(allow("kms:Encrypt", key["Arn"])))
    assert bare.encrypt(KeyId=key["Arn"], Plaintext=b"x")["KeyId"] == key["Arn"]
    # The key's owner's keys are not listed to the other account.
    assert key["KeyId"] not in [k["KeyId"] for k in stranger.list_keys()["Keys"]]


def test_forged_service_headers_change_nothing(server, kms, iam):
    """A client cannot claim to be a service or to call through one."""
    app = f"arn:aws:emr-serverless:us-east-1:{ACCOUNT}:/applications/app"
    name, creds = new_user(iam)
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"Service": "emr-serverless.amazonaws.com"},
         "Action": "kms:GenerateDataKey", "Resource": "*",
         "Condition": {"StringLike": {"aws:SourceArn": app}}},
        {"Effect": "Allow", "Principal": {"AWS": user_arn(name)},
         "Action": "kms:GenerateDataKey", "Resource": "*",
         "Condition": {"StringEquals": {"kms:ViaService": "emr-serverless.us-east-1.amazonaws.com"}}}]}
    key = kms.create_key(Policy=json.dumps(policy))["KeyMetadata"]
    user = client(server, "kms", creds)

    def forge(request, **_):
        request.headers["X-Amz-Source-Arn"] = app
        request.headers["X-Amz-Source-Account"] = ACCOUNT
        request.headers["X-Amz-Via-Service"] = "emr-serverless.us-east-1.amazonaws.com"
        request.headers["X-Keyward-Service"] = "emr-serverless.amazonaws.com"
    user.meta.events.register_first("before-sign.kms.GenerateDataKey", forge)
    expect_error(user.generate_data_key, "AccessDeniedException", KeyId=key["Arn"],
                 KeySpec="AES_256")


def test_inactive_access_key_is_rejected(server, kms, iam):
    name, creds = new_user(iam, policy=allow("kms:*"))
    user = client(server, "kms", creds)
    user.list_keys()
    iam.update_access_key(UserName=name, AccessKeyId=creds[0], Status="Inactive")
    expect_error(user.list_keys, "UnrecognizedClientException",
                 "The security token included in the request is invalid.")


def test_seed_002_key_policy_as_the_submitting_user(server, kms, iam, tmp_path):
    """Seed 002's key policy, its statements as published (placeholders filled
    in). From outside, the user may DescribeKey but not use the key directly:
    GenerateDataKey/Decrypt need kms:ViaService, which only the service inside
    keyward can set (its allowed path is tested in process, by
    crates/server/tests/service_principals.rs)."""
    iam.create_user(UserName="user-name")
    key_material = iam.create_access_key(UserName="user-name")["AccessKey"]
    creds = (key_material["AccessKeyId"], key_material["SecretAccessKey"])
    app = f"arn:aws:emr-serverless:us-east-1:{ACCOUNT}:/applications/application-id"
    statements = [
        {"Sid": "Enable IAM User Permissions", "Effect": "Allow",
         "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        json.loads(
            '{ "Effect": "Allow", "Principal":{ "Service": "emr-serverless.amazonaws.com" }, '
            '"Action": [ "kms:Decrypt", "kms:GenerateDataKey" ], "Resource": "*", "Condition": '
            '{ "StringLike": { "aws:SourceArn": "APP" }, "StringEquals": '
            '{ "kms:EncryptionContext:applicationId": "application-id", "aws:SourceAccount": "ACCOUNT" } } }'
            .replace("APP", app).replace("ACCOUNT", ACCOUNT)),
        json.loads(
            '{ "Sid": "Enable DescribeKey", "Effect": "Allow", "Principal":{ "AWS": '
            '"arn:aws:iam::111122223333:user/user-name" }, "Action": [ "kms:DescribeKey" ], "Resource": "*" }'),
        json.loads(
            '{ "Sid": "Enable GDK and Decrypt", "Effect": "Allow", "Principal":{ "AWS": '
            '"arn:aws:iam::111122223333:user/user-name" }, "Action": [ "kms:GenerateDataKey", '
            '"kms:Decrypt" ], "Resource": "*", "Condition": { "StringEquals": { "kms:ViaService": '
            '"emr-serverless.us-east-1.amazonaws.com", "kms:EncryptionContext:key": "value" } } }'),
    ]
    key = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": statements}))["KeyMetadata"]
    user = client(server, "kms", creds)
    described = user.describe_key(KeyId=key["Arn"])["KeyMetadata"]
    assert (described["KeyState"], described["KeySpec"]) == ("Enabled", "SYMMETRIC_DEFAULT")
    expect_error(user.generate_data_key, "AccessDeniedException",
                 # The account statement would let an IAM policy decide; there is none.
                 denied_message("arn:aws:iam::111122223333:user/user-name", "GenerateDataKey",
                                key["Arn"], "identity"),
                 KeyId=key["Arn"], KeySpec="AES_256", EncryptionContext={"key": "value"})
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"disk", EncryptionContext={"key": "value"})["CiphertextBlob"]
    expect_error(user.decrypt, "AccessDeniedException", CiphertextBlob=blob,
                 EncryptionContext={"key": "value"})
    # The AWS CLI, as the same user.
    creds_file = tmp_path / "user-credentials"
    creds_file.write_text(f"[default]\naws_access_key_id = {creds[0]}\naws_secret_access_key = {creds[1]}\n")
    r = harness.run_aws(server, ["kms", "describe-key", "--key-id", key["Arn"]], credentials_file=creds_file)
    assert r.returncode == 0, r.stderr
    r = harness.run_aws(server, ["kms", "generate-data-key", "--key-id", key["Arn"], "--key-spec",
                                 "AES_256", "--encryption-context", "key=value"],
                        credentials_file=creds_file)
    assert r.returncode != 0 and "AccessDeniedException" in r.stderr, r.stderr
