"""`keyward encrypt` / `keyward decrypt` interoperate with the AWS Encryption SDK
**CLI** (`aws-encryption-cli`, issue 5), both ways, and a message of 1 GiB streams
through both with bounded memory.

The ESDK CLI reaches keyward through `--wrapping-keys key=ARN` and botocore's
configured endpoints: `AWS_ENDPOINT_URL_KMS` (botocore >= 1.31 honours it).

Every released ESDK CLI needs aws-encryption-sdk < 4, which cannot share the
main venv (4.x, for the library interop test), so the CLI runs from its own venv,
`target/esdk-cli-venv`, created here from `crates/envelope/tests/requirements-cli.txt`
on first use (about 15 s), or from `ESDK_CLI=/path/to/aws-encryption-cli`.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import harness

REQUIREMENTS = harness.REPO_ROOT / "crates/envelope/tests/requirements-cli.txt"
VENV = harness.REPO_ROOT / "target/esdk-cli-venv"

SUITES = {
    "aes256-hkdf-sha512-commit": "AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
    "aes256-hkdf-sha512-commit-ecdsa-p384": "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
}

GIB = 1 << 30


@pytest.fixture(scope="session")
def esdk_cli() -> Path:
    override = os.environ.get("ESDK_CLI")
    if override:
        return Path(override)
    cli = VENV / "bin" / "aws-encryption-cli"
    stamp = VENV / "requirements-cli.txt"
    wanted = REQUIREMENTS.read_text()
    if not cli.exists() or not stamp.exists() or stamp.read_text() != wanted:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        done = subprocess.run(
            [str(VENV / "bin/pip"), "install", "-q", "-r", str(REQUIREMENTS)],
            capture_output=True, text=True)
        assert done.returncode == 0, f"cannot install the ESDK CLI: {done.stderr}"
        stamp.write_text(wanted)
    return cli


@pytest.fixture
def esdk(server, esdk_cli, tmp_path):
    """Runs `aws-encryption-cli ARGS` against `server`, as its admin."""
    access, secret = server.admin_credentials()
    env = harness.clean_env({
        "AWS_ACCESS_KEY_ID": access,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": server.server_region,
        "AWS_ENDPOINT_URL_KMS": server.url,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(esdk_cli), "-S", *args], capture_output=True, env=env,
                              timeout=timeout)

    return run


def keyward(server, *args: str) -> subprocess.CompletedProcess:
    env = harness.clean_env({
        "AWS_SHARED_CREDENTIALS_FILE": str(server.credentials_file),
        "AWS_CONFIG_FILE": os.devnull,
    })
    command, *rest = args
    cmd = [str(harness.keyward_bin()), command, "--endpoint-url", server.url, *rest]
    return subprocess.run(cmd, capture_output=True, env=env, timeout=300)


def new_key(kms, server) -> str:
    return server.key_arn(kms.create_key()["KeyMetadata"]["KeyId"])


def ok(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, (done.stdout + done.stderr).decode(errors="replace")


@pytest.mark.parametrize("suite", sorted(SUITES))
@pytest.mark.parametrize("size,frame", [(0, 4096), (300_000, 4096), (200_001, 65536)])
def test_the_esdk_cli_encrypts_what_keyward_decrypts(
        server, kms, esdk, tmp_path, suite, size, frame):
    first, second = new_key(kms, server), new_key(kms, server)
    plaintext = os.urandom(size)
    (tmp_path / "plain").write_bytes(plaintext)
    ok(esdk("-e", "-i", str(tmp_path / "plain"), "-o", str(tmp_path / "msg"),
            "-w", f"key={first}", f"key={second}", "--algorithm", SUITES[suite],
            "--frame-length", str(frame), "-c", "purpose=interop", "team=kw"))

    for key in (first, second):
        out = tmp_path / "out"
        ok(keyward(server, "decrypt", "-q", "--key", key, "--context", "team=kw",
                   "--max-encrypted-data-keys", "2", str(tmp_path / "msg"), "-o", str(out)))
        assert out.read_bytes() == plaintext
        out.unlink()

    # Two encrypted data keys: a limit of one refuses the message.
    done = keyward(server, "decrypt", "--key", first, "--max-encrypted-data-keys", "1",
                   str(tmp_path / "msg"), "-o", str(tmp_path / "out"))
    assert done.returncode != 0
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("suite", sorted(SUITES))
@pytest.mark.parametrize("size,frame", [(0, 4096), (1, 128), (300_000, 4096), (70_000, 65536)])
def test_keyward_encrypts_what_the_esdk_cli_decrypts(
        server, kms, esdk, tmp_path, suite, size, frame):
    first, second = new_key(kms, server), new_key(kms, server)
    plaintext = os.urandom(size)
    (tmp_path / "plain").write_bytes(plaintext)
    ok(keyward(server, "encrypt", "-q", "--key", first, "--key", second, "--suite", suite,
               "--frame-length", str(frame), "--context", "purpose=interop",
               str(tmp_path / "plain"), "-o", str(tmp_path / "msg")))

    # The ESDK CLI holding only the second key opens it.
    ok(esdk("-d", "-i", str(tmp_path / "msg"), "-o", str(tmp_path / "out"),
            "-w", f"key={second}", "--max-encrypted-data-keys", "2"))
    assert (tmp_path / "out").read_bytes() == plaintext
    # Discovery mode works too.
    ok(esdk("-d", "-i", str(tmp_path / "msg"), "-o", str(tmp_path / "out2"),
            "-w", "discovery=true"))
    assert (tmp_path / "out2").read_bytes() == plaintext


def test_a_directory_encrypted_with_the_data_key_cache_decrypts_with_the_esdk_cli(
        server, kms, esdk, tmp_path):
    key = new_key(kms, server)
    (tmp_path / "plain").mkdir()
    files = {f"f{i}": os.urandom(1000 + i) for i in range(5)}
    for name, data in files.items():
        (tmp_path / "plain" / name).write_bytes(data)
    done = keyward(server, "encrypt", "--key", key, "--cache-max-age", "60",
                   str(tmp_path / "plain"), "-o", str(tmp_path / "enc"))
    ok(done)
    assert b"5 messages under 1 new data key (4 from the data-key cache)" in done.stderr
    for name, data in files.items():
        ok(esdk("-d", "-i", str(tmp_path / "enc" / f"{name}.encrypted"),
                "-o", str(tmp_path / name), "-w", f"key={key}"))
        assert (tmp_path / name).read_bytes() == data


def write_large(path: Path, size: int) -> str:
    """Writes `size` bytes that differ from block to block; returns their SHA-256."""
    digest = hashlib.sha256()
    block = bytearray(os.urandom(1 << 20))
    with path.open("wb") as out:
        for i in range(size // len(block)):
            block[:8] = i.to_bytes(8, "big")
            out.write(block)
            digest.update(block)
    return digest.hexdigest()


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


# Runs argv[1:] and prints its peak RSS (KiB). A child forked from pytest would
# start with pytest's own peak (Linux carries ru_maxrss across fork and exec),
# so the measured process is spawned from this small interpreter instead.
PEAK_RSS = r"""
import os, sys
pid = os.posix_spawn(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def timed(command) -> tuple[float, int]:
    """Runs `command`, returns (seconds, peak RSS in MiB) of that process alone."""
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", PEAK_RSS, *command.args], env=command.env,
                          capture_output=True)
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return elapsed, int(done.stdout.split()[-1]) // 1024


class Command:
    def __init__(self, args, env):
        self.args, self.env = [str(a) for a in args], env


def test_one_gib_streams_both_ways_in_bounded_memory(server, kms, esdk_cli, tmp_path):
    """1 GiB under the default (signed) suite, 64 KiB frames: keyward encrypts,
    the ESDK CLI decrypts; the ESDK CLI encrypts, keyward decrypts. Each side's
    peak memory stays far below the message size."""
    key = new_key(kms, server)
    plain, digest = tmp_path / "plain", None
    digest = write_large(plain, GIB)
    access, secret = server.admin_credentials()
    esdk_env = harness.clean_env({
        "AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": server.server_region, "AWS_ENDPOINT_URL_KMS": server.url,
        "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    })
    kw_env = harness.clean_env({
        "AWS_SHARED_CREDENTIALS_FILE": str(server.credentials_file),
        "AWS_CONFIG_FILE": os.devnull,
    })
    kw = [harness.keyward_bin()]
    url = ["--endpoint-url", server.url]
    report = {}

    report["keyward encrypt"] = timed(Command(
        [*kw, "encrypt", *url, "-q", "--key", key, "--frame-length", "65536",
         plain, "-o", tmp_path / "kw.msg"], kw_env))
    report["esdk-cli decrypt"] = timed(Command(
        [esdk_cli, "-S", "-d", "-i", tmp_path / "kw.msg", "-o", tmp_path / "kw.out",
         "-w", f"key={key}"], esdk_env))
    (tmp_path / "kw.msg").unlink()
    assert sha256(tmp_path / "kw.out") == digest
    (tmp_path / "kw.out").unlink()

    report["esdk-cli encrypt"] = timed(Command(
        [esdk_cli, "-S", "-e", "-i", plain, "-o", tmp_path / "esdk.msg",
         "-w", f"key={key}", "--frame-length", "65536"], esdk_env))
    plain.unlink()
    report["keyward decrypt"] = timed(Command(
        [*kw, "decrypt", *url, "-q", "--key", key, tmp_path / "esdk.msg",
         "-o", tmp_path / "esdk.out"], kw_env))
    (tmp_path / "esdk.msg").unlink()
    assert sha256(tmp_path / "esdk.out") == digest
    (tmp_path / "esdk.out").unlink()

    for what, (seconds, rss) in report.items():
        print(f"1 GiB {what}: {seconds:.1f} s, peak RSS {rss} MiB")
    # Streaming: nobody held the message in memory.
    assert report["keyward encrypt"][1] < 64, report
    assert report["keyward decrypt"][1] < 64, report
    assert report["esdk-cli encrypt"][1] < 256, report
    assert report["esdk-cli decrypt"][1] < 256, report
