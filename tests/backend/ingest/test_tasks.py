"""Celery wiring: the sweeper is on the beat schedule, and process_batch survives lost workers."""
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
