"""PostgreSQL becomes unreachable, first under the web server, then under a worker.

The outage is a TCP proxy in front of the shared PostgreSQL, cut and restored: open connections
drop, new ones are closed at once. The shared server itself keeps running.
"""
import re
import time
import uuid

import pytest
import requests

from backend.ingest.models import Frame, FrameBatch
from backend.moods.models import MoodRecord
from tests.support import wait_until

from .conftest import UPLOAD_URL, batch_wait_done, device_headers, multipart

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def post(stack, device, data, files):
    return requests.post(stack.url + UPLOAD_URL, data=data, files=files, headers=device_headers(device), timeout=60)


def test_an_upload_while_the_database_is_down_gets_503_with_retry_after_and_a_later_retry_is_stored_once(
    stack_factory, private_redis, postgres_proxy, device, face_jpeg
):
    from .conftest import _database_url

    stack = stack_factory(private_redis.url).start_web(DATABASE_URL=_database_url(postgres_proxy.port))
    batch_id = uuid.uuid4()
    data, files = multipart([face_jpeg, face_jpeg], batch_id=batch_id)
    assert requests.get(f"{stack.url}/api/v1/frame-batches/{uuid.uuid4()}/", headers=device_headers(device),
                        timeout=10).status_code == 404, "the web server is connected through the proxy"

    postgres_proxy.cut()
    outage = [post(stack, device, data, files) for _ in range(3)]
    for response in outage:
        assert response.status_code == 503, response.text
        assert response.headers["Content-Type"] == "application/json"
        assert int(response.headers["Retry-After"]) > 0
        assert response.json()["code"] == "service_unavailable"
        assert "Traceback" not in response.text and "psycopg" not in response.text
    assert FrameBatch.objects.filter(batch_id=batch_id).count() == 0
    assert requests.get(f"{stack.url}/healthz", timeout=10).status_code == 503

    postgres_proxy.restore()
    retried = post(stack, device, data, files)
    assert retried.status_code == 202, retried.text
    again = post(stack, device, data, files)
    assert again.status_code == 200 and again.json() == retried.json()
    assert FrameBatch.objects.filter(batch_id=batch_id).count() == 1
    assert Frame.objects.filter(batch__batch_id=batch_id).count() == 2
    assert " 500 " not in stack.web_log.read_text()


def test_a_worker_that_loses_the_database_retries_with_backoff_and_completes_when_it_returns(
    stack_factory, private_redis, postgres_proxy, device, face_jpeg, two_faces_jpeg
):
    from .conftest import _database_url

    stack = stack_factory(private_redis.url).start_web()  # the web server reaches PostgreSQL directly
    worker = stack.start_worker(DATABASE_URL=_database_url(postgres_proxy.port))
    postgres_proxy.cut()

    batch_id = uuid.uuid4()
    data, files = multipart([face_jpeg, two_faces_jpeg], batch_id=batch_id)
    assert post(stack, device, data, files).status_code == 202
    log = worker.log_path
    started = time.monotonic()
    while time.monotonic() - started < 30 and len(re.findall(r"Retry in \d", log.read_text())) < 2:
        time.sleep(0.2)
    retries_while_down = re.findall(r"Retry in (\d+(?:\.\d+)?)s: OperationalError", log.read_text())
    assert retries_while_down, f"the task should retry while the database is down\n{stack.logs()}"
    assert FrameBatch.objects.get(batch_id=batch_id).status == "queued"

    postgres_proxy.restore()
    batch = batch_wait_done(batch_id, timeout=150, stack=stack)
    assert batch.status == "done", batch.error
    assert batch.attempts == 1, "nothing was claimed while the database was down"
    records = MoodRecord.objects.filter(batch=batch)
    assert records.count() == batch.record_count == 2  # one record a frame (the largest face)
    assert records.values("frame_index", "face_index").distinct().count() == records.count()
    assert Frame.objects.filter(batch=batch).count() == 0
    # The task logs its success after its last step (folding the batch into the rollup, after the
    # commit that made the batch "done"), so the line may come a moment after the status.
    wait_until(lambda: re.search(r"Task backend\.ingest\.tasks\.process_batch\[[^\]]+\] succeeded", log.read_text()),
               timeout=30, what=f"the task's success in the worker log\n{log.read_text()[-2000:]}")
