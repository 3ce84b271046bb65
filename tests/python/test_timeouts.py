"""Slow and idle clients cannot hold a connection forever
(--request-timeout-seconds; 30 by default)."""

from __future__ import annotations

import json
import socket
import time


def _connect(srv) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, TimeoutError, socket.timeout):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_stalled_body_gets_an_aws_timeout_error(server_factory):
    srv = server_factory.start(extra_args=["--request-timeout-seconds", "1"])
    sock = _connect(srv)
    started = time.monotonic()
    sock.sendall(
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
        b"X-Amz-Target: TrentService.ListKeys\r\nContent-Length: 100\r\n\r\n{}")
    response = _read_all(sock)
    elapsed = time.monotonic() - started
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), response
    assert json.loads(body)["__type"] == "RequestTimeoutException"
    assert elapsed < 8, elapsed


def _seconds_until_closed(sock: socket.socket, limit: float) -> tuple[float, bytes]:
    sock.settimeout(limit)
    started = time.monotonic()
    data = _read_all(sock)
    return time.monotonic() - started, data


def test_slow_headers_are_cut_off(server_factory):
    srv = server_factory.start(extra_args=["--request-timeout-seconds", "1"])
    slow = _connect(srv)
    slow.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # the headers never finish
    elapsed, _ = _seconds_until_closed(slow, 8)
    assert elapsed < 6, f"connection with unfinished headers stayed open {elapsed:.1f}s"


def test_idle_keep_alive_connections_are_closed(server_factory):
    srv = server_factory.start(extra_args=["--request-timeout-seconds", "1"])
    sock = _connect(srv)
    sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    sock.settimeout(5)
    assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    elapsed, _ = _seconds_until_closed(sock, 8)
    assert elapsed < 6, f"idle keep-alive connection stayed open {elapsed:.1f}s"
    fresh = _connect(srv)
    fresh.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    assert _read_all(fresh).startswith(b"HTTP/1.1 200")


def test_silent_connections_are_closed(server_factory):
    srv = server_factory.start(extra_args=["--request-timeout-seconds", "1"])
    silent = _connect(srv)  # connects and never sends a byte
    elapsed, _ = _seconds_until_closed(silent, 8)
    assert elapsed < 6, f"silent connection stayed open {elapsed:.1f}s"
