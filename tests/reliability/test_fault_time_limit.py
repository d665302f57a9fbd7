"""A batch that runs out of time (the decode bound, docs/security.md) is failed with a reason and
never processed again. A beat-driven sweeper, with timeouts far shorter than the defaults, must
then leave it alone: one attempt, `failed`, frames deleted. (The hard limit, where the pool kills
the child, is tested in tests/backend/ingest/test_tasks.py through the hook Celery calls then.)
"""
import io
import time
import uuid

import numpy as np
import pytest
import requests
from PIL import Image

from backend.ingest.models import Frame
from backend.moods.models import MoodRecord

from .conftest import UPLOAD_URL, batch_wait_done, device_headers, multipart

pytestmark = [pytest.mark.worker, pytest.mark.slow]

FRAMES = 15  # of about 2 MB each: within the 32 MB request limit


def costly_frame(sample_images_dir) -> bytes:
    """A 3840x2160 progressive 4:4:4 JPEG of a noisy photo, at the highest quality within the frame
    size limit: a frame the upload check accepts, near the costliest to decode
    (benchmarks/bench_decode_bound.py); a batch of them takes seconds."""
    image = Image.open(sample_images_dir / "obama-720p.jpg").convert("RGB").resize((3840, 2160))
    noisy = np.asarray(image, dtype=np.float32) + np.random.default_rng(0).normal(0, 12, (2160, 3840, 3))
    image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))
    for quality in range(95, 0, -5):
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=quality, progressive=True, subsampling=0)
        if out.tell() <= 2_000_000:
            return out.getvalue()
    raise AssertionError("no quality fits")


def test_a_batch_that_runs_past_the_soft_time_limit_is_failed_with_a_reason_and_not_retried(
    stack_factory, private_redis, device, sample_images_dir
):
    # The publisher writes the limits into the message (Celery's `timelimit` header): the web
    # process and the worker both have them, as they share settings in production.
    limits = {"CELERY_TASK_SOFT_TIME_LIMIT": 1, "CELERY_TASK_TIME_LIMIT": 6}
    stack = stack_factory(private_redis.url).start_web(**limits)
    stack.start_worker(beat=True, SWEEP_INTERVAL_SECONDS=1, BATCH_QUEUED_TIMEOUT_SECONDS=1,
                       BATCH_PROCESSING_TIMEOUT_SECONDS=8, **limits)
    batch_id = uuid.uuid4()
    data, files = multipart([costly_frame(sample_images_dir)] * FRAMES, batch_id=batch_id)
    response = requests.post(stack.url + UPLOAD_URL, data=data, files=files, headers=device_headers(device), timeout=60)
    assert response.status_code == 202, response.text

    batch = batch_wait_done(batch_id, timeout=120, stack=stack)
    assert batch.status == "failed", stack.logs()
    assert batch.error.startswith("time_limit_exceeded"), batch.error
    assert batch.attempts == 1 and batch.processed_at
    assert Frame.objects.filter(batch=batch).count() == 0, "the failure path deletes the frames"
    assert MoodRecord.objects.filter(batch=batch).count() == 0
    # the whole log: the sweeper (every second) writes more after the line than an error message keeps
    assert "ran past the soft time limit" in stack.logs(tail=None)

    time.sleep(10)  # ten sweeps, past the queued and processing timeouts
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == ("failed", 1), stack.logs()
    status = requests.get(f"{stack.url}{UPLOAD_URL}{batch_id}/", headers=device_headers(device), timeout=10).json()
    assert status["status"] == "failed"
