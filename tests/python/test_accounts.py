"""More than one account: `keyward admin create-account` against a running
server, and calls made as the new account's root user."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import boto3
import botocore.config

import harness
from harness import expect_error, unique


def admin(server, *args, credentials_file=None, cwd=None):
    cmd = [str(harness.keyward_bin()), "admin", "create-account",
           "--endpoint-url", server.url, "--data-dir", str(server.data_dir), *args]
    if credentials_file:
        cmd += ["--credentials-file", str(credentials_file)]
    return subprocess.run(cmd, capture_output=True, text=True, env=harness.clean_env(),
                          timeout=60, cwd=cwd)


def client(server, service, credentials_path):
    creds = dict(line.split(" = ", 1) for line in credentials_path.read_text().splitlines()
                 if " = " in line)
    session = boto3.session.Session(aws_access_key_id=creds["aws_access_key_id"],
                                    aws_secret_access_key=creds["aws_secret_access_key"],
                                    region_name=creds.get("region", server.server_region))
    return session.client(service, endpoint_url=server.url, config=botocore.config.Config(
        retries={"max_attempts": 1, "mode": "standard"}))


def test_create_account_writes_root_credentials_that_work(server, tmp_path):
    out = tmp_path / "acct"
    done = admin(server, "--account-id", "444455556666", "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "444455556666" in done.stdout
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    sts = client(server, "sts", out)
    identity = sts.get_caller_identity()
    assert (identity["Account"], identity["Arn"], identity["UserId"]) == (
        "444455556666", "arn:aws:iam::444455556666:root", "444455556666")
    # The AWS CLI reads the same file.
    who = harness.run_aws(server, ["sts", "get-caller-identity"], credentials_file=out)
    assert who.returncode == 0 and who.json["Account"] == "444455556666", who
    # The new account's keys and users are its own.
    kms = client(server, "kms", out)
    key = kms.create_key()["KeyMetadata"]
    assert key["Arn"].startswith(f"arn:aws:kms:{server.server_region}:444455556666:key/")
    default_keys = [k["KeyId"] for k in harness.kms_client(server).list_keys()["Keys"]]
    assert key["KeyId"] not in default_keys
    name = unique("u")
    user = client(server, "iam", out).create_user(UserName=name)["User"]
    assert user["Arn"] == f"arn:aws:iam::444455556666:user/{name}"
    expect_error(harness.kms_client(server).describe_key, "NotFoundException", KeyId=key["KeyId"])
    again = admin(server, "--account-id", "444455556666", "--output", str(tmp_path / "again"))
    assert again.returncode != 0 and "EntityAlreadyExists" in again.stderr, again.stderr


def test_a_random_account_id_and_the_default_output_file(server, tmp_path):
    done = admin(server, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    files = list(tmp_path.glob("account-*-credentials"))
    assert len(files) == 1
    account = files[0].name.split("-")[1]
    assert len(account) == 12 and account.isdigit()
    assert client(server, "sts", files[0]).get_caller_identity()["Account"] == account


def test_only_the_default_root_may_create_accounts(server, tmp_path):
    first = tmp_path / "first"
    assert admin(server, "--output", str(first)).returncode == 0
    refused = admin(server, "--output", str(tmp_path / "second"), credentials_file=first)
    assert refused.returncode != 0
    assert "AccessDenied" in refused.stderr and "keyward:CreateAccount" in refused.stderr
    assert not (tmp_path / "second").exists()
    # An IAM user of the default account, even with every permission, is refused too.
    iam = boto3.session.Session(
        aws_access_key_id=server.admin_credentials()[0],
        aws_secret_access_key=server.admin_credentials()[1],
        region_name=server.server_region).client("iam", endpoint_url=server.url)
    name = unique("op")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="all", PolicyDocument=json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    user_file = tmp_path / "user"
    user_file.write_text(f"[default]\naws_access_key_id = {k['AccessKeyId']}\n"
                         f"aws_secret_access_key = {k['SecretAccessKey']}\n")
    refused = admin(server, "--output", str(tmp_path / "third"), credentials_file=user_file)
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr, refused.stderr


def test_a_server_that_is_not_running_is_a_clear_error(server_factory, tmp_path):
    s = server_factory.start()
    s.stop()
    failed = admin(s, "--output", str(tmp_path / "x"))
    assert failed.returncode != 0 and "connecting to" in failed.stderr, failed.stderr


def test_create_account_over_tls_trusts_only_the_given_certificate(server_factory, tmp_path):
    import shutil
    if shutil.which("openssl") is None:
        raise AssertionError("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-days", "2",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    s = server_factory.start(extra_args=["--tls-cert", str(cert), "--tls-key", str(key)])
    url = f"https://127.0.0.1:{s.port}"
    base = [str(harness.keyward_bin()), "admin", "create-account", "--endpoint-url", url,
            "--data-dir", str(s.data_dir)]
    untrusted = subprocess.run(base + ["-o", str(tmp_path / "no")], capture_output=True, text=True,
                               env=harness.clean_env(), timeout=60)
    assert untrusted.returncode != 0 and "--ca-bundle" in untrusted.stderr, untrusted.stderr
    other = tmp_path / "other.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/CN=localhost", "-days", "2", "-keyout", str(tmp_path / "other.key"),
         "-out", str(other)],
        check=True, capture_output=True)
    wrong = subprocess.run(base + ["--ca-bundle", str(other), "-o", str(tmp_path / "no")],
                           capture_output=True, text=True, env=harness.clean_env(), timeout=60)
    assert wrong.returncode != 0 and "certificate" in wrong.stderr, wrong.stderr
    out = tmp_path / "tls-account"
    done = subprocess.run(base + ["--ca-bundle", str(cert), "--account-id", "777788889999",
                                  "-o", str(out)],
                          capture_output=True, text=True, env=harness.clean_env(), timeout=60)
    assert done.returncode == 0, done.stderr
    creds = dict(line.split(" = ", 1) for line in out.read_text().splitlines() if " = " in line)
    sts = boto3.session.Session(
        aws_access_key_id=creds["aws_access_key_id"],
        aws_secret_access_key=creds["aws_secret_access_key"],
        region_name="us-east-1").client("sts", endpoint_url=url, verify=str(cert))
    assert sts.get_caller_identity()["Account"] == "777788889999"
