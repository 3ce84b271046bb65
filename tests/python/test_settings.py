"""Settings reach `keyward serve` from the environment and a TOML config file,
and a data directory keeps the account and region it was created with."""

from __future__ import annotations

import re
import subprocess
import time

import boto3
import botocore.config

import harness

LISTEN = re.compile(r"^keyward listening on http://127\.0\.0\.1:(\d+)$", re.M)


def _serve(args: list[str], env_extra: dict[str, str], cwd) -> tuple[subprocess.Popen, int]:
    env = harness.clean_env(env_extra)
    out = open(cwd / "stdout.log", "wb")
    proc = subprocess.Popen([str(harness.keyward_bin()), "serve", *args], stdout=out,
                            stderr=open(cwd / "stderr.log", "wb"), stdin=subprocess.DEVNULL,
                            env=env, cwd=str(cwd))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        m = LISTEN.search((cwd / "stdout.log").read_text())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            raise AssertionError("keyward exited: " + (cwd / "stderr.log").read_text())
        time.sleep(0.02)
    proc.kill()
    raise AssertionError("keyward did not start: " + (cwd / "stderr.log").read_text())


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    assert proc.wait(timeout=30) == 0


def _client(data_dir, port: int, region: str):
    text = (data_dir / "admin-credentials").read_text()
    access = re.search(r"aws_access_key_id = (\S+)", text).group(1)
    secret = re.search(r"aws_secret_access_key = (\S+)", text).group(1)
    assert f"region = {region}" in text
    return boto3.session.Session(aws_access_key_id=access, aws_secret_access_key=secret,
                                 region_name=region).client(
        "kms", endpoint_url=f"http://127.0.0.1:{port}",
        config=botocore.config.Config(retries={"max_attempts": 1}))


def test_environment_variables(tmp_path):
    data_dir = tmp_path / "env-data"
    proc, port = _serve([], {"KEYWARD_LISTEN": "127.0.0.1:0", "KEYWARD_DATA_DIR": str(data_dir),
                             "KEYWARD_ACCOUNT_ID": "444455556666"}, tmp_path)
    try:
        arn = _client(data_dir, port, "us-east-1").create_key()["KeyMetadata"]["Arn"]
        assert arn.startswith("arn:aws:kms:us-east-1:444455556666:key/")
    finally:
        _stop(proc)


def test_config_file_and_flags_precedence(tmp_path):
    data_dir = tmp_path / "cfg-data"
    config = tmp_path / "keyward.toml"
    config.write_text(f'listen = "127.0.0.1:1"\ndata_dir = "{data_dir}"\nregion = "eu-west-1"\n'
                      'account_id = "777788889999"\n')
    # The flag overrides the config file's (unusable) port.
    proc, port = _serve(["--config", str(config), "--listen", "127.0.0.1:0"], {}, tmp_path)
    try:
        kms = _client(data_dir, port, "eu-west-1")
        arn = kms.create_key()["KeyMetadata"]["Arn"]
        assert arn.startswith("arn:aws:kms:eu-west-1:777788889999:key/")
    finally:
        _stop(proc)


def test_a_data_directory_keeps_its_account_and_region(tmp_path):
    data_dir = tmp_path / "kept"
    proc, _ = _serve(["--listen", "127.0.0.1:0", "--data-dir", str(data_dir),
                      "--account-id", "111122223333"], {}, tmp_path)
    _stop(proc)
    for flag, value in (("--account-id", "999988887777"), ("--region", "ap-south-1")):
        result = subprocess.run([str(harness.keyward_bin()), "serve", "--listen", "127.0.0.1:0",
                                 "--data-dir", str(data_dir), flag, value],
                                capture_output=True, text=True, timeout=30, env=harness.clean_env())
        assert result.returncode != 0
        assert "use another --data-dir" in result.stderr, result.stderr
