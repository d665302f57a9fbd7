"""A whole Celery worker (main process and pool) is SIGKILLed in the middle of a batch.

Its message is never acknowledged and the batch is left `processing`. When a worker is back, the
sweeper (run by beat) re-enqueues the stale batch and it finishes exactly once: the right record
count, no duplicate (batch, frame, face), every frame deleted.
"""
import time
import uuid

import pytest
import requests

from backend.ingest.models import Frame, FrameBatch
from backend.moods.models import MoodRecord
from tests.backend.conftest import jpeg_from
from tests.support import wait_until

from .conftest import UPLOAD_URL, batch_wait_done, device_headers, multipart

pytestmark = [pytest.mark.worker, pytest.mark.slow]

FRAMES = 40


def test_a_batch_whose_whole_worker_is_killed_is_finished_once_by_the_next_worker(
    stack_factory, private_redis, device, sample_images_dir
):
    stack = stack_factory(private_redis.url).start_web()
    first = stack.start_worker()
    big = jpeg_from(sample_images_dir / "obama-720p.jpg", width=1280, quality=95)  # slow enough to catch
    batch_id = uuid.uuid4()
    data, files = multipart([big] * FRAMES, batch_id=batch_id)
    response = requests.post(stack.url + UPLOAD_URL, data=data, files=files, headers=device_headers(device), timeout=60)
    assert response.status_code == 202, response.text

    wait_until(lambda: FrameBatch.objects.filter(batch_id=batch_id, status="processing").exists(),
             timeout=60, interval=0.02, what="the worker to claim the batch")
    stack.kill_tree(first)  # SIGKILL to the worker's whole process group, mid-batch
    time.sleep(1)
    killed = FrameBatch.objects.get(batch_id=batch_id)
    assert killed.status == "processing" and MoodRecord.objects.filter(batch=killed).count() == 0

    # A worker comes back, with beat; a claim older than the processing timeout is stale.
    stack.start_worker(beat=True, SWEEP_INTERVAL_SECONDS=2, BATCH_PROCESSING_TIMEOUT_SECONDS=3)
    batch = batch_wait_done(batch_id, timeout=180, stack=stack)

    assert batch.status == "done", batch.error
    # At least the killed claim and the new worker's. On a slow machine the 3 s timeout can also
    # re-enqueue the new worker's own claim; the records below must still be written exactly once.
    assert batch.attempts >= 2, "processed again after the kill"
    records = MoodRecord.objects.filter(batch=batch)
    assert records.count() == batch.record_count >= FRAMES
    assert records.values("frame_index", "face_index").distinct().count() == records.count(), "no duplicates"
    assert set(records.values_list("frame_index", flat=True)) == set(range(FRAMES))
    assert Frame.objects.filter(batch=batch).count() == 0
    assert "sweep: SweepReport(requeued=1" in stack.logs(tail=None)
