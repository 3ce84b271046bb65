"""Test harness for the keyward end-to-end suite.

Starts the real `keyward` binary, builds boto3 clients and AWS CLI calls
against it, and sends hand-made (optionally SigV4-signed) HTTP requests for
the cases no SDK will produce (malformed bodies, broken signatures).

Nothing here knows what the server *should* answer; the assertions live in
the test modules.
"""

from __future__ import annotations

import base64
import configparser
import datetime as dt
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import boto3
import botocore.config
from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
# Account id given to the non-dev test server, so ARNs are predictable.
SERVER_ACCOUNT = "111122223333"
# moto-compatible dev defaults.
DEV_ACCOUNT = "123456789012"
DEV_ACCESS_KEY = "testing"
DEV_SECRET_KEY = "testing"

LISTEN_RE = re.compile(r"^keyward listening on https?://127\.0\.0\.1:(\d+)$")
METRICS_RE = re.compile(r"^keyward metrics on https?://127\.0\.0\.1:(\d+)$")
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def keyward_bin() -> Path:
    override = os.environ.get("KEYWARD_BIN")
    if override:
        return Path(override)
    target = os.environ.get("CARGO_TARGET_DIR")
    return (Path(target) if target else REPO_ROOT / "target") / "debug" / "keyward"


def key_arn(key_id: str, account: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{account}:key/{key_id}"


def alias_arn(alias_name: str, account: str, region: str = REGION) -> str:
    return f"arn:aws:kms:{region}:{account}:{alias_name}"


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


class ServerStartError(RuntimeError):
    pass


@dataclass
class KeywardServer:
    """One `keyward serve` process with its own data directory and log files."""

    data_dir: Path
    log_dir: Path
    dev: bool = False
    account_id: str | None = None
    region: str | None = None
    listen: str = "127.0.0.1:0"
    metrics_listen: str = "127.0.0.1:0"
    extra_args: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    port: int | None = None
    metrics_port: int | None = None
    starts: int = 0
    exit_codes: list[int] = field(default_factory=list)

    # -- process control -------------------------------------------------

    def command(self) -> list[str]:
        cmd = [str(keyward_bin()), "serve", "--listen", self.listen,
               "--metrics-listen", self.metrics_listen, "--data-dir", str(self.data_dir)]
        if self.dev:
            cmd.append("--dev")
        if self.account_id:
            cmd += ["--account-id", self.account_id]
        if self.region:
            cmd += ["--region", self.region]
        return cmd + list(self.extra_args)

    @property
    def stdout_path(self) -> Path:
        return self.log_dir / f"stdout.{self.starts}.log"

    @property
    def stderr_path(self) -> Path:
        return self.log_dir / f"stderr.{self.starts}.log"

    def spawn(self) -> subprocess.Popen:
        """Start the process without waiting for readiness."""
        if not keyward_bin().exists():
            raise ServerStartError(
                f"keyward binary not found at {keyward_bin()}; "
                "run `cargo build -p keyward` or set KEYWARD_BIN")
        self.starts += 1
        self.log_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.stdout_path, "wb")
        err = open(self.stderr_path, "wb")
        env = clean_env()
        env.setdefault("RUST_BACKTRACE", "1")
        try:
            self.proc = subprocess.Popen(
                self.command(), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                env=env, cwd=str(self.log_dir))
        finally:
            out.close()
            err.close()
        self.port = None
        self.metrics_port = None
        return self.proc

    def start(self) -> "KeywardServer":
        self.spawn()
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            for line in self.stdout_path.read_text(errors="replace").splitlines():
                metrics = METRICS_RE.match(line.strip())
                if metrics:
                    self.metrics_port = int(metrics.group(1))
                m = LISTEN_RE.match(line.strip())
                if m:
                    self.port = int(m.group(1))
                    return self
            if self.proc.poll() is not None:
                self.exit_codes.append(self.proc.returncode)
                raise ServerStartError(
                    f"keyward exited with {self.proc.returncode} before listening\n"
                    + self.describe())
            time.sleep(0.02)
        self.kill()
        raise ServerStartError("keyward did not print its listening line in "
                               f"{START_TIMEOUT_S}s\n" + self.describe())

    def wait_exit(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        assert self.proc is not None
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.exit_codes.append(rc)
        return rc

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """SIGTERM and wait; returns the exit code (None if it had to be killed)."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.kill()
        return rc

    def kill(self) -> int | None:
        """SIGKILL (no chance to flush) and reap."""
        if self.proc is None or self.proc.poll() is not None:
            return None
        self.proc.kill()
        rc = self.proc.wait(timeout=STOP_TIMEOUT_S)
        self.exit_codes.append(rc)
        return rc

    def restart(self) -> "KeywardServer":
        rc = self.stop()
        if rc is None and self.proc is not None and self.proc.returncode is None:
            raise AssertionError("server did not stop")
        return self.start()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- addressing and credentials --------------------------------------

    @property
    def url(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "admin-credentials"

    def admin_credentials(self) -> tuple[str, str]:
        cp = configparser.ConfigParser()
        cp.read(self.credentials_file)
        return (cp["default"]["aws_access_key_id"].strip(),
                cp["default"]["aws_secret_access_key"].strip())

    def default_credentials(self) -> tuple[str, str]:
        return (DEV_ACCESS_KEY, DEV_SECRET_KEY) if self.dev else self.admin_credentials()

    @property
    def account(self) -> str:
        return self.account_id or (DEV_ACCOUNT if self.dev else SERVER_ACCOUNT)

    @property
    def server_region(self) -> str:
        return self.region or REGION

    def key_arn(self, key_id: str) -> str:
        return key_arn(key_id, self.account, self.server_region)

    def alias_arn(self, alias_name: str) -> str:
        return alias_arn(alias_name, self.account, self.server_region)

    # -- diagnostics -----------------------------------------------------

    def logs(self, tail: int = 200) -> str:
        parts = []
        for i in range(1, self.starts + 1):
            for kind in ("stdout", "stderr"):
                p = self.log_dir / f"{kind}.{i}.log"
                if p.exists():
                    lines = p.read_text(errors="replace").splitlines()
                    shown = lines[-tail:]
                    cut = f" (last {tail} of {len(lines)} lines)" if len(lines) > tail else ""
                    parts.append(f"--- {kind} of start #{i}{cut} ---\n" + "\n".join(shown))
        return "\n".join(parts)

    def describe(self) -> str:
        return (f"command: {' '.join(self.command())}\n"
                f"data dir: {self.data_dir}\n"
                f"exit codes so far: {self.exit_codes}\n" + self.logs())


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The process environment without AWS_* (client config) or KEYWARD_* (server config)
    variables leaking in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("AWS_") and not k.startswith("KEYWARD_")}
    if extra:
        env.update(extra)
    return env


def new_server(base: Path, **kwargs: Any) -> KeywardServer:
    d = Path(tempfile.mkdtemp(prefix="srv-", dir=base))
    return KeywardServer(data_dir=d / "data", log_dir=d / "logs", **kwargs)


# -- boto3 --------------------------------------------------------------

def kms_client(server: KeywardServer, creds: tuple[str, str] | None = None,
               region: str | None = None, validate: bool = True):
    access, secret = creds or server.default_credentials()
    session = boto3.session.Session(
        aws_access_key_id=access, aws_secret_access_key=secret,
        region_name=region or server.server_region)
    cfg = botocore.config.Config(
        retries={"max_attempts": 1, "mode": "standard"},
        connect_timeout=10, read_timeout=30,
        parameter_validation=validate)
    return session.client("kms", endpoint_url=server.url, config=cfg)


# -- raw HTTP -----------------------------------------------------------

@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8")) if self.body else None

    @property
    def error_type(self) -> str | None:
        try:
            doc = self.json
        except ValueError:
            return None
        if isinstance(doc, dict) and "__type" in doc:
            t = doc["__type"]
            return t.split("#")[-1].split(":")[0]
        return None

    def header(self, name: str) -> str | None:
        for k, v in self.headers.items():
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self) -> str:
        return f"RawResponse({self.status}, {self.headers!r}, {self.body[:500]!r})"


class _FixedTimeSigV4(SigV4Auth):
    """SigV4 with a chosen signing time (to test clock-skew handling)."""

    def __init__(self, credentials, service, region, when: dt.datetime):
        super().__init__(credentials, service, region)
        self._when = when

    def add_auth(self, request):
        request.context["timestamp"] = self._when.strftime(SIGV4_TIMESTAMP)
        self._modify_request_before_signing(request)
        canonical = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical)
        signature = self.signature(string_to_sign, request)
        self._inject_signature_to_request(request, signature)


def build_request(server: KeywardServer, target: str | None, body: bytes | str | dict | None,
                  creds: tuple[str, str] | None = None, sign: bool = True,
                  when: dt.datetime | None = None, region: str | None = None,
                  path: str = "/", extra_headers: dict[str, str] | None = None,
                  content_type: str | None = "application/x-amz-json-1.1"):
    """Returns (headers, body bytes) of a KMS-style POST, SigV4-signed unless sign=False."""
    if isinstance(body, dict) or isinstance(body, list):
        data = json.dumps(body).encode()
    elif isinstance(body, str):
        data = body.encode("utf-8")
    elif body is None:
        data = b""
    else:
        data = body
    headers = {"Host": f"127.0.0.1:{server.port}"}
    if content_type:
        headers["Content-Type"] = content_type
    if target is not None:
        headers["X-Amz-Target"] = target
    if extra_headers:
        headers.update(extra_headers)
    req = AWSRequest(method="POST", url=server.url + path, data=data, headers=headers)
    if sign:
        access, secret = creds or server.default_credentials()
        c = Credentials(access, secret)
        r = region or server.server_region
        signer = (_FixedTimeSigV4(c, "kms", r, when) if when is not None
                  else SigV4Auth(c, "kms", r))
        signer.add_auth(req)
    return dict(req.headers.items()), data


def send(server: KeywardServer, headers: dict[str, str], data: bytes,
         method: str = "POST", path: str = "/", timeout: float = 30) -> RawResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        has_len = any(k.lower() == "content-length" for k in headers)
        for k, v in headers.items():
            conn.putheader(k, v)
        if not has_len:
            conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
        resp = conn.getresponse()
        body = resp.read()
        return RawResponse(resp.status, dict(resp.getheaders()), body)
    finally:
        conn.close()


def raw_call(server: KeywardServer, target: str | None, body: bytes | str | dict | None,
             **kwargs: Any) -> RawResponse:
    send_kwargs = {k: kwargs.pop(k) for k in ("timeout",) if k in kwargs}
    headers, data = build_request(server, target, body, **kwargs)
    return send(server, headers, data, path=kwargs.get("path", "/"), **send_kwargs)


def http_get(server: KeywardServer, path: str, timeout: float = 10,
             port: int | None = None) -> RawResponse:
    """GET `path` from the API listener, or from `port` (the metrics listener's)."""
    conn = http.client.HTTPConnection("127.0.0.1", port or server.port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return RawResponse(resp.status, dict(resp.getheaders()), resp.read())
    finally:
        conn.close()


def advance_clock(server: KeywardServer, seconds: float) -> float:
    """Dev-only: advance the server clock, run due background work, return server 'now'."""
    resp = raw_call(server, None, {"Seconds": int(round(seconds))}, path="/keyward/dev/advance-clock",
                    content_type="application/json")
    assert resp.status == 200, f"advance-clock failed: {resp!r}"
    now = resp.json["Now"]
    assert isinstance(now, (int, float)), resp.json
    return float(now)


def server_now(server: KeywardServer) -> float:
    return advance_clock(server, 0)


# -- AWS CLI ------------------------------------------------------------

def aws_cli_path() -> str:
    candidate = Path(sys.executable).parent / "aws"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("aws")
    if not found:
        raise RuntimeError("the AWS CLI (`aws`) is not installed; see tests/python/requirements.txt")
    return found


@dataclass
class CliResult:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout) if self.stdout.strip() else None

    def __str__(self) -> str:
        return (f"$ {' '.join(self.args)}\nexit {self.returncode}\n"
                f"--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}")


def run_aws(server: KeywardServer, args: Iterable[str], credentials_file: Path | None = None,
            home: Path | None = None, region: str | None = None,
            endpoint: bool = True, timeout: float = 60) -> CliResult:
    """Run `aws <args> [--endpoint-url URL] --output json` with a hermetic environment."""
    creds = credentials_file or server.credentials_file
    home = home or server.log_dir
    env = clean_env({
        "AWS_SHARED_CREDENTIALS_FILE": str(creds),
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_DEFAULT_REGION": region or server.server_region,
        "HOME": str(home),
    })
    cmd = [aws_cli_path(), *args]
    if endpoint:
        cmd += ["--endpoint-url", server.url]
    cmd += ["--output", "json"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return CliResult(cmd, p.returncode, p.stdout, p.stderr)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# -- assertions ---------------------------------------------------------

def expect_error(fn, code: str, message: str | None = None, *, status: int = 400,
                 message_startswith: str | None = None, message_contains: str | None = None,
                 **kwargs: Any) -> dict:
    """Call fn(**kwargs); assert it fails with exactly this AWS error code, HTTP
    status and (if given) message. Returns the botocore error response."""
    from botocore.exceptions import ClientError
    try:
        result = fn(**kwargs)
    except ClientError as e:
        resp = e.response
    else:
        raise AssertionError(f"expected {code}, but the call succeeded: {short(result)}")
    err = resp.get("Error", {})
    got_status = resp["ResponseMetadata"]["HTTPStatusCode"]
    assert (err.get("Code"), got_status) == (code, status), \
        f"expected {code}/{status}, got {err.get('Code')}/{got_status}: {short(err.get('Message'))}"
    got_msg = err.get("Message", "")
    if message is not None:
        assert got_msg == message, \
            f"{code} message\n  expected: {short(message)}\n  actual:   {short(got_msg)}"
    if message_startswith is not None:
        assert got_msg.startswith(message_startswith), \
            f"{code} message\n  expected prefix: {message_startswith!r}\n  actual: {got_msg!r}"
    if message_contains is not None:
        assert message_contains in got_msg, \
            f"{code} message\n  expected to contain: {message_contains!r}\n  actual: {got_msg!r}"
    return resp


def short(value: Any, limit: int = 600) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


def validation_message(value: Any, member: str, constraint: str, *, sensitive: bool = False) -> str:
    """AWS's model-validation message for one violation."""
    shown = "at" if sensitive else f"'{value}' at"
    return (f"1 validation error detected: Value {shown} '{member}' failed to satisfy "
            f"constraint: {constraint}")


def disabled_message(arn: str) -> str:
    return f"{arn} is disabled."


def pending_deletion_message(arn: str) -> str:
    return f"{arn} is pending deletion."


DRY_RUN_MESSAGE = "The request would have succeeded, but the DryRun option is set."
INCORRECT_KEY_MESSAGE = ("The key ID in the request does not identify a CMK that can "
                         "perform this operation.")
