"""Deleting a patient's data while a real Celery worker lands one of their batches: deletion wins.

Each trial uploads a batch through the device API, then confirms "Delete data" on the dashboard at
a different moment of the batch's life: while it is queued, while the worker processes it, and as
soon as it is done (when the roll-up fold and the alert evaluation after the landing run). Every
trial must answer the deletion with its redirect (never a 500), leave nothing of the patient's
data, and leave no database error in the worker's log.
"""
import re
import time

import pytest

from backend.alerts.models import Alert
from backend.audit.models import AuditAction, AuditEvent
from backend.ingest.models import Frame, FrameBatch
from backend.moods.models import MoodRecord
from backend.rollups.models import CaptureSlotCount, MoodSlotCount, RolledUpBatch, UploadSlotCount
from tests.backend.conftest import batch_payload, recent

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

UPLOAD = "/api/v1/frame-batches/"
TRIALS = 24
# When the deletion is confirmed, cycled through the trials: right after the upload's 202; once the
# worker has claimed the batch, after a pause that grows with the trial; as soon as the batch is done.
MOMENTS = ("queued", "processing", "done")
FINISHED = re.compile(r"Task backend\.ingest\.tasks\.process_batch\[[^\]]+\] (succeeded|raised|retry)")


def left_of(patient) -> dict:
    return {
        "records": MoodRecord.objects.filter(patient=patient).count(),
        "batches": FrameBatch.objects.filter(patient=patient).count(),
        "frames": Frame.objects.filter(batch__patient=patient).count(),
        "rolled-up batches": RolledUpBatch.objects.count(),
        "mood slots": MoodSlotCount.objects.filter(patient=patient).count(),
        "upload slots": UploadSlotCount.objects.filter(patient=patient).count(),
        "capture slots": CaptureSlotCount.objects.filter(patient=patient).count(),
        "alerts": Alert.objects.filter(patient=patient).count(),
    }


def status_of(batch_id) -> str | None:
    return FrameBatch.objects.filter(batch_id=batch_id).values_list("status", flat=True).first()


def test_a_deletion_that_meets_a_landing_batch_always_wins(
    celery_worker_process, device_client, clinician_web, patient, face_jpeg, two_faces_jpeg, wait_for
):
    log = celery_worker_process.log_path
    start_of_log = len(log.read_text())  # the worker is shared with other tests: read only this test's lines
    finished_before = len(FINISHED.findall(log.read_text()))
    delete_url = f"/patients/{patient.pk}/delete-data/"
    landed_first = dropped = 0
    started = time.monotonic()
    for trial in range(TRIALS):
        moment = MOMENTS[trial % len(MOMENTS)]
        step_one = clinician_web.post(delete_url, {"step": "1", "requested": "yes"})
        assert step_one.status_code == 200, step_one.content
        payload = batch_payload([face_jpeg, two_faces_jpeg] * 4, captured_at=[recent(80 - i) for i in range(8)])
        assert device_client.post(UPLOAD, payload, format="multipart").status_code == 202

        batch_id = payload["batch_id"]
        if moment == "processing":
            wait_for(lambda b=batch_id: status_of(b) != "queued", timeout=60, interval=0.002,
                     what="the worker to claim the batch")
            time.sleep(0.01 * (trial // len(MOMENTS)))  # 0 to 70 ms into the processing
        elif moment == "done":
            wait_for(lambda b=batch_id: status_of(b) in ("done", "failed"), timeout=60, interval=0.002,
                     what="the worker to land the batch")
        landed = status_of(batch_id) == "done"
        response = clinician_web.post(
            delete_url, {"step": "2", "token": step_one.context["token"], "reference": patient.reference})
        assert response.status_code == 302, f"trial {trial} ({moment}): {response.status_code}"
        deleted = AuditEvent.objects.filter(action=AuditAction.DATA_DELETE).order_by("-pk").first()
        landed_first += landed
        dropped += deleted.detail["records"] == 0

        # Whatever the worker was doing with the batch, it has finished (or given up) before we look.
        tasks = finished_before + trial + 1
        wait_for(lambda n=tasks: len(FINISHED.findall(log.read_text())) >= n, timeout=60,
                 interval=0.01, what=f"the worker to finish trial {trial}'s batch")
        time.sleep(0.05)  # the fold and alert hand-off run right after the task's commit
        assert set(left_of(patient).values()) == {0}, f"trial {trial} ({moment}): {left_of(patient)}"

    worker_log = log.read_text()[start_of_log:]
    for fault in ("IntegrityError", "ForeignKeyViolation", "DeadlockDetected", "DoesNotExist", "Traceback"):
        assert fault not in worker_log, f"{fault} in the worker's log:\n{worker_log[-4000:]}"
    assert AuditEvent.objects.filter(action=AuditAction.DATA_DELETE, patient=patient).count() == TRIALS
    # Both outcomes were exercised: batches deleted after landing, and batches the deletion got to first.
    assert landed_first and dropped, (landed_first, dropped)
    print(f"{TRIALS} trials in {time.monotonic() - started:.1f} s: {landed_first} landed before the deletion, "
          f"{dropped} deleted before their records were stored")


def test_an_upload_that_meets_a_deletion_is_stored_whole_before_it_or_after_it(
    celery_worker_process, device_client, clinician_web, patient, face_jpeg, wait_for
):
    """The upload and the deletion are sent at the same moment from two threads: the upload is either
    deleted with the rest, or stored after the deletion, complete, and processed; neither answers 5xx."""
    import threading

    from django.db import connection

    log = celery_worker_process.log_path
    start_of_log = len(log.read_text())
    delete_url = f"/patients/{patient.pk}/delete-data/"
    outcomes = []
    for trial in range(10):
        token = clinician_web.post(delete_url, {"step": "1", "requested": "yes"}).context["token"]
        payload = batch_payload([face_jpeg] * 6, captured_at=[recent(80 - i) for i in range(6)])
        together, answers = threading.Barrier(2), {}

        def upload(payload=payload, together=together, answers=answers):
            try:
                together.wait()
                answers["upload"] = device_client.post(UPLOAD, payload, format="multipart").status_code
            finally:
                connection.close()  # this thread's own connection

        uploader = threading.Thread(target=upload)
        uploader.start()
        together.wait()
        deleted = clinician_web.post(delete_url, {"step": "2", "token": token, "reference": patient.reference})
        uploader.join(timeout=60)
        assert (answers.get("upload"), deleted.status_code) == (202, 302), f"trial {trial}"

        batch = FrameBatch.objects.filter(batch_id=payload["batch_id"]).first()
        if batch is None:
            outcomes.append("deleted with the rest")
            continue
        outcomes.append("stored after the deletion")
        wait_for(lambda b=batch: FrameBatch.objects.get(pk=b.pk).status == "done", timeout=60, interval=0.01,
                 what=f"the worker to land trial {trial}'s batch")
        batch.refresh_from_db()
        assert batch.frame_count == 6 and batch.record_count == MoodRecord.objects.filter(batch=batch).count() == 6
        assert not Frame.objects.filter(batch=batch).exists()

    worker_log = log.read_text()[start_of_log:]
    for fault in ("IntegrityError", "ForeignKeyViolation", "DeadlockDetected", "Traceback"):
        assert fault not in worker_log, f"{fault} in the worker's log:\n{worker_log[-4000:]}"
    print("outcomes:", {outcome: outcomes.count(outcome) for outcome in set(outcomes)})
