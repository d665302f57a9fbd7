"""Upload -> real Celery worker process -> mood records in PostgreSQL -> frames deleted.

Real photos from ../shared/images, the real model, the real broker (Redis) and database.
"""
import uuid

import pytest

from backend.ingest.models import Frame, FrameBatch
from backend.moods.models import MoodRecord
from tests.backend.conftest import batch_payload, recent

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

URL = "/api/v1/frame-batches/"


def batch_status(client, batch_id) -> dict:
    response = client.get(f"{URL}{batch_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def wait_until_finished(client, batch_id, worker, wait_for) -> dict:
    try:
        return wait_for(
            lambda: (s := batch_status(client, batch_id))["status"] in ("done", "failed") and s,
            timeout=120, what=f"the worker to finish batch {batch_id}",
        )
    except AssertionError as error:
        raise AssertionError(f"{error}\n--- worker log ---\n{worker.log_path.read_text()[-3000:]}") from None


def test_an_uploaded_batch_is_turned_into_mood_records_by_a_worker_and_its_frames_deleted(
    celery_worker_process, device_client, patient, face_jpeg, two_faces_jpeg, face_png, wait_for
):
    frames = [face_jpeg, two_faces_jpeg, face_png, face_jpeg]
    times = [recent(40 - i) for i in range(len(frames))]
    payload = batch_payload(frames, captured_at=times)
    response = device_client.post(URL, payload, format="multipart")
    assert response.status_code == 202, response.content

    done = wait_until_finished(device_client, payload["batch_id"], celery_worker_process, wait_for)
    assert done["status"] == "done", done
    assert done["frames"] == 4
    assert done["frames_with_face"] == 4
    records = MoodRecord.objects.filter(patient=patient).order_by("frame_index", "face_index")
    assert done["records"] == records.count()
    assert records.count() == 4, "one record per frame: the largest face of two_people.jpg, not both"
    assert {r.face_index for r in records} == {0}
    batch = FrameBatch.objects.get(batch_id=payload["batch_id"])
    assert batch.bystanders == 1
    assert batch.model_version and all(r.model_version == batch.model_version for r in records)
    assert batch.processed_at and batch.frames_deleted_at
    assert Frame.objects.filter(batch=batch).count() == 0, "no face image outlives its processing"
    for record in records:
        probabilities = [record.p_positive, record.p_negative, record.p_neutral, record.p_other]
        assert abs(sum(probabilities) - 1) < 1e-3
        assert record.mood in ("positive", "negative", "neutral", "other")
        assert record.box_w > 0 and record.box_h > 0 and 0 < record.detection_score <= 1
    from datetime import datetime

    assert records.get(frame_index=3).captured_at == datetime.fromisoformat(times[3])


def test_a_retried_upload_after_processing_returns_the_results_and_adds_nothing(
    celery_worker_process, device_client, patient, face_jpeg, wait_for
):
    batch_id, times = uuid.uuid4(), [recent(20), recent(10)]
    first = device_client.post(URL, batch_payload([face_jpeg, face_jpeg], batch_id=batch_id, captured_at=times))
    assert first.status_code == 202
    assert wait_until_finished(device_client, batch_id, celery_worker_process, wait_for)["status"] == "done"
    records_before = MoodRecord.objects.count()

    again = device_client.post(URL, batch_payload([face_jpeg, face_jpeg], batch_id=batch_id, captured_at=times))
    assert again.status_code == 200
    assert again.json()["status"] == "done"
    assert again.json()["records"] == records_before == 2
    assert FrameBatch.objects.count() == 1
    assert Frame.objects.count() == 0, "a replay stores no frames"
    assert MoodRecord.objects.count() == records_before


def _pool_children(worker) -> list[int]:
    from pathlib import Path

    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def test_a_batch_whose_worker_process_is_killed_is_redelivered_and_finished_once(
    celery_worker_process, device_client, patient, sample_images_dir, wait_for
):
    import os
    import signal
    import time

    from tests.backend.conftest import jpeg_from

    big = jpeg_from(sample_images_dir / "obama-720p.jpg", width=1280, quality=95)
    frames = [big] * 60  # slow enough to be caught mid-processing
    payload = batch_payload(frames)
    children_before = _pool_children(celery_worker_process)
    assert device_client.post(URL, payload, format="multipart").status_code == 202

    batch = wait_for(
        lambda: FrameBatch.objects.filter(batch_id=payload["batch_id"], status="processing").first(),
        timeout=60, interval=0.01, what="the worker to claim the batch",
    )
    for pid in children_before:
        os.kill(pid, signal.SIGKILL)  # the pool process dies mid-batch; its message is not acked
    time.sleep(0.5)

    done = wait_until_finished(device_client, payload["batch_id"], celery_worker_process, wait_for)
    assert done["status"] == "done", done
    batch.refresh_from_db()
    assert batch.attempts >= 2, "processed again after the kill"
    records = MoodRecord.objects.filter(batch=batch)
    assert done["records"] == records.count() >= 60
    assert records.values("frame_index", "face_index").distinct().count() == records.count(), "no duplicates"
    assert set(records.values_list("frame_index", flat=True)) == set(range(60))
    assert "WorkerLostError" in celery_worker_process.log_path.read_text()


def test_a_frame_of_two_people_gives_one_record_for_the_largest_face_and_one_bystander(
    celery_worker_process, device_client, patient, two_faces_jpeg, wait_for
):
    """Issue 29 part 2: the largest face is the patient's; the other person gets no mood record."""
    from inference import MoodEstimator

    payload = batch_payload([two_faces_jpeg])
    assert device_client.post(URL, payload, format="multipart").status_code == 202
    done = wait_until_finished(device_client, payload["batch_id"], celery_worker_process, wait_for)
    assert (done["status"], done["frames_with_face"], done["records"]) == ("done", 1, 1)
    batch = FrameBatch.objects.get(batch_id=payload["batch_id"])
    assert batch.bystanders == 1
    record = MoodRecord.objects.get(batch=batch)
    assert (record.frame_index, record.face_index) == (0, 0)
    estimator = MoodEstimator.load()
    faces = estimator.estimate(two_faces_jpeg)  # every face, as the detector sees them
    assert len(faces) == 2
    largest = max(faces, key=lambda f: f.box[2] * f.box[3])
    assert (record.box_x, record.box_y, record.box_w, record.box_h) == tuple(largest.box)
    assert record.mood == estimator.estimate_patient_batch([two_faces_jpeg])[0].face.mood
