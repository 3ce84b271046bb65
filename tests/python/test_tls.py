"""TLS: keyward serves HTTPS with a given certificate, and refuses plain HTTP
(and --dev) off loopback."""

from __future__ import annotations

import os
import shutil
import subprocess

import boto3
import botocore.config
import pytest

import harness


def _self_signed(tmp_path):
    if shutil.which("openssl") is None:
        pytest.fail("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-days", "2",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    return cert, key


def test_https_with_boto3_and_the_cli(work_dir, tmp_path, server_factory):
    cert, key = _self_signed(tmp_path)
    srv = server_factory.start(extra_args=["--tls-cert", str(cert), "--tls-key", str(key)])
    line = srv.stdout_path.read_text()
    assert f"keyward listening on https://127.0.0.1:{srv.port}" in line
    url = f"https://127.0.0.1:{srv.port}"
    access, secret = srv.admin_credentials()
    kms = boto3.session.Session(aws_access_key_id=access, aws_secret_access_key=secret,
                                region_name="us-east-1").client(
        "kms", endpoint_url=url, verify=str(cert),
        config=botocore.config.Config(retries={"max_attempts": 1}))
    key_id = kms.create_key(Description="over tls")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"tls")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"tls"

    env = harness.clean_env({"AWS_SHARED_CREDENTIALS_FILE": str(srv.credentials_file),
                             "AWS_CONFIG_FILE": os.devnull, "AWS_DEFAULT_REGION": "us-east-1",
                             "AWS_CA_BUNDLE": str(cert), "HOME": str(tmp_path)})
    # the CLI from tests/python/requirements.txt (.venv), not whatever is on PATH
    out = subprocess.run([harness.aws_cli_path(), "kms", "list-keys", "--endpoint-url", url,
                          "--output", "json"],
                         env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert key_id in out.stdout

    # Without trusting the certificate the client refuses the connection.
    untrusted = boto3.session.Session(aws_access_key_id=access, aws_secret_access_key=secret,
                                      region_name="us-east-1").client("kms", endpoint_url=url)
    with pytest.raises(Exception, match="(?i)certificate"):
        untrusted.list_keys()


@pytest.mark.parametrize("extra", [[], ["--dev"]])
def test_plain_http_and_dev_are_refused_off_loopback(work_dir, extra):
    srv = harness.new_server(work_dir, listen="0.0.0.0:0", extra_args=extra)
    proc = srv.spawn()
    rc = proc.wait(timeout=30)
    assert rc != 0
    err = srv.stderr_path.read_text()
    assert ("TLS is required" in err) if not extra else ("--dev" in err and "loopback" in err)


def test_http2_over_tls_is_authenticated(tmp_path, server_factory):
    """HTTP/2 carries the host in :authority, not a Host header; SigV4 signs it
    as `host`, so the server must put it back before verifying (curl signs
    with --aws-sigv4 and negotiates h2 by ALPN)."""
    if shutil.which("curl") is None:
        pytest.fail("curl is needed for the HTTP/2 test")
    cert, key = _self_signed(tmp_path)
    srv = server_factory.start(extra_args=["--tls-cert", str(cert), "--tls-key", str(key)])
    access, secret = srv.admin_credentials()
    out = subprocess.run(
        ["curl", "-sS", "--http2", "-w", "\n%{http_version} %{http_code}", "--aws-sigv4", "aws:amz:us-east-1:kms",
         "--user", f"{access}:{secret}", "-H", "X-Amz-Target: TrentService.CreateKey",
         "-H", "Content-Type: application/x-amz-json-1.1", "-d", '{"Description": "h2"}',
         "--cacert", str(cert), f"https://127.0.0.1:{srv.port}/"],
        capture_output=True, text=True, timeout=60)
    body, _, status = out.stdout.rpartition("\n")
    assert status == "2 200", (out.stdout, out.stderr)
    assert '"Description":"h2"' in body
    # And a wrong secret over the same path is refused as AWS does.
    bad = subprocess.run(
        ["curl", "-sS", "--http2", "--aws-sigv4", "aws:amz:us-east-1:kms", "--user", f"{access}:wrong",
         "-H", "X-Amz-Target: TrentService.ListKeys", "-H", "Content-Type: application/x-amz-json-1.1",
         "-d", "{}", "--cacert", str(cert), f"https://127.0.0.1:{srv.port}/"],
        capture_output=True, text=True, timeout=60)
    assert '"__type":"InvalidSignatureException"' in bad.stdout
