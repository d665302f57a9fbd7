"""batch_sweep: re-enqueue stuck batches, give up after the attempt limit, purge retained frames."""
from datetime import timedelta

from django.utils import timezone

from backend.ingest.models import Frame, FrameBatch
from backend.ingest.services import batch_attempt_fail, batch_claim, batch_sweep
from tests.backend.conftest import ingest


def age(batch, **fields):
    FrameBatch.objects.filter(pk=batch.pk).update(**fields)


def test_a_batch_stuck_in_queued_is_enqueued_again(device, face_jpeg, settings, django_capture_on_commit_callbacks):
    batch = ingest(device, [face_jpeg])
    age(batch, enqueued_at=timezone.now() - settings.MOODWATCH["QUEUED_TIMEOUT"] - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        report = batch_sweep()
    assert report.requeued == 1 and len(callbacks) == 1
    batch.refresh_from_db()
    assert timezone.now() - batch.enqueued_at < timedelta(seconds=30), "not re-enqueued again on the next sweep"


def test_a_recent_queued_batch_is_left_alone(device, face_jpeg, django_capture_on_commit_callbacks):
    ingest(device, [face_jpeg])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert batch_sweep().requeued == 0
    assert callbacks == []


def test_a_batch_stuck_in_processing_is_enqueued_again(device, face_jpeg, settings, django_capture_on_commit_callbacks):
    batch = ingest(device, [face_jpeg])
    batch_claim(batch_pk=batch.pk, task_id="lost-worker")
    age(batch, claimed_at=timezone.now() - settings.MOODWATCH["PROCESSING_TIMEOUT"] - timedelta(seconds=1))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert batch_sweep().requeued == 1
    assert len(callbacks) == 1


def test_a_batch_out_of_attempts_is_failed_with_a_reason_and_its_frames_deleted(device, face_jpeg, settings):
    batch = ingest(device, [face_jpeg])
    age(batch, attempts=settings.MOODWATCH["MAX_PROCESSING_ATTEMPTS"],
        enqueued_at=timezone.now() - timedelta(hours=1))
    assert batch_sweep().failed == 1
    batch.refresh_from_db()
    assert batch.status == "failed" and "attempts" in batch.error
    assert not Frame.objects.filter(batch=batch).exists()


def test_a_permanent_fault_is_recorded_and_retried_later_then_failed(device, face_jpeg, settings):
    batch = ingest(device, [face_jpeg])
    batch_claim(batch_pk=batch.pk, task_id="t1")
    batch_attempt_fail(batch_pk=batch.pk, task_id="t1", error="RuntimeError: model file unreadable")
    batch.refresh_from_db()
    assert batch.status == "queued" and batch.error.startswith("RuntimeError")
    age(batch, attempts=settings.MOODWATCH["MAX_PROCESSING_ATTEMPTS"] - 1)
    batch_claim(batch_pk=batch.pk, task_id="t2")
    batch_attempt_fail(batch_pk=batch.pk, task_id="t2", error="RuntimeError: still unreadable")
    batch.refresh_from_db()
    assert batch.status == "failed" and batch.error == "RuntimeError: still unreadable"


def test_retained_frames_are_purged_once_their_window_is_over(device, face_jpeg, settings):
    settings.MOODWATCH = {**settings.MOODWATCH, "FRAME_RETENTION": timedelta(hours=2)}
    batch = ingest(device, [face_jpeg])
    age(batch, status="done", processed_at=timezone.now() - timedelta(hours=1))
    assert batch_sweep().frames_purged == 0
    age(batch, processed_at=timezone.now() - timedelta(hours=3))
    assert batch_sweep().frames_purged == 1
    batch.refresh_from_db()
    assert batch.frames_deleted_at is not None and not Frame.objects.filter(batch=batch).exists()
