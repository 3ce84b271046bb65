"""The `keyward serve` process: readiness line, health, credentials file, signals, flags."""

import configparser
import re
import stat
import threading
import time

import pytest

import harness


def test_prints_exactly_one_listening_line_with_a_real_port(server_factory):
    s = server_factory.start()
    lines = [l for l in s.stdout_path.read_text().splitlines() if "listening" in l]
    assert len(lines) == 1, lines
    m = harness.LISTEN_RE.match(lines[0])
    assert m, lines[0]
    assert 0 < int(m.group(1)) < 65536
    assert int(m.group(1)) == s.port


def test_health_returns_200_without_authentication(server):
    resp = harness.http_get(server, "/health")
    assert resp.status == 200, resp


def test_two_servers_on_port_zero_get_distinct_ports(server_factory):
    a = server_factory.start()
    b = server_factory.start()
    assert a.port != b.port
    assert harness.http_get(a, "/health").status == 200
    assert harness.http_get(b, "/health").status == 200


def test_first_start_writes_admin_credentials_mode_0600(server):
    path = server.credentials_file
    assert path.is_file(), f"{path} missing"
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o600, oct(mode)
    cp = configparser.ConfigParser()
    cp.read(path)
    assert cp.sections() == ["default"], cp.sections()
    access = cp["default"].get("aws_access_key_id", "").strip()
    secret = cp["default"].get("aws_secret_access_key", "").strip()
    # IAM AccessKeyId constraint: [\w]+, 16..128 characters.
    assert re.fullmatch(r"\w{16,128}", access), access
    assert len(secret) >= 20, "secret access key looks too short"


def test_each_data_dir_gets_its_own_admin_credentials(server_factory):
    a = server_factory.start()
    b = server_factory.start()
    assert a.admin_credentials()[0] != b.admin_credentials()[0]
    assert a.admin_credentials()[1] != b.admin_credentials()[1]


def test_admin_credentials_work_with_boto3(server, kms):
    resp = kms.list_keys()
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["Truncated"] is False
    assert isinstance(resp["Keys"], list)


def test_sigterm_exits_zero(server_factory):
    s = server_factory.start()
    harness.kms_client(s).create_key()
    rc = s.stop()
    assert rc == 0, f"exit code after SIGTERM: {rc}\n{s.logs()}"


def test_restart_on_same_dir_reuses_admin_credentials(server_factory):
    s = server_factory.start()
    before = s.credentials_file.read_bytes()
    assert s.stop() == 0
    s.start()
    assert s.credentials_file.read_bytes() == before
    # and the same keys still authenticate
    harness.kms_client(s).list_keys()


def test_dev_mode_refuses_non_loopback_listen_address(server_factory):
    s = server_factory.new(dev=True, listen="0.0.0.0:0")
    proc = s.spawn()
    rc = s.wait_exit(timeout=15)
    if rc is None:
        s.kill()
        pytest.fail("keyward --dev --listen 0.0.0.0:0 kept running\n" + s.logs())
    assert rc != 0
    assert "listening" not in s.stdout_path.read_text()
    assert proc.returncode == rc


def test_dev_clock_endpoint_is_not_available_without_dev(server):
    resp = harness.raw_call(server, None, {"Seconds": 86400}, path="/keyward/dev/advance-clock",
                            content_type="application/json")
    assert resp.status != 200, resp
    assert 400 <= resp.status < 500, resp


def test_dev_clock_endpoint_advances_now(dev_server):
    t0 = harness.server_now(dev_server)
    t1 = harness.advance_clock(dev_server, 3600)
    assert 3600 <= t1 - t0 < 3600 + 60, (t0, t1)
    t2 = harness.server_now(dev_server)
    assert t1 <= t2 < t1 + 60


def test_sigterm_under_load_exits_zero_and_answers_cleanly(server_factory):
    s = server_factory.start()
    kms = harness.kms_client(s)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    stop = threading.Event()
    statuses, errors = [], []

    def hammer():
        c = harness.kms_client(s)
        while not stop.is_set():
            try:
                c.encrypt(KeyId=key_id, Plaintext=b"load")
                statuses.append(200)
            except c.exceptions.ClientError as e:
                statuses.append(e.response["ResponseMetadata"]["HTTPStatusCode"])
            except Exception as e:  # connection refused/reset once the server is gone
                errors.append(type(e).__name__)
                return

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    while len(statuses) < 50 and not errors:
        time.sleep(0.01)
    rc = s.stop()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert rc == 0, f"exit code {rc}\n{s.logs()}"
    assert statuses.count(200) >= 50
    assert not [x for x in statuses if x >= 500], statuses
