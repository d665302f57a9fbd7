"""A real Celery worker process exporting its own metrics (METRICS_WORKER_PORT, multiprocess folder,
bearer token) and logging JSON lines: after an upload it processed, its counters moved by what it did,
and its lines about the batch carry the request id of the upload that brought it."""
import json
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from backend.ingest.models import FrameBatch
from tests.backend.conftest import batch_payload, celery_worker_running
from tests.support import free_port, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

TOKEN = "worker-metrics-token-3f9a1c7e-long-random"
REQUEST_ID = "phone-upload-42-abcdef"


@pytest.fixture
def exporting_worker(django_db_setup, tmp_path):
    """`celery -A backend worker` on a private queue, exporting its metrics on a port of its own."""
    port = free_port()
    with celery_worker_running(
        log=tmp_path / "worker.log", concurrency=2, METRICS_TOKEN=TOKEN, METRICS_WORKER_PORT=str(port),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"), LOG_FORMAT="json",
    ) as process:
        process.metrics_port = port
        yield process


def scrape(port: int, token: str | None = TOKEN) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as response:
        text = response.read().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_the_worker_exports_what_it_processed_and_logs_the_uploads_request_id(
    exporting_worker, device_client, face_jpeg, two_faces_jpeg,
):
    port = exporting_worker.metrics_port
    before = scrape(port)
    for wrong in (None, "not-the-token"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            scrape(port, wrong)
        assert refused.value.code == 401 and b"moodwatch_" not in refused.value.read()

    response = device_client.post("/api/v1/frame-batches/", batch_payload([face_jpeg, two_faces_jpeg]),
                                  format="multipart", HTTP_X_REQUEST_ID=REQUEST_ID)
    assert response.status_code == 202, response.content
    batch = wait_until(lambda: FrameBatch.objects.filter(status__in=["done", "failed"]).first(), timeout=120,
                       what="the worker to finish the batch")
    assert batch.status == "done", batch.error

    def moved(name, **labels):
        key = (name, tuple(sorted(labels.items())))
        return after.get(key, 0.0) - before.get(key, 0.0)

    after = wait_until(lambda: (s := scrape(port)) and s.get(("moodwatch_batches_total", (("status", "done"),)))
                       and s, timeout=30, what="the worker's counters")
    assert moved("moodwatch_batches_total", status="done") == 1
    assert moved("moodwatch_batches_total", status="failed") == 0
    assert moved("moodwatch_records_total", source="server") == batch.record_count >= 2  # one face a frame
    assert moved("moodwatch_batch_latency_seconds_count") == 1
    assert after.get(("moodwatch_model_info", (("version", batch.model_version),))) == 1

    def log_lines():
        return [json.loads(line) for line in exporting_worker.log_path.read_text().splitlines()
                if line.startswith("{")]

    # the worker logs the task's success just after the batch's transaction committed
    def task_done(line) -> bool:
        return "process_batch[" in line["message"] and "succeeded" in line["message"]

    lines = wait_until(lambda: (found := log_lines()) and any(map(task_done, found)) and found,
                       timeout=30, what="the task's last line")
    landed = [line for line in lines if line["message"].startswith(f"batch {batch.pk} landed")]
    assert landed and landed[0]["request_id"] == REQUEST_ID, landed
    # the task's own lines (the main process's "received" comes before the task runs, in another process)
    done = [line for line in lines if task_done(line)]
    assert done and done[0]["request_id"] == REQUEST_ID, done
