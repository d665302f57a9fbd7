"""The real stack on loopback, for fault and hostile-input tests.

Every test here that needs processes gets its own: gunicorn (the production WSGI server), Celery
workers, a private redis-server on a free port (so a restart never touches the shared Redis at
6379), and, for database faults, a TCP proxy in front of the shared PostgreSQL that can be cut
(the shared server itself is never stopped). The processes use the test database, so tests use
`transactional_db` and their rows are committed.
"""
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests

# Personas, frames and the cache reset shared with the backend tests.
from tests.backend.conftest import (  # noqa: F401
    admin_user,
    batch_payload,
    clinician,
    device,
    face_jpeg,
    faceless_jpeg,
    fresh_cache,
    other_clinician,
    other_device,
    other_patient,
    patient,
    recent,
    two_faces_jpeg,
)
from tests.support import LoopbackProxy, free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]
UPLOAD_URL = "/api/v1/frame-batches/"


# --- a private Redis -------------------------------------------------------------------------------

class PrivateRedis:
    """redis-server on a free loopback port, keeping nothing on disk (as the production broker)."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self):
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed (make test installs nothing: apt-get install redis-server)")
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(self.ping, timeout=20, what="redis-server to start")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self):
        """SIGKILL: the queue and every message in it are gone."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def command(self, *args: str) -> str:
        import redis

        return redis.Redis(host="127.0.0.1", port=self.port).execute_command(*args)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.kill()


# --- a cuttable TCP proxy (in front of PostgreSQL) ---------------------------------------------------

class CuttableProxy(LoopbackProxy):
    """Forwards 127.0.0.1:<port> to an upstream port. cut(): every open connection is dropped and new
    ones are closed at once, as when the database host goes away. restore(): forwards again."""

    backlog = 64

    def __init__(self, upstream_port: int):
        self.cut_now = False
        self._open: set[socket.socket] = set()
        super().__init__(upstream_port)

    def cut(self):
        with self._lock:
            self.cut_now = True
            for sock in list(self._open):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._open.clear()

    def restore(self):
        with self._lock:
            self.cut_now = False

    def close(self):
        self.cut()
        super().close()

    def _admit(self, client: socket.socket) -> bool:
        with self._lock:
            if self.cut_now:
                client.close()
                return False
        return True

    def _handle(self, client: socket.socket):
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10)
        except OSError:
            client.close()
            return
        with self._lock:
            if self.cut_now:
                client.close()
                upstream.close()
                return
            self._open |= {client, upstream}
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in sel.select(timeout=1):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except (OSError, ValueError):
            return
        finally:
            sel.close()
            with self._lock:
                self._open -= {client, upstream}
            client.close()
            upstream.close()


# --- gunicorn and Celery workers --------------------------------------------------------------------

def _database_url(port: int | None = None) -> str:
    from django.db import connection

    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{port or db['PORT'] or 5432}/{db['NAME']}"


class Stack:
    """Starts and stops the processes of one test. Every process logs to a file under tmp_path."""

    def __init__(self, tmp_path: Path, broker_url: str):
        self.tmp_path = tmp_path
        self.broker_url = broker_url
        self.queue = f"reliab-{uuid.uuid4().hex[:8]}"
        self.processes: list[subprocess.Popen] = []
        self.web_port: int | None = None
        self.web_log: Path | None = None

    def env(self, **overrides) -> dict:
        base = {
            **os.environ,
            "DJANGO_ENV": "test",
            "DEBUG": "false",
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": self.broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "CELERY_QUEUE": self.queue,
            "UPLOAD_THROTTLE_RATE": "10000/minute",
            "LOG_LEVEL": "INFO",
        }
        base.pop("TEST_DATABASE_NAME", None)
        return {**base, **{k: str(v) for k, v in overrides.items()}}

    # web
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def start_web(self, *, workers: int = 2, threads: int = 1, **env) -> "Stack":
        self.web_port = free_port()
        self.web_log = self.tmp_path / f"gunicorn-{self.web_port}.log"
        command = [
            sys.executable, "-m", "gunicorn", "backend.wsgi:application", "--bind", f"127.0.0.1:{self.web_port}",
            "--workers", str(workers), "--threads", str(threads), "--timeout", "60", "--graceful-timeout", "5",
        ]
        self._spawn(command, self.web_log, self.env(**env))
        wait_until(self._web_up, timeout=60, what="gunicorn to serve /healthz")
        return self

    def _web_up(self) -> bool:
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code in (200, 503)
        except requests.RequestException:
            return False

    def healthy(self) -> bool:
        return requests.get(f"{self.url}/healthz", timeout=10).status_code == 200

    # workers
    def start_worker(self, *, beat: bool = False, **env) -> subprocess.Popen:
        log = self.tmp_path / f"worker-{len(self.processes)}.log"
        command = [
            sys.executable, "-m", "celery", "-A", "backend", "worker", "--pool=prefork", "--concurrency=1",
            "--queues", f"{self.queue},{self.queue}-inference",
            "--hostname", f"{self.queue}-{len(self.processes)}@%h", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]
        if beat:
            command += ["--beat", "--schedule", str(self.tmp_path / f"beat-{len(self.processes)}")]
        process = self._spawn(command, log, self.env(**env))
        process.log_path = log
        wait_until(lambda: process.poll() is not None or " ready." in log.read_text(), timeout=120,
                 what="the Celery worker to start")
        if process.poll() is not None:
            pytest.fail(f"Celery worker exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        return process

    @staticmethod
    def kill_tree(process: subprocess.Popen):
        """SIGKILL the process and all its children at once (its own process group)."""
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait(timeout=10)

    def _spawn(self, command: list[str], log: Path, env: dict) -> subprocess.Popen:
        with open(log, "a") as handle:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self.processes.append(process)
        return process

    def stop(self):
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill_tree(process)

    def logs(self, tail: int | None = 3000) -> str:
        """Each process's log, its last `tail` characters (for an assertion's message), or whole (tail=None)."""
        return "\n".join(f"--- {p.name} ---\n{p.read_text()[-tail if tail else 0:]}"
                         for p in sorted(self.tmp_path.glob("*.log")))


@pytest.fixture
def stack_factory(tmp_path, transactional_db):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.fail("reliability tests need PostgreSQL and Redis: run them through `make test`")
    stacks = []

    def make(broker_url: str) -> Stack:
        stacks.append(Stack(tmp_path, broker_url))
        return stacks[-1]

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture
def postgres_proxy():
    from django.db import connection

    proxy = CuttableProxy(int(connection.settings_dict["PORT"] or 5432))
    yield proxy
    proxy.close()


# --- HTTP helpers ------------------------------------------------------------------------------------

def multipart(frames: list[bytes], *, batch_id=None, captured_at=None, names=None, content_type="image/jpeg"):
    """(data, files) for requests.post: one `frames` part and one `captured_at` per frame."""
    names = names or [f"frame{i}.jpg" for i in range(len(frames))]
    times = captured_at if captured_at is not None else [recent(60 - i) for i in range(len(frames))]
    data = [("batch_id", str(batch_id or uuid.uuid4()))] + [("captured_at", t) for t in times]
    files = [("frames", (name, blob, content_type)) for name, blob in zip(names, frames)]
    return data, files


def device_headers(enrolled) -> dict:
    return {"Authorization": f"Device {enrolled.token}"}


def batch_wait_done(batch_id, *, timeout: float = 120, stack: Stack | None = None):
    from backend.ingest.models import FrameBatch

    try:
        return wait_until(
            lambda: FrameBatch.objects.filter(batch_id=batch_id, status__in=["done", "failed"]).first(),
            timeout=timeout, interval=0.3, what=f"batch {batch_id} to finish",
        )
    except AssertionError as error:
        raise AssertionError(f"{error}\n{stack.logs() if stack else ''}") from None
