"""The device simulator's --on-device mode against a live server: the model runs on the "phone"
(inference.MoodEstimator, in the simulator's process), mood batches go to /api/v1/mood-batches/
through a faulty network, and the server stores records without ever receiving a frame."""
import json
from urllib.parse import urlparse

import pytest

from backend.devices.services import enrollment_code_issue
from backend.ingest.models import Frame, FrameBatch
from backend.moods.models import MoodRecord
from backend.patients.services import patient_create
from clients.simulator.cli import main as simulator
from clients.simulator.on_device import frame_entry
from inference import FaceMood, MoodEstimator
from tests.backend.factories import UserFactory
from tests.deploy.conftest import FaultyProxy

pytestmark = pytest.mark.django_db(transaction=True)

FAST = ["--backoff", "0.05", "--backoff-max", "0.2", "--no-progress", "--poll-timeout", "0", "--json"]


@pytest.fixture
def patient():
    clinician = UserFactory(username="dr_phone")
    return patient_create(actor=clinician, reference="P-PHONE", clinicians=[clinician], timezone_name="Europe/Paris",
                          consent=True)  # on_device: the default for a new patient


@pytest.fixture
def proxy(live_server):
    proxy = FaultyProxy(urlparse(live_server.url).port)
    yield proxy
    proxy.close()


def run(capsys, *args) -> tuple[int, dict, str]:
    code = simulator([*args, *FAST])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else {}, captured.err


def test_on_device_the_simulator_sends_mood_records_only_through_failures_exactly_once(
    proxy, patient, sample_images_dir, tmp_path, capsys
):
    code = enrollment_code_issue(patient=patient, actor=None)[1]
    state = tmp_path / "phone"
    proxy.fail_uploads_with_503 = 1  # the first mood batch never reaches the server
    proxy.drop_upload_responses = 1  # the next one is stored, but its answer is lost
    status, summary, log = run(capsys, "--server", proxy.url, "--state-dir", str(state), "--code", code,
                               "--images", str(sample_images_dir), "--on-device", "--batch-size", "60")
    assert status == 0, (summary, log)
    assert summary["frames_sent"] == 0 and summary["moods_sent"] == 4
    assert summary["batches_replayed"] == 1, "the retry after the lost answer found the batch already stored"
    batches = FrameBatch.objects.filter(patient=patient)
    assert summary["batches_sent"] == batches.count() >= 2  # the photos differ in size: one batch per size
    assert set(batches.values_list("kind", "status").distinct()) == {("moods", "done")}
    assert not Frame.objects.exists(), "no frame ever reached the server"
    records = MoodRecord.objects.filter(patient=patient)
    assert summary["records_created"] == records.count() == summary["frames_with_face"] == 4
    assert set(records.values_list("source", flat=True)) == {"device"}
    assert set(records.values_list("model_version", flat=True)) == {MoodEstimator.load().version}
    assert sum(b.bystanders for b in batches) >= 1, "two_people.jpg: the smaller face is a bystander"
    assert records.values("batch", "frame_index").distinct().count() == records.count()

    # The same folder again: nothing queued twice.
    status, summary, _ = run(capsys, "--server", proxy.url, "--state-dir", str(state), "--images",
                             str(sample_images_dir), "--on-device")
    assert status == 0 and summary["batches_sent"] == 0
    assert MoodRecord.objects.filter(patient=patient).count() == 4


def test_a_frames_patients_phone_in_on_device_mode_is_told_so(live_server, patient, sample_images_dir, tmp_path,
                                                              capsys):
    from backend.patients.services import patient_inference_mode_set

    patient_inference_mode_set(patient=patient, inference_mode="frames", actor=None)
    code = enrollment_code_issue(patient=patient, actor=None)[1]
    status, summary, log = run(capsys, "--server", live_server.url, "--state-dir", str(tmp_path / "p"), "--code",
                               code, "--images", str(sample_images_dir), "--on-device")
    assert status == 1
    assert any("inference_mode_mismatch" in error for error in summary["errors"]), log
    assert not FrameBatch.objects.exists()


def test_the_largest_face_is_the_patients_and_the_others_are_only_counted():
    small = FaceMood(box=(0, 0, 40, 40), detection_score=0.99, mood="negative",
                     probabilities={"positive": 0.0, "negative": 1.0, "neutral": 0.0, "other": 0.0})
    large = FaceMood(box=(100, 50, 120, 130), detection_score=0.8, mood="positive",
                     probabilities={"positive": 0.9, "negative": 0.05, "neutral": 0.03, "other": 0.02})
    entry = frame_entry([small, large, small], "2026-12-05T09:15:02+01:00")
    assert entry["face"]["box"] == [100, 50, 120, 130] and entry["bystanders"] == 2
    assert entry["face"]["probabilities"]["positive"] == pytest.approx(0.9)
    assert frame_entry([], "2026-12-05T09:15:02+01:00") == {
        "captured_at": "2026-12-05T09:15:02+01:00", "face": None, "bystanders": 0}
