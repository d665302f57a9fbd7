"""A phone retries the same upload 10 times at once (e.g. after a flaky network).

gunicorn runs 3 processes x 4 threads, so the copies really race. Result: one batch, one set of
frames and of records; every answer is 200 or 202 with the same body.
"""
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from backend.ingest.models import Frame, FrameBatch
from backend.moods.models import MoodRecord

from .conftest import UPLOAD_URL, batch_wait_done, device_headers, multipart

pytestmark = [pytest.mark.worker, pytest.mark.slow]

COPIES = 10


def test_ten_concurrent_copies_of_one_batch_store_it_once_and_all_get_the_same_answer(
    stack_factory, private_redis, device, face_jpeg, two_faces_jpeg
):
    stack = stack_factory(private_redis.url).start_web(workers=3, threads=4)
    batch_id = uuid.uuid4()
    frames = [face_jpeg, two_faces_jpeg, face_jpeg]
    data, files = multipart(frames, batch_id=batch_id)

    def send(_):
        return requests.post(stack.url + UPLOAD_URL, data=data, files=files, headers=device_headers(device), timeout=60)

    with ThreadPoolExecutor(COPIES) as pool:
        responses = list(pool.map(send, range(COPIES)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (COPIES - 1) + [202], [r.text for r in responses]
    bodies = [r.json() for r in responses]
    assert all(body == bodies[0] for body in bodies), bodies
    assert bodies[0]["batch_id"] == str(batch_id) and bodies[0]["frames"] == 3
    assert FrameBatch.objects.filter(batch_id=batch_id).count() == 1
    assert Frame.objects.filter(batch__batch_id=batch_id).count() == 3

    stack.start_worker()  # the queue now holds the one message of the one stored copy
    batch = batch_wait_done(batch_id, stack=stack)
    assert batch.status == "done" and batch.attempts == 1
    records = MoodRecord.objects.filter(batch=batch)
    assert records.count() == batch.record_count == 3  # one record a frame (the largest face)
    assert records.values("frame_index", "face_index").distinct().count() == records.count()

    with ThreadPoolExecutor(COPIES) as pool:
        late = list(pool.map(send, range(COPIES)))
    assert {r.status_code for r in late} == {200}
    assert all(r.json() == late[0].json() for r in late) and late[0].json()["status"] == "done"
    assert MoodRecord.objects.filter(batch=batch).count() == batch.record_count
    assert FrameBatch.objects.filter(batch_id=batch_id).count() == 1
