"""batch_process: the real model turns stored frames into one record per frame with a face (the
largest face: the patient's; the others are counted as bystanders), exactly once."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.ingest.models import Frame, FrameBatch
from backend.ingest.services import batch_claim, batch_process
from backend.moods.models import MoodRecord
from backend.rollups.models import CaptureSlotCount
from tests.backend.conftest import ingest


def test_a_batch_becomes_one_record_per_frame_with_a_face_and_its_frames_are_deleted(
    device, face_jpeg, two_faces_jpeg, faceless_jpeg
):
    batch = ingest(device, [face_jpeg, two_faces_jpeg, faceless_jpeg])
    batch_process(batch_pk=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "done"
    assert (batch.frame_count, batch.frames_with_face, batch.frames_undecodable) == (3, 2, 0)
    records = MoodRecord.objects.filter(batch=batch)
    assert batch.record_count == records.count() == 2
    assert set(records.values_list("frame_index", flat=True)) == {0, 1}
    assert set(records.values_list("face_index", flat=True)) == {0}
    assert batch.bystanders == 1, "the second person in two_people.jpg is counted, not recorded"
    from django.db.models import Sum

    assert CaptureSlotCount.objects.filter(patient=batch.patient).aggregate(n=Sum("bystanders"))["n"] == 1, \
        "coverage counts the bystander by its frame's capture time"
    assert not Frame.objects.filter(batch=batch).exists()
    assert batch.frames_deleted_at is not None and batch.processed_at is not None
    frame_times = {r.frame_index: r.captured_at for r in records}
    assert frame_times[0] < frame_times[1], "each record carries its own frame's timestamp"


def test_records_store_the_models_probabilities_box_and_version(device, face_jpeg):
    from backend.ingest.estimator import estimator_get

    batch = ingest(device, [face_jpeg])
    batch_process(batch_pk=batch.pk)
    (face,) = estimator_get().estimate_batch([face_jpeg])[0]
    record = MoodRecord.objects.get(batch=batch)
    assert record.mood == face.mood
    assert record.p_positive == pytest.approx(face.probabilities["positive"])
    assert (record.box_x, record.box_y, record.box_w, record.box_h) == tuple(face.box)
    assert record.model_version == estimator_get().version == FrameBatch.objects.get().model_version


def test_running_a_finished_batch_again_changes_nothing(device, face_jpeg):
    batch = ingest(device, [face_jpeg, face_jpeg])
    batch_process(batch_pk=batch.pk)
    before = list(MoodRecord.objects.values_list("id", flat=True))
    assert batch_process(batch_pk=batch.pk) is None
    assert list(MoodRecord.objects.values_list("id", flat=True)) == before


def test_an_undecodable_frame_is_skipped_and_counted_not_a_failed_batch(device, face_jpeg):
    batch = ingest(device, [face_jpeg, face_jpeg])
    # Corrupt one stored frame (e.g. storage damage): validation would never have let it in.
    Frame.objects.filter(batch=batch, index=1).update(data=b"\xff\xd8 garbage that is not a jpeg")
    batch_process(batch_pk=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "done"
    assert batch.frames_undecodable == 1
    assert batch.frames_with_face == 1
    assert set(MoodRecord.objects.values_list("frame_index", flat=True)) == {0}


def test_the_capture_coverage_counts_every_frame_by_its_capture_slot_including_the_undecodable(
    device, face_jpeg, faceless_jpeg
):
    batch = ingest(device, [face_jpeg, faceless_jpeg, face_jpeg])
    Frame.objects.filter(batch=batch, index=2).update(data=b"\xff\xd8 garbage that is not a jpeg")
    batch_process(batch_pk=batch.pk)
    slots = CaptureSlotCount.objects.filter(patient_id=batch.patient_id)
    assert sum(s.frames for s in slots) == 3
    assert sum(s.frames_processed for s in slots) == 2
    assert sum(s.frames_with_face for s in slots) == 1


def test_a_redelivered_task_reclaims_the_batch_it_was_processing(device, face_jpeg):
    batch = ingest(device, [face_jpeg])
    assert batch_claim(batch_pk=batch.pk, task_id="task-A")  # worker killed after claiming
    batch_process(batch_pk=batch.pk, task_id="task-A")  # the same message, redelivered
    batch.refresh_from_db()
    assert batch.status == "done" and batch.attempts == 2
    assert MoodRecord.objects.filter(batch=batch).count() == 1


def test_another_task_cannot_take_a_batch_that_is_being_processed(device, face_jpeg):
    batch = ingest(device, [face_jpeg])
    assert batch_claim(batch_pk=batch.pk, task_id="task-A")
    assert batch_process(batch_pk=batch.pk, task_id="task-B") is None
    assert FrameBatch.objects.get().status == "processing"
    assert not MoodRecord.objects.exists()


def test_a_stale_claim_is_taken_over_and_the_batch_finished_once(device, face_jpeg, settings):
    batch = ingest(device, [face_jpeg])
    assert batch_claim(batch_pk=batch.pk, task_id="task-A")
    stale = timezone.now() - settings.MOODWATCH["PROCESSING_TIMEOUT"] - timedelta(seconds=1)
    FrameBatch.objects.filter(pk=batch.pk).update(claimed_at=stale)
    batch_process(batch_pk=batch.pk, task_id="task-B")
    assert FrameBatch.objects.get().status == "done"
    assert batch_process(batch_pk=batch.pk, task_id="task-A") is None  # the slow original wakes up late
    assert MoodRecord.objects.count() == 1


def test_frames_are_kept_for_the_retention_window_when_configured(device, face_jpeg, settings):
    settings.MOODWATCH = {**settings.MOODWATCH, "FRAME_RETENTION": timedelta(hours=2)}
    batch = ingest(device, [face_jpeg])
    batch_process(batch_pk=batch.pk)
    batch.refresh_from_db()
    assert batch.status == "done" and batch.frames_deleted_at is None
    assert Frame.objects.filter(batch=batch).count() == 1
