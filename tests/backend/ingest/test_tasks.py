"""Celery wiring: the sweeper is on the beat schedule, and process_batch survives lost workers."""
from datetime import timedelta

from django.conf import settings

from backend.celery import app
from backend.ingest.models import FrameBatch
from backend.ingest.tasks import process_batch, sweep_batches
from tests.backend.conftest import ingest


def test_the_sweeper_runs_on_the_beat_schedule_every_minute():
    entries = [e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == sweep_batches.name]
    assert entries and entries[0]["schedule"] <= 60
    assert sweep_batches.name in app.tasks


def test_process_batch_is_acknowledged_late_and_requeued_if_its_worker_dies():
    assert process_batch.acks_late is True
    assert process_batch.reject_on_worker_lost is True
    assert process_batch.max_retries and process_batch.max_retries <= 10


def test_the_sweeper_task_reports_what_it_did(device, face_jpeg):
    ingest(device, [face_jpeg])
    report = sweep_batches.apply().get()
    assert report == {"requeued": 0, "failed": 0, "frames_purged": 0}
    assert FrameBatch.objects.get().status == "queued"


def test_a_worker_child_loads_the_model_and_reserves_its_largest_buffers_when_it_starts():
    from celery.signals import worker_process_init

    from backend.ingest.estimator import estimator_get
    from backend.ingest.tasks import _estimator_preload
    from inference.estimator import MAX_CLASSIFY_BATCH

    # Called directly rather than by sending the signal: in a worker, Celery's Django fix-up also
    # listens to it and closes the process's database sockets, which this test process still uses.
    assert _estimator_preload in worker_process_init._live_receivers(sender=None)
    _estimator_preload()
    assert estimator_get().classifier.capacity == MAX_CLASSIFY_BATCH


def test_every_task_has_a_soft_and_a_hard_time_limit_below_the_processing_timeout():
    from backend.celery import app

    app.autodiscover_tasks(lambda: settings.INSTALLED_APPS, force=True)  # every tasks module, not only those imported
    ours = {name: task for name, task in app.tasks.items() if name.startswith("backend.")}
    assert process_batch.name in ours and len(ours) >= 6
    processing_timeout = settings.MOODWATCH["PROCESSING_TIMEOUT"].total_seconds()
    for name, task in ours.items():
        assert task.soft_time_limit and task.time_limit, name
        # below it, or a second worker would claim a batch that is still running
        assert task.soft_time_limit <= task.time_limit < processing_timeout, name


def test_a_batch_whose_worker_child_is_killed_at_the_hard_limit_is_failed_and_never_swept_again(
    device, face_jpeg, settings
):
    """Celery (5.7) calls the task's on_failure with TimeLimitExceeded in the worker's main
    process when it kills the child, and acknowledges the message: nothing would run it again."""
    from celery.exceptions import TimeLimitExceeded

    from backend.ingest.models import Frame
    from backend.ingest.services import batch_claim, batch_sweep

    batch = ingest(device, [face_jpeg])
    assert batch_claim(batch_pk=batch.pk, task_id="killed-task")
    process_batch.on_failure(TimeLimitExceeded(150), "killed-task", (batch.pk,), {}, None)
    batch.refresh_from_db()
    assert batch.status == "failed" and batch.error.startswith("time_limit_exceeded"), batch.error
    assert batch.attempts == 1 and Frame.objects.filter(batch=batch).count() == 0
    settings.MOODWATCH = {**settings.MOODWATCH, "QUEUED_TIMEOUT": timedelta(0), "PROCESSING_TIMEOUT": timedelta(0)}
    assert batch_sweep().requeued == 0
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == ("failed", 1)


def test_a_killed_child_s_redelivered_message_is_not_claimed_past_the_attempt_limit(device, face_jpeg, settings):
    """reject_on_worker_lost requeues the message of a child that died (a crash, the OOM killer);
    its redelivery carries the same task id, which may always re-claim its batch. Past the
    attempt limit it fails the batch instead of decoding it once more, and once more..."""
    from backend.ingest.services import batch_claim, batch_process
    from backend.moods.models import MoodRecord

    batch = ingest(device, [face_jpeg])
    for _ in range(settings.MOODWATCH["MAX_PROCESSING_ATTEMPTS"]):
        assert batch_claim(batch_pk=batch.pk, task_id="crashing-task"), "each redelivery re-claims"
    assert batch_process(batch_pk=batch.pk, task_id="crashing-task") is None
    batch.refresh_from_db()
    assert batch.status == "failed" and "Gave up after" in batch.error, batch.error
    assert batch.attempts == settings.MOODWATCH["MAX_PROCESSING_ATTEMPTS"]
    assert MoodRecord.objects.filter(batch=batch).count() == 0
