"""The device simulator against a live server with a real Celery worker, through a faulty network.

The server is pytest-django's live server on the test PostgreSQL database; a separate
`celery -A backend worker` process runs the real model on the uploaded photos. A proxy between
the simulator and the server cuts connections and answers 503 on purpose.
"""
import json
from urllib.parse import urlparse

import pytest

from backend.devices.services import enrollment_code_issue
from backend.ingest.models import FrameBatch
from backend.moods.models import MoodRecord
from backend.patients.services import patient_create
from clients.simulator.cli import main as simulator
from tests.backend.factories import UserFactory
from tests.deploy.conftest import FaultyProxy

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

FAST_RETRIES = ["--backoff", "0.05", "--backoff-max", "0.2", "--no-progress", "--poll-timeout", "180"]


@pytest.fixture
def patient():
    clinician = UserFactory(username="dr_sim")
    return patient_create(actor=clinician, reference="P-SIM", clinicians=[clinician], timezone_name="Europe/Paris",
                          consent=True, inference_mode="frames")


@pytest.fixture
def code(patient) -> str:
    return enrollment_code_issue(patient=patient, actor=None)[1]


@pytest.fixture
def proxy(live_server):
    proxy = FaultyProxy(urlparse(live_server.url).port)
    yield proxy
    proxy.close()


def run(capsys, *args) -> tuple[int, dict]:
    code, summary, _ = run_with_log(capsys, *args)
    return code, summary


def run_with_log(capsys, *args) -> tuple[int, dict, str]:
    """Exit status, the JSON summary (stdout) and the log (stderr) of one simulator run."""
    code = simulator([*args, "--json", *FAST_RETRIES])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def test_the_simulator_enrolls_uploads_through_failures_without_duplicates_and_sees_the_records(
    celery_worker_process, proxy, patient, code, photo_video, sample_images_dir, tmp_path, capsys
):
    state = tmp_path / "phone"
    proxy.fail_uploads_with_503 = 1  # the first upload never reaches the server
    proxy.drop_upload_responses = 1  # the next one is stored, but its answer is lost
    status, summary, log = run_with_log(capsys, "--server", proxy.url, "--state-dir", str(state), "--code", code,
                                        "--video", str(photo_video), "--batch-size", "2")

    assert status == 0, summary
    assert summary["batches_sent"] == 3 and summary["frames_sent"] == 5  # 5 s of video at 1 frame/s
    assert summary["retries"] == 2 and summary["batches_retried"] == 1, log  # one per injected fault
    assert summary["batches_replayed"] == 1, "the retry after the lost answer found the batch already stored"
    assert summary["batches_done"] == 3 and summary["frames_with_face"] == 5
    assert proxy.uploads_seen == 5

    batches = FrameBatch.objects.filter(patient=patient)
    assert sorted(str(b.batch_id) for b in batches) == sorted(summary["sent_batch_ids"]), "each batch stored once"
    records = MoodRecord.objects.filter(patient=patient)
    # 3 frames of one face, 2 of two faces: one record a frame (the larger face is the patient's), 2 bystanders
    assert summary["records_created"] == records.count() == 5
    assert sum(b.bystanders for b in batches) >= 2
    assert records.values("batch", "frame_index", "face_index").distinct().count() == records.count()
    assert sorted({r.captured_at.replace(microsecond=0) for r in records})[-1] > \
        sorted({r.captured_at for r in records})[0], "capture times advance with the video"

    # The same images folder twice: queued once only, and the saved token is reused.
    status, summary = run(capsys, "--server", proxy.url, "--state-dir", str(state), "--images", str(sample_images_dir))
    assert status == 0 and summary["batches_sent"] == 1 and summary["records_created"] >= 4
    status, summary = run(capsys, "--server", proxy.url, "--state-dir", str(state), "--images", str(sample_images_dir))
    assert status == 0 and summary["batches_sent"] == 0
    assert FrameBatch.objects.filter(patient=patient).count() == 4


def test_batches_queued_while_the_network_is_down_are_sent_by_the_next_run(
    celery_worker_process, proxy, patient, code, sample_images_dir, tmp_path, capsys
):
    state = tmp_path / "phone"
    assert run(capsys, "--server", proxy.url, "--state-dir", str(state), "--code", code)[0] == 0  # enroll only

    proxy.down = True
    status, summary = run(capsys, "--server", proxy.url, "--state-dir", str(state), "--images",
                          str(sample_images_dir), "--batch-size", "3", "--retries", "2")
    assert status == 1, "an incomplete run says so"
    assert summary["batches_sent"] == 0 and summary["batches_left_queued"] == 2 and summary["retries"] == 2
    assert len(list((state / "queue").iterdir())) == 2
    assert not FrameBatch.objects.exists()

    proxy.down = False
    status, summary = run(capsys, "--server", proxy.url, "--state-dir", str(state))
    assert status == 0
    assert summary["batches_sent"] == 2 and summary["frames_sent"] == 4 and summary["batches_done"] == 2
    assert summary["records_created"] == MoodRecord.objects.filter(patient=patient).count() >= 4  # one a frame
    assert not list((state / "queue").iterdir())


def test_a_used_enrollment_code_or_a_revoked_device_stops_the_simulator_with_a_clear_error(
    live_server, patient, code, tmp_path, capsys, sample_images_dir
):
    from backend.devices.models import Device
    from backend.devices.services import device_revoke

    assert run(capsys, "--server", live_server.url, "--state-dir", str(tmp_path / "a"), "--code", code)[0] == 0
    status, _, log = run_with_log(
        capsys, "--server", live_server.url, "--state-dir", str(tmp_path / "b"), "--code", code
    )
    assert status == 2 and "enrollment_code_used" in log

    device_revoke(device=Device.objects.get(patient=patient), actor=None)
    status, summary = run(capsys, "--server", live_server.url, "--state-dir", str(tmp_path / "a"), "--images",
                          str(sample_images_dir), "--poll-timeout", "0")
    assert status == 1 and summary["batches_left_queued"] == 1
    assert any("device_revoked" in error for error in summary["errors"])
