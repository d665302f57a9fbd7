"""Helpers shared by the suites: the personas' password, a CSRF form login over HTTP, polling,
loopback ports and proxies, and hostile image headers."""
import re
import socket
import struct
import threading
import time
import zlib

import requests

# Every UserFactory user's password (tests.backend.factories).
PASSWORD = "correct horse battery staple"


def csrf_login(base: str, username: str, password: str = PASSWORD) -> tuple[requests.Session, requests.Response]:
    """Log in through the dashboard's form as a browser would (CSRF token from the page, Referer set).
    Returns the session and the answer to the POST (302 on success), redirects not followed."""
    session = requests.Session()
    form = session.get(f"{base}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    response = session.post(f"{base}/login/", data={"username": username, "password": password,
                                                    "csrfmiddlewaretoken": token},
                            headers={"Referer": f"{base}/login/"}, timeout=30, allow_redirects=False)
    return session, response


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height pixels (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1024))
        + chunk(b"IEND", b"")
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.2, what: str = "condition"):
    """Poll `predicate` until it returns something truthy (returned), or fail the test after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class LoopbackProxy:
    """A TCP listener on a free 127.0.0.1 port in front of `upstream_port`. Each accepted
    connection is offered to `_admit` and then served by `_handle` on a thread of its own;
    subclasses decide what to do with it (forward it, cut it, answer it themselves).
    Subclasses set their own attributes before calling this __init__, which starts accepting."""

    backlog = 16

    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self._lock = threading.Lock()
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(self.backlog)
        self.port = self._listener.getsockname()[1]
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self._closed = True
        self._listener.close()

    def _accept_loop(self):
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._admit(client):
                threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _admit(self, client: socket.socket) -> bool:
        return True

    def _handle(self, client: socket.socket):
        raise NotImplementedError
