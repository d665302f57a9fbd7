"""`make run` (tasks in process): a batch left queued or processing by a killed server is processed
again when the next server starts, not 10 minutes later, and its frames go."""
import pytest

from backend.core import scheduler
from backend.core.scheduler import EmbeddedScheduler, Job
from backend.ingest.models import Frame, FrameBatch
from backend.ingest.services import batch_claim, batch_recover_at_start
from backend.moods.models import MoodRecord
from tests.backend.conftest import ingest


def left_by_a_killed_server(device, frames: list[bytes]) -> FrameBatch:
    """Claimed a moment ago by a run that will never finish: the server died mid-batch."""
    batch = ingest(device, frames)
    assert batch_claim(batch_pk=batch.pk, task_id="killed-server-task")
    return batch


def test_the_start_up_recovery_lands_batches_a_killed_server_left(
    device, face_jpeg, two_faces_jpeg, settings, eager_tasks, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    processing = left_by_a_killed_server(device, [face_jpeg, two_faces_jpeg])
    queued = ingest(device, [face_jpeg])  # stored, then the server died before processing it
    job = scheduler._recovery_at_start()
    assert job is not None
    with django_capture_on_commit_callbacks(execute=True):
        job.run()  # what the scheduler's thread runs first
    for batch in (processing, queued):
        batch.refresh_from_db()
        assert batch.status == "done", batch.error
        assert not Frame.objects.filter(batch=batch).exists(), "frames deleted as soon as the batch lands"
    assert processing.attempts == 2, "the killed run counts as an attempt"
    assert MoodRecord.objects.filter(batch=processing).count() == 2  # one face, then the largest of two


def test_a_batch_out_of_attempts_is_failed_at_start_not_retried(device, face_jpeg, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    batch = left_by_a_killed_server(device, [face_jpeg])
    FrameBatch.objects.filter(pk=batch.pk).update(attempts=settings.MOODWATCH["MAX_PROCESSING_ATTEMPTS"])
    assert batch_recover_at_start().failed == 1
    batch.refresh_from_db()
    assert batch.status == "failed" and "attempts" in batch.error
    assert not Frame.objects.filter(batch=batch).exists()


def test_with_a_broker_it_never_runs_since_a_live_worker_may_hold_the_batch(device, face_jpeg, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    batch = left_by_a_killed_server(device, [face_jpeg])
    assert scheduler._recovery_at_start() is None
    with pytest.raises(RuntimeError):
        batch_recover_at_start()
    batch.refresh_from_db()
    assert batch.status == "processing" and batch.claimed_by_task == "killed-server-task"


def test_the_scheduler_runs_the_recovery_first_in_its_thread():
    calls = []
    runner = EmbeddedScheduler([Job("often", 3600, lambda: calls.append("often"))],
                               at_start=Job("recover", 0, lambda: calls.append("recover")))
    runner.start()
    try:
        from tests.support import wait_until

        wait_until(lambda: calls, timeout=10, interval=0.01, what="the start-up job")
    finally:
        runner.stop()
    assert calls[0] == "recover" and calls.count("recover") == 1
