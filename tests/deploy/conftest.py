"""Fixtures for the deployment tests: real photos as videos and folders, a fault-injecting proxy."""
import socket
from pathlib import Path

import pytest

# The real Celery worker process and the throttle reset, shared with the backend tests.
from tests.backend.conftest import celery_worker_process, fresh_cache  # noqa: F401
from tests.support import LoopbackProxy

ROOT = Path(__file__).resolve().parents[2]


def video_from_photos(path: Path, photos: list[Path], *, seconds_each: list[float], fps: int = 10,
                      size=(640, 480)) -> Path:
    """An MJPG .avi showing each photo for the given number of seconds."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for photo, seconds in zip(photos, seconds_each):
        frame = cv2.resize(cv2.imread(str(photo)), size)
        for _ in range(round(seconds * fps)):
            writer.write(frame)
    writer.release()
    return path


@pytest.fixture
def photo_video(tmp_path, sample_images_dir) -> Path:
    """5 s of real faces at 10 fps: obama1 for 3 s, then two_people for 2 s."""
    return video_from_photos(tmp_path / "phone.avi",
                             [sample_images_dir / "obama1.jpg", sample_images_dir / "two_people.jpg"],
                             seconds_each=[3, 2])


class FaultyProxy(LoopbackProxy):
    """A TCP proxy on 127.0.0.1 in front of a server, that can misbehave on purpose.

    down: every connection is closed at once (the network is gone).
    drop_upload_responses: that many frame- or mood-batch uploads reach the server, but the connection is cut
        before its answer gets back (the server stored the batch; the phone does not know).
    fail_uploads_with_503: that many frame- or mood-batch uploads get a 503 from the "load balancer" and
        never reach the server.
    """

    def __init__(self, upstream_port: int):
        self.down = False
        self.drop_upload_responses = 0
        self.fail_uploads_with_503 = 0
        self.uploads_seen = 0
        super().__init__(upstream_port)

    def _decide(self, first_bytes: bytes) -> str:
        with self._lock:
            if self.down:
                return "close"
            if first_bytes.startswith((b"POST /api/v1/frame-batches/", b"POST /api/v1/mood-batches/")):
                self.uploads_seen += 1
                if self.fail_uploads_with_503:
                    self.fail_uploads_with_503 -= 1
                    return "503"
                if self.drop_upload_responses:
                    self.drop_upload_responses -= 1
                    return "drop_response"
            return "forward"

    def _handle(self, client: socket.socket):
        with client:
            client.settimeout(30)
            try:
                first = client.recv(65536)
            except OSError:
                return
            action = self._decide(first)
            # One request per connection, so each request gets its own decision.
            if b"\r\n\r\n" in first:
                first = close_delimited(first)
            if action == "close" or not first:
                return
            if action == "503":
                client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                               b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
                return
            with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=120) as upstream:
                upstream.sendall(first)
                if action == "drop_response":
                    self._pump(client, upstream, until_response=True)
                    return  # the server has answered; the phone never sees it
                self._pump(client, upstream)

    @staticmethod
    def _pump(client: socket.socket, upstream: socket.socket, *, until_response: bool = False):
        """Copy both ways until either side closes (or, with until_response, until the server answers).

        The server's answer is relayed with `Connection: close`: the proxy serves one request per
        connection, and a phone that believed the connection would stay open could send its next
        request into it just as it closes, a network failure that no test asked for."""
        import selectors

        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, client)
        response_head = b""  # the answer's header block, held until it is complete
        while True:
            for key, _ in sel.select(timeout=120):
                data = key.fileobj.recv(65536)
                if not data:
                    return
                if key.fileobj is upstream:
                    if until_response:
                        return
                    if response_head is not None:
                        response_head += data
                        if b"\r\n\r\n" not in response_head:
                            continue
                        data, response_head = close_delimited(response_head), None
                key.data.sendall(data)


def close_delimited(message: bytes) -> bytes:
    """An HTTP request or response (at least its whole header block) that says `Connection: close`,
    whatever it said before."""
    head, sep, body = message.partition(b"\r\n\r\n")
    status, *headers = head.split(b"\r\n")
    headers = [h for h in headers if not h.lower().startswith(b"connection:")]
    return b"\r\n".join([status, *headers, b"Connection: close"]) + sep + body
