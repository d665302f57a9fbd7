"""gunicorn as the image runs it (gunicorn.conf.py, several worker processes): /metrics adds up every
process's counts whichever process answers the scrape, and gunicorn's own lines are JSON."""
import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import free_port, wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN = "gunicorn-metrics-token-9e1d7c3b-long"


@pytest.fixture
def gunicorn_server(tmp_path):
    port = free_port()
    env = {**os.environ, "METRICS_TOKEN": TOKEN, "DJANGO_ENV": "test", "CELERY_BROKER_URL": "",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "PROMETHEUS_MULTIPROC_DIR": ""}
    log = tmp_path / "gunicorn.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "backend.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", "3", "--access-logfile", "-", "--no-control-socket"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return urllib.request.urlopen(f"{base}/healthz", timeout=2).status == 200
        except OSError:
            return process.poll() is not None

    try:
        wait_until(up, timeout=120, what="gunicorn to answer")
        if process.poll() is not None:
            pytest.fail(log.read_text()[-3000:])
        process.base, process.log_path = base, log
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


def healthz_count(base: str) -> float:
    request = urllib.request.Request(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    text = urllib.request.urlopen(request, timeout=10).read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "moodwatch_http_requests_total" and sample.labels.get("view") == "healthz":
                return sample.value
    return 0.0


def test_every_scrape_adds_up_all_worker_processes(gunicorn_server):
    base = gunicorn_server.base
    start = healthz_count(base)
    for _ in range(30):
        urllib.request.urlopen(f"{base}/healthz", timeout=5).read()
    # Three processes share the requests; each scrape, whichever process answers it, sees all 30.
    assert [healthz_count(base) - start for _ in range(6)] == [30] * 6
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{base}/metrics?token={TOKEN}", timeout=5)
    assert refused.value.code == 401

    lines = [line for line in gunicorn_server.log_path.read_text().splitlines() if line.startswith("{")]
    access = [json.loads(line) for line in lines if '"gunicorn.access"' in line]
    assert access and all(TOKEN not in line for line in lines)
    assert any("/metrics" in a["message"] and "?token" not in a["message"] for a in access), \
        "the access line has the path, never the query string"
