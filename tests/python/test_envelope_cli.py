"""`keyward encrypt` / `keyward decrypt` interoperate with the AWS Encryption SDK for
Python (issue 5): messages the SDK encrypts through keyward, `keyward decrypt` opens,
and the other way round.

The SDK reaches keyward through its legacy `StrictAwsKmsMasterKeyProvider` with a
botocore session whose KMS endpoint comes from `AWS_ENDPOINT_URL_KMS`
(shared/reference/deps.md Q6, route 1); the keyward CLI finds the same server with
`--endpoint-url` and the admin credentials file.
"""

from __future__ import annotations

import os
import subprocess

import botocore.session
import pytest

import harness

aws_encryption_sdk = pytest.importorskip("aws_encryption_sdk")
from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy  # noqa: E402

SUITES = {
    "aes256-hkdf-sha512-commit": Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
    "aes256-hkdf-sha512-commit-ecdsa-p384":
        Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
}


@pytest.fixture
def esdk(server, monkeypatch):
    """An ESDK client and a factory of strict key providers pointed at `server`."""
    access, secret = server.admin_credentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_DEFAULT_REGION", server.server_region)
    monkeypatch.setenv("AWS_ENDPOINT_URL_KMS", server.url)
    client = aws_encryption_sdk.EncryptionSDKClient(
        commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT)

    def provider(*arns: str):
        return aws_encryption_sdk.StrictAwsKmsMasterKeyProvider(
            key_ids=list(arns), botocore_session=botocore.session.Session())

    return client, provider


def keyward(server, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = harness.clean_env({
        "AWS_SHARED_CREDENTIALS_FILE": str(server.credentials_file),
        "AWS_CONFIG_FILE": os.devnull,
    })
    command, *rest = args
    cmd = [str(harness.keyward_bin()), command, "--endpoint-url", server.url, *rest]
    return subprocess.run(cmd, input=stdin, capture_output=True, env=env, timeout=120)


def new_key(kms, server) -> str:
    return server.key_arn(kms.create_key()["KeyMetadata"]["KeyId"])


@pytest.mark.parametrize("suite", sorted(SUITES))
@pytest.mark.parametrize("size,frame", [(0, 4096), (1, 128), (300_000, 4096), (70_000, 65536)])
def test_keyward_encrypts_what_the_sdk_decrypts(server, kms, esdk, tmp_path, suite, size, frame):
    client, provider = esdk
    first, second = new_key(kms, server), new_key(kms, server)
    plaintext = os.urandom(size)
    (tmp_path / "plain").write_bytes(plaintext)
    done = keyward(server, "encrypt", "-q", "--key", first, "--key", second,
                   "--suite", suite, "--frame-length", str(frame),
                   "--context", "purpose=interop", "--context", "size=" + str(size),
                   str(tmp_path / "plain"), "-o", str(tmp_path / "msg"))
    assert done.returncode == 0, done.stderr.decode()
    message = (tmp_path / "msg").read_bytes()

    # The SDK holding only the second key opens it, so both keys wrapped the data key.
    decrypted, header = client.decrypt(source=message, key_provider=provider(second))
    assert decrypted == plaintext
    assert header.algorithm == SUITES[suite]
    assert header.frame_length == frame
    assert header.encryption_context["purpose"] == "interop"
    assert header.encryption_context["size"] == str(size)
    assert {k.key_provider.key_info.decode() for k in header.encrypted_data_keys} == {
        first, second}


@pytest.mark.parametrize("suite", sorted(SUITES))
@pytest.mark.parametrize("size,frame", [(0, 4096), (300_000, 1024), (9_000, 4096)])
def test_the_sdk_encrypts_what_keyward_decrypts(server, kms, esdk, tmp_path, suite, size, frame):
    client, provider = esdk
    first, second = new_key(kms, server), new_key(kms, server)
    plaintext = os.urandom(size)
    message, _ = client.encrypt(
        source=plaintext, key_provider=provider(first, second), algorithm=SUITES[suite],
        frame_length=frame, encryption_context={"purpose": "interop", "team": "kw"})
    (tmp_path / "msg").write_bytes(message)

    for key in (first, second):
        out = tmp_path / "out"
        done = keyward(server, "decrypt", "-q", "--key", key, "--context", "team=kw",
                       str(tmp_path / "msg"), "-o", str(out))
        assert done.returncode == 0, done.stderr.decode()
        assert out.read_bytes() == plaintext
        out.unlink()

    # A required pair the SDK did not bind fails, and no output file appears.
    done = keyward(server, "decrypt", "--key", first, "--context", "team=other",
                   str(tmp_path / "msg"), "-o", str(tmp_path / "out"))
    assert done.returncode != 0
    assert b"wrong encryption context" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["msg"]


def test_stdin_stdout_with_the_sdk(server, kms, esdk):
    client, provider = esdk
    key = new_key(kms, server)
    plaintext = os.urandom(50_000)
    done = keyward(server, "encrypt", "--key", key, "-", "-o", "-", stdin=plaintext)
    assert done.returncode == 0, done.stderr.decode()
    decrypted, _ = client.decrypt(source=done.stdout, key_provider=provider(key))
    assert decrypted == plaintext

    message, _ = client.encrypt(source=plaintext, key_provider=provider(key),
                                algorithm=SUITES["aes256-hkdf-sha512-commit"])
    done = keyward(server, "decrypt", "--key", key, "-", "-o", "-", stdin=message)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout == plaintext


def keyward_with_tty_stderr(server, *args: str, chunks: list[bytes], pause: float) -> bytes:
    """Runs keyward with stderr on a pseudo-terminal, feeding stdin slowly;
    returns what it drew on the terminal."""
    import pty
    import time

    env = harness.clean_env({
        "AWS_SHARED_CREDENTIALS_FILE": str(server.credentials_file),
        "AWS_CONFIG_FILE": os.devnull,
    })
    command, *rest = args
    cmd = [str(harness.keyward_bin()), command, "--endpoint-url", server.url, *rest]
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=slave, env=env)
    os.close(slave)
    for chunk in chunks:
        proc.stdin.write(chunk)
        proc.stdin.flush()
        time.sleep(pause)
    proc.stdin.close()
    drawn = b""
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:  # EIO: the terminal's last writer is gone
            break
        if not data:
            break
        drawn += data
    os.close(master)
    assert proc.wait(timeout=60) == 0, drawn.decode(errors="replace")
    return drawn


def test_progress_is_drawn_on_a_terminal_unless_quiet(server, kms, tmp_path):
    key = new_key(kms, server)
    chunks = [os.urandom(1 << 20) for _ in range(4)]
    drawn = keyward_with_tty_stderr(
        server, "encrypt", "--key", key, "-", "-o", str(tmp_path / "msg"),
        chunks=chunks, pause=0.3)
    # A slow input (over half a second) gets a redrawn line, erased at the end.
    assert b"\rencrypting stdin" in drawn.replace(b"\x1b[2K", b""), drawn
    assert b"GB/s" in drawn
    assert b"keyward: encrypted stdin into" in drawn

    drawn = keyward_with_tty_stderr(
        server, "encrypt", "-q", "--key", key, "-", "-o", str(tmp_path / "msg2"),
        chunks=chunks, pause=0.3)
    assert drawn == b"", drawn

    # Not a terminal: no bar, whatever the input (stderr is a pipe here).
    done = keyward(server, "encrypt", "--key", key, "-", "-o", str(tmp_path / "msg3"),
                   stdin=b"".join(chunks))
    assert done.returncode == 0, done.stderr.decode()
    assert b"\r" not in done.stderr and b"encrypting" not in done.stderr
