"""`GET /metrics`: Prometheus text with request counts and latency by
operation and outcome, and the counter of attempts to use a disabled or
pending-deletion key (seeds S-27, S-28), each also logged as a warning."""

from __future__ import annotations

import re

import pytest
from botocore.exceptions import ClientError

import harness


def metrics(server) -> str:
    response = harness.http_get(server, "/metrics")
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
