"""python -m backend.core.healthcheck: the web and worker containers' healthchecks, run for real."""
import subprocess
import sys

import pytest

from backend.core import healthcheck


def run(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "backend.core.healthcheck", *args], capture_output=True, text=True,
                          timeout=60, **kwargs)


@pytest.mark.parametrize("args", [[], ["nonsense"], ["web", "a", "b"]])
def test_a_wrong_call_is_a_usage_error(args):
    result = run(*args)
    assert result.returncode == 2 and "usage:" in result.stderr


def test_web_is_unhealthy_when_nothing_answers_on_its_port():
    result = run("web")  # nothing listens on 127.0.0.1:8000 in the test run
    assert result.returncode == 1 and result.stderr.startswith("unhealthy:")


def test_web_is_healthy_when_healthz_answers_200(monkeypatch):
    class Answer:
        status = 200

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    seen = []
    monkeypatch.setattr(healthcheck.urllib.request, "urlopen", lambda url, timeout: seen.append(url) or Answer())
    assert healthcheck.main(["web"]) == 0
    assert seen == ["http://127.0.0.1:8000/healthz"]


def test_the_worker_check_pings_this_hosts_node_by_name(monkeypatch):
    from backend.celery import app

    asked = []
    monkeypatch.setattr(app.control, "ping", lambda destination, timeout: asked.append(destination) or [])
    assert healthcheck.main(["worker"]) == 1, "no reply: unhealthy"
    monkeypatch.setattr(app.control, "ping", lambda destination, timeout: asked.append(destination) or [{"n": "pong"}])
    assert healthcheck.main(["worker", "housekeeping"]) == 0
    import socket

    assert asked == [[f"celery@{socket.gethostname()}"], [f"housekeeping@{socket.gethostname()}"]]
