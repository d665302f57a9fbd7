"""Redis is restarted and loses every queued message (it keeps nothing on disk).

Batches accepted before the restart, and one accepted while Redis was down, are all processed
afterwards through the sweeper. None stays queued.
"""
import uuid

import pytest
import requests

from backend.ingest.models import Frame, FrameBatch
from backend.moods.models import MoodRecord

from .conftest import UPLOAD_URL, batch_wait_done, device_headers, multipart

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def upload(stack, device, frames) -> uuid.UUID:
    batch_id = uuid.uuid4()
    data, files = multipart(frames, batch_id=batch_id)
    response = requests.post(stack.url + UPLOAD_URL, data=data, files=files, headers=device_headers(device), timeout=60)
    assert response.status_code == 202, response.text
    return batch_id


def test_batches_lost_with_a_redis_restart_are_all_processed_through_the_sweeper(
    stack_factory, private_redis, device, other_device, face_jpeg, two_faces_jpeg
):
    stack = stack_factory(private_redis.url).start_web()
    # No worker yet: the device's first batch waits in Redis (on the inference queue), its others in
    # the database (one batch per device on the broker, so that devices are served in turn).
    inference_queue = f"{stack.queue}-inference"
    before = [upload(stack, device, [face_jpeg, two_faces_jpeg]) for _ in range(4)]
    assert int(private_redis.command("LLEN", inference_queue)) == 1

    private_redis.kill()
    # committed; the other device has nothing in flight, so it is sent: the enqueue fails and is left to the sweeper
    during = upload(stack, other_device, [face_jpeg])
    private_redis.start()  # same port, empty
    assert int(private_redis.command("LLEN", inference_queue)) == 0, "the restart lost the queue"
    after = upload(stack, device, [face_jpeg])

    stack.start_worker(beat=True, SWEEP_INTERVAL_SECONDS=2, BATCH_QUEUED_TIMEOUT_SECONDS=3)
    batches = [batch_wait_done(batch_id, timeout=180, stack=stack) for batch_id in [*before, during, after]]

    assert [b.status for b in batches] == ["done"] * 6
    for batch in batches:
        records = MoodRecord.objects.filter(batch=batch)
        assert records.count() == batch.record_count
        assert records.values("frame_index", "face_index").distinct().count() == records.count()
    assert len({b.record_count for b in batches[:4]}) == 1, "the same frames give the same records"
    assert batches[0].record_count == 2, "one record a frame: the largest face (two_people.jpg's other is a bystander)"
    assert FrameBatch.objects.exclude(status="done").count() == 0
    assert Frame.objects.count() == 0
