"""HTTP/1.1 and SigV4 details real clients exercise: keep-alive, chunked bodies,
Expect: 100-continue, header canonicalisation, credential scope checks."""

import http.client
import json
import socket

import pytest

import harness
from harness import build_request, raw_call


@pytest.fixture(autouse=True)
def server_survives(server):
    yield
    assert server.running, "keyward died\n" + server.logs()


def test_keep_alive_across_success_and_errors(server):
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        for target, body, want in [
            ("TrentService.ListKeys", {}, 200),
            ("TrentService.DescribeKey", {"KeyId": "fake-key-id"}, 400),
            ("TrentService.Nope", {}, 400),
            ("TrentService.DescribeKey", b"{bad json", 400),
            ("TrentService.GenerateRandom", {"NumberOfBytes": 8}, 200),
        ]:
            headers, data = build_request(server, target, body)
            conn.request("POST", "/", body=data, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            assert resp.status == want, (target, resp.status, payload)
            assert (resp.getheader("Connection") or "").lower() != "close", target
    finally:
        conn.close()


def test_chunked_request_body(server):
    headers, data = build_request(server, "TrentService.GenerateRandom", {"NumberOfBytes": 16})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.putrequest("POST", "/", skip_host=True, skip_accept_encoding=True)
        for k, v in headers.items():
            conn.putheader(k, v)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for i in range(0, len(data), 5):
            chunk = data[i:i + 5]
            conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, body
        assert "Plaintext" in json.loads(body)
    finally:
        conn.close()


def test_expect_100_continue(server):
    headers, data = build_request(server, "TrentService.GenerateRandom", {"NumberOfBytes": 16})
    headers["Expect"] = "100-continue"  # not signed: botocore's signer skips `expect`
    headers["Content-Length"] = str(len(data))
    head = "POST / HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head.encode())
        interim = sock.recv(4096)
        if interim.startswith(b"HTTP/1.1 100"):
            sock.sendall(data)
            reply = b""
        else:  # a server may also answer straight away; then it must not be an error
            reply = interim
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            reply += chunk
    status = reply.split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 200"), reply[:300]


def test_header_values_are_canonicalised_like_botocore(server):
    # SigV4 trims and collapses whitespace in header values before signing.
    resp = raw_call(server, "TrentService.ListKeys", {},
                    extra_headers={"X-Custom-Thing": "  a   b \t c  ", "X-Amz-Meta-Empty": ""})
    assert resp.status == 200, resp


def test_content_length_may_be_signed(server):
    data = b"{}"
    resp = raw_call(server, "TrentService.ListKeys", data,
                    extra_headers={"Content-Length": str(len(data))})
    assert resp.status == 200, resp


def test_signed_header_missing_from_request(server):
    headers, data = build_request(server, "TrentService.ListKeys", {},
                                  extra_headers={"X-Custom-Signed": "yes"})
    del headers["X-Custom-Signed"]
    resp = harness.send(server, headers, data)
    assert resp.status == 400 and resp.error_type == "InvalidSignatureException", resp


def test_unsigned_extra_header_is_ignored(server):
    headers, data = build_request(server, "TrentService.ListKeys", {})
    headers["X-Added-After-Signing"] = "fine"
    resp = harness.send(server, headers, data)
    assert resp.status == 200, resp


def test_credential_scope_for_another_service(server):
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    access, secret = server.admin_credentials()
    req = AWSRequest(method="POST", url=server.url + "/", data=b"{}", headers={
        "Host": f"127.0.0.1:{server.port}", "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": "TrentService.ListKeys"})
    SigV4Auth(Credentials(access, secret), "s3", "us-east-1").add_auth(req)
    resp = harness.send(server, dict(req.headers.items()), b"{}")
    assert resp.status == 400, resp
    assert resp.error_type in ("InvalidSignatureException", "IncompleteSignatureException"), resp


def test_credential_date_must_match_x_amz_date(server):
    headers, data = build_request(server, "TrentService.ListKeys", {})
    auth = headers["Authorization"]
    scope_date = auth.split("Credential=")[1].split("/")[1]
    other = "20200101" if scope_date != "20200101" else "20200102"
    headers["Authorization"] = auth.replace(f"/{scope_date}/", f"/{other}/")
    resp = harness.send(server, headers, data)
    assert resp.status == 400, resp
    assert resp.error_type in ("InvalidSignatureException", "IncompleteSignatureException"), resp


def test_request_id_on_authentication_errors(server):
    resp = raw_call(server, "TrentService.ListKeys", {}, sign=False)
    assert resp.status == 400
    assert resp.header("x-amzn-RequestId"), resp.headers


def test_a_body_over_one_mib_is_413_request_entity_too_large(server):
    # Issue 17, item 21: the code, status and message, at the limit and one byte over.
    def body_of(size):
        head, tail = b'{"Description": "', b'"}'
        return head + b"x" * (size - len(head) - len(tail)) + tail

    limit = 1024 * 1024
    at_limit = raw_call(server, "TrentService.CreateKey", body_of(limit), timeout=60)
    assert at_limit.status == 400 and at_limit.error_type == "ValidationException", at_limit
    over = raw_call(server, "TrentService.CreateKey", body_of(limit + 1), timeout=60)
    assert over.status == 413, over
    assert over.error_type == "RequestEntityTooLargeException", over
    assert over.json["message"] == f"Request body exceeds {limit} bytes.", over
    assert over.header("x-amzn-RequestId"), over
