"""pytest fixtures: real keyward processes, boto3 clients, the AWS CLI.

- `server`: a non-dev server (SigV4 with the generated admin credentials,
  account 111122223333), one per test module, fresh data dir.
- `dev_server`: `--dev --account-id 123456789012`, clients use testing/testing.
- `server_factory`: start extra servers (custom flags, restarts, kills) inside
  one test; all are stopped at teardown.
- `make_kms`: boto3 KMS client factory; `kms` / `dev_kms` are ready-made clients.
- `aws`: AWS CLI runner bound to `server`.

When a test fails, the stdout/stderr of every server it used is attached to
the report.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import harness
from harness import KeywardServer

# Keep the test process itself hermetic: no ambient AWS configuration.
for _name in [k for k in os.environ if k.startswith("AWS_")]:
    del os.environ[_name]
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull

_RUNNING: list[KeywardServer] = []


def _start(server: KeywardServer) -> KeywardServer:
    _RUNNING.append(server)
    server.start()
    return server


def _teardown(server: KeywardServer) -> None:
    try:
        server.stop()
    finally:
        if server in _RUNNING:
            _RUNNING.remove(server)


@pytest.fixture(scope="session")
def work_dir(tmp_path_factory):
    # pytest keeps the directories of the last few runs for post-mortems.
    return tmp_path_factory.mktemp("servers")


@pytest.fixture(scope="module")
def server(work_dir):
    s = harness.new_server(work_dir, account_id=harness.SERVER_ACCOUNT)
    _start(s)
    yield s
    _teardown(s)


@pytest.fixture(scope="module")
def dev_server(work_dir):
    s = harness.new_server(work_dir, dev=True, account_id=harness.DEV_ACCOUNT)
    _start(s)
    yield s
    _teardown(s)


class ServerFactory:
    def __init__(self, work_dir: Path):
        self.work_dir = work_dir
        self.servers: list[KeywardServer] = []

    def new(self, **kwargs) -> KeywardServer:
        """A configured but not yet started server (fresh data dir)."""
        s = harness.new_server(self.work_dir, **kwargs)
        self.servers.append(s)
        _RUNNING.append(s)
        return s

    def start(self, **kwargs) -> KeywardServer:
        kwargs.setdefault("account_id",
                          harness.DEV_ACCOUNT if kwargs.get("dev") else harness.SERVER_ACCOUNT)
        s = self.new(**kwargs)
        s.start()
        return s

    def close(self) -> None:
        for s in self.servers:
            try:
                s.stop()
            finally:
                if s in _RUNNING:
                    _RUNNING.remove(s)


@pytest.fixture
def server_factory(work_dir):
    f = ServerFactory(work_dir)
    yield f
    f.close()


@pytest.fixture(scope="session")
def make_kms():
    return harness.kms_client


@pytest.fixture(scope="module")
def kms(server):
    return harness.kms_client(server)


@pytest.fixture(scope="module")
def kms_raw(server):
    """A client without botocore's client-side parameter validation."""
    return harness.kms_client(server, validate=False)


@pytest.fixture(scope="module")
def dev_kms(dev_server):
    return harness.kms_client(dev_server)


@pytest.fixture
def aws(server):
    def run(*args, **kwargs):
        return harness.run_aws(server, list(args), **kwargs)
    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for i, s in enumerate(list(_RUNNING)):
            report.sections.append((f"keyward server #{i} ({'dev' if s.dev else 'sigv4'})",
                                    s.describe()))
