"""batch_dispatch: at most one batch per device on the broker or in a worker, the device's oldest next.

A device's backlog waits in the database, so the broker queue holds one message per busy device and
another device's batch never waits behind the whole backlog (issue 26)."""
import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.ingest.models import FrameBatch
from backend.ingest.services import (
    batch_attempt_fail,
    batch_claim,
    batch_complete,
    batch_dispatch,
    batch_dispatch_next,
    batch_sweep,
)
from tests.backend.conftest import ingest


def dispatched(*batches) -> list[bool]:
    return [FrameBatch.objects.get(pk=b.pk).enqueued_at is not None for b in batches]


def sends(callbacks) -> int:
    """The broker messages among captured on-commit callbacks (others fold roll-ups, evaluate alerts)."""
    return sum(c.__qualname__.startswith("batch_enqueue_on_commit") for c in callbacks)


def finish(batch) -> None:
    batch_claim(batch_pk=batch.pk, task_id=f"t-{batch.pk}")
    batch_complete(batch_pk=batch.pk, task_id=f"t-{batch.pk}", results=[], undecodable=0, model_version="m")


def test_a_flooding_devices_backlog_waits_in_the_database_and_others_go_straight_to_the_workers(
    device, other_device, face_jpeg, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        flood = [ingest(device, [face_jpeg] * 3) for _ in range(5)]
        other = ingest(other_device, [face_jpeg])
    assert dispatched(*flood) == [True, False, False, False, False]
    assert dispatched(other) == [True]
    assert sends(callbacks) == len(callbacks) == 2, "one broker message per device, not one per batch"


def test_when_a_devices_batch_finishes_its_oldest_waiting_batch_is_sent_and_only_that_one(
    device, face_jpeg, django_capture_on_commit_callbacks
):
    first, second, third = (ingest(device, [face_jpeg]) for _ in range(3))
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert batch_dispatch_next(batch_pk=first.pk) is None, "the first is still in flight"
        finish(first)
        assert batch_dispatch_next(batch_pk=first.pk) == second.pk
        assert batch_dispatch_next(batch_pk=first.pk) is None, "a repeated call sends nothing more"
    assert dispatched(second, third) == [True, False]
    assert sends(callbacks) == 1


def test_a_batch_being_processed_holds_back_the_devices_next(device, face_jpeg):
    first, second = ingest(device, [face_jpeg]), ingest(device, [face_jpeg])
    assert batch_claim(batch_pk=first.pk, task_id="t1")
    assert batch_dispatch(device_pk=device.pk) is None
    assert dispatched(second) == [False]


def test_a_failed_attempt_does_not_hold_up_the_devices_next_batch_and_is_retried_after_the_delay(
    device, face_jpeg, settings
):
    faulty, following = ingest(device, [face_jpeg]), ingest(device, [face_jpeg])
    batch_claim(batch_pk=faulty.pk, task_id="t1")
    batch_attempt_fail(batch_pk=faulty.pk, task_id="t1", error="RuntimeError: model unreadable")
    assert batch_dispatch_next(batch_pk=faulty.pk) == following.pk, "the next batch goes, the faulty one waits"
    finish(following)
    assert batch_dispatch_next(batch_pk=following.pk) is None, "not retried before QUEUED_TIMEOUT"
    FrameBatch.objects.filter(pk=faulty.pk).update(
        claimed_at=timezone.now() - settings.MOODWATCH["QUEUED_TIMEOUT"] - timedelta(seconds=1))
    assert batch_sweep().requeued == 1
    assert dispatched(faulty) == [True]


def test_the_sweeper_sends_a_waiting_batch_whose_dispatch_was_lost(device, face_jpeg):
    first, second = ingest(device, [face_jpeg]), ingest(device, [face_jpeg])
    finish(first)  # ... and the worker died before dispatching the next one
    assert batch_sweep().requeued == 1
    assert dispatched(second) == [True]
    assert batch_sweep().requeued == 0, "once in flight it is not sent twice"


def test_the_sweeper_does_not_send_a_second_batch_of_a_device_with_one_in_flight(device, face_jpeg):
    ingest(device, [face_jpeg])
    waiting = ingest(device, [face_jpeg])
    assert batch_sweep().requeued == 0
    assert dispatched(waiting) == [False]


@pytest.mark.django_db(transaction=True)
def test_concurrent_uploads_of_one_device_send_one_batch_only(device, face_jpeg, monkeypatch):
    """Eight uploads of one device at once (each its own transaction): the device row's lock lets
    exactly one through to the broker; the others wait in the database."""
    from django.db import connection

    from backend.ingest import services

    sent = []
    monkeypatch.setattr(services, "batch_enqueue_on_commit", lambda *, batch_pk: sent.append(batch_pk))
    start = threading.Barrier(8)

    def upload():
        try:
            start.wait()
            ingest(device, [face_jpeg])
        finally:
            connection.close()

    threads = [threading.Thread(target=upload) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert FrameBatch.objects.filter(device=device).count() == 8
    assert len(sent) == 1, f"{len(sent)} batches of one device sent to the workers at once"
    assert FrameBatch.objects.filter(device=device, enqueued_at__isnull=False).count() == 1
