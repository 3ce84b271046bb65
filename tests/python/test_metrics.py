"""`GET /metrics` on its own listener (`--metrics-listen`): Prometheus text
with request counts and latency by operation and outcome, and the counter of
attempts to use a disabled or pending-deletion key (seeds S-27, S-28), each
also logged as a warning. The API listener does not serve it: it names keys
and accounts."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

import harness


def metrics(server) -> str:
    assert server.metrics_port is not None, "the server printed no metrics line"
    response = harness.http_get(server, "/metrics", port=server.metrics_port)
    assert response.status == 200
    assert response.header("content-type").startswith("text/plain")
    return response.body.decode()


def sample(text: str, name: str, **labels) -> float:
    """The value of the series `name{labels}` (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', line[line.index("{"):line.index("}")]))
        if all(found.get(k) == v for k, v in labels.items()) and set(found) - {"le"} == set(labels):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_requests_are_counted_by_operation_and_outcome(server, kms):
    before = metrics(server)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.encrypt(KeyId=key, Plaintext=b"x")
    with pytest.raises(ClientError):
        kms.encrypt(KeyId="alias/none-such", Plaintext=b"x")
    after = metrics(server)
    for outcome, added in (("success", 1), ("NotFoundException", 1)):
        labels = {"service": "kms", "operation": "Encrypt", "outcome": outcome}
        assert sample(after, "keyward_requests_total", **labels) == sample(before, "keyward_requests_total", **labels) + added
    labels = {"service": "kms", "operation": "Encrypt", "outcome": "success"}
    assert sample(after, "keyward_request_duration_seconds_count", **labels) >= 1
    assert "# TYPE keyward_request_duration_seconds histogram" in after


def test_the_disabled_key_counter_rises_and_each_attempt_is_logged(server, kms):
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    arn = server.key_arn(key)
    assert sample(metrics(server), "keyward_disabled_key_use_total", key_arn=arn) == 0
    kms.disable_key(KeyId=key)
    for _ in range(2):
        with pytest.raises(ClientError) as info:
            kms.encrypt(KeyId=key, Plaintext=b"x")
        assert info.value.response["Error"]["Code"] == "DisabledException"
    assert sample(metrics(server), "keyward_disabled_key_use_total", key_arn=arn) == 2
    kms.enable_key(KeyId=key)
    kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    with pytest.raises(ClientError) as info:
        kms.generate_data_key(KeyId=key, KeySpec="AES_256")
    assert info.value.response["Error"]["Code"] == "KMSInvalidStateException"
    assert sample(metrics(server), "keyward_disabled_key_use_total", key_arn=arn) == 3
    warnings = [line for line in server.logs(400).splitlines()
                if "WARN" in line and arn in line]
    assert len(warnings) == 3, server.logs(50)


def test_the_api_listener_does_not_serve_metrics(server, kms):
    """Anyone who can reach the API listener would read key ARNs and account
    ids in /metrics: there it is just another unsigned AWS request."""
    kms.create_key()
    response = harness.http_get(server, "/metrics")
    assert response.status == 400, response
    assert response.header("x-amzn-errortype") == "MissingAuthenticationTokenException"
    assert b"keyward_requests_total" not in response.body
    health = harness.http_get(server, "/health", port=server.metrics_port)
    assert health.status == 200


def test_metrics_off_loopback_need_tls(server_factory):
    """Off loopback, /metrics is plain HTTP only with TLS, as the API is."""
    s = server_factory.new(dev=False)
    s.metrics_listen = "0.0.0.0:0"
    with pytest.raises(harness.ServerStartError) as info:
        s.start()
    assert "refusing to serve /metrics in plain HTTP" in str(info.value)


def test_metrics_can_be_turned_off(server_factory):
    s = server_factory.new(dev=False)
    s.metrics_listen = "off"
    s.start()
    assert s.metrics_port is None
    assert "keyward metrics on" not in s.stdout_path.read_text()
