"""Malformed bodies against Django's own WSGI server (what `make run` serves with): each gets a 4xx
with a JSON error, never the development server's plain-text 500."""
import json
import socket
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def exchange(live_server, head: str, body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    url = urlparse(live_server.url)
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        sock.shutdown(socket.SHUT_WR)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head_part, _, content = raw.partition(b"\r\n\r\n")
    lines = head_part.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, content


def post(path: str, headers: str) -> str:
    return f"POST {path} HTTP/1.1\nHost: localhost\nAuthorization: Device nope\n{headers}Connection: close\n"


@pytest.mark.parametrize("headers, status, code", [
    ("Transfer-Encoding: chunked\nContent-Type: multipart/form-data; boundary=x\n", 411, "length_required"),
    ("Content-Length: abc\nContent-Type: multipart/form-data; boundary=x\n", 400, "bad_request"),
    ("Content-Length: -5\nContent-Type: multipart/form-data; boundary=x\n", 400, "bad_request"),
    ("Content-Length: 999999999999\nContent-Type: multipart/form-data; boundary=x\n", 413, "request_too_large"),
])
def test_a_malformed_body_gets_a_json_4xx_from_the_development_server(live_server, headers, status, code):
    got, response_headers, content = exchange(live_server, post("/api/v1/frame-batches/", headers), b"0\r\n\r\n")
    assert got == status, content[:300]
    assert response_headers["Content-Type"].startswith("application/json")
    assert json.loads(content)["code"] == code


def test_a_static_file_that_does_not_exist_is_a_404_on_the_development_server(live_server):
    got, _, _ = exchange(live_server, "GET /static/dashboard/nope.css HTTP/1.1\nHost: localhost\nConnection: close\n")
    assert got == 404
