"""POST /api/v1/mood-batches/: a phone's own mood records. Acceptance, idempotency, the personas, the
inference-mode rule in both directions, every refusal of issue 28 (nothing stored on any), and the
landing: roll-ups, coverage and alerts exactly as for a processed frame batch."""
import json
import math
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone

from backend.alerts.models import Alert, AlertThresholds
from backend.audit.models import AuditEvent
from backend.ingest.models import Frame, FrameBatch
from backend.ingest.selectors import model_versions_published
from backend.ingest.services import FrameResult, batch_complete
from backend.moods.models import MoodRecord
from backend.rollups.models import CaptureSlotCount, MoodSlotCount, UploadSlotCount
from backend.rollups.selectors import capture_coverage, mood_buckets
from inference import MoodEstimator
from tests.backend.conftest import batch_payload, client_with_device_token
from tests.backend.factories import DeviceFactory, PatientFactory

URL = "/api/v1/mood-batches/"
VERSION = MoodEstimator.load().version  # the served model's, as the workers load it


@pytest.fixture
def on_device_patient(clinician):
    return PatientFactory(reference="P-PHONE", clinicians=[clinician], inference_mode="on_device")


@pytest.fixture
def phone(on_device_patient):
    return DeviceFactory(patient=on_device_patient)


@pytest.fixture
def phone_client(phone):
    return client_with_device_token(phone.token)


def moment(seconds_ago: float = 60) -> str:
    return (timezone.now() - timedelta(seconds=seconds_ago)).astimezone().isoformat()


def face(mood: str = "positive", *, box=(100, 80, 120, 140), score=0.93) -> dict:
    probabilities = {m: 0.1 for m in ("positive", "negative", "neutral", "other")}
    probabilities[mood] = 0.7
    return {"box": list(box), "detection_score": score, "probabilities": probabilities}


def mood_batch(n: int = 3, *, faces=None, batch_id=None, version=VERSION, frame_size=(640, 480), start=120) -> dict:
    faces = faces if faces is not None else [face() for _ in range(n)]
    return {
        "batch_id": str(batch_id or uuid.uuid4()),
        "model_version": version,
        "frame_size": list(frame_size),
        "frames": [{"captured_at": moment(start - i), "face": f, "bystanders": 0} for i, f in enumerate(faces)],
    }


def post(client, body):
    raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(URL, raw, content_type="application/json")


def assert_nothing_stored():
    assert FrameBatch.objects.count() == 0
    assert MoodRecord.objects.count() == 0
    assert Frame.objects.count() == 0
    assert CaptureSlotCount.objects.count() == 0


def assert_refused(response, field, code, index=None):
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "validation_error", body
    matches = [e for e in body["errors"] if e["field"] == field and e["code"] == code]
    assert matches, body
    assert matches[0].get("index") == index, body
    assert matches[0]["detail"]
    assert_nothing_stored()


# --- accepted ----------------------------------------------------------------------------------------

def test_a_valid_batch_lands_done_with_one_device_record_per_face(phone_client, phone, on_device_patient):
    body = mood_batch(faces=[face("positive"), None, face("negative", box=(0, 0, 640, 480))])
    body["frames"][1]["bystanders"] = 2
    response = post(phone_client, body)
    assert response.status_code == 201, response.content
    assert response.json() == {"batch_id": body["batch_id"], "status": "done", "frames": 3,
                               "frames_with_face": 2, "records": 2}
    batch = FrameBatch.objects.get()
    assert (batch.kind, batch.status, batch.device, batch.patient) == ("moods", "done", phone, on_device_patient)
    assert (batch.frame_count, batch.frames_with_face, batch.record_count, batch.bystanders) == (3, 2, 2, 2)
    assert batch.model_version == VERSION and len(batch.content_digest) == 64
    records = list(MoodRecord.objects.order_by("frame_index"))
    assert [(r.frame_index, r.mood, r.source, r.model_version) for r in records] == [
        (0, "positive", "device", VERSION), (2, "negative", "device", VERSION)]
    assert (records[1].box_x, records[1].box_y, records[1].box_w, records[1].box_h) == (0, 0, 640, 480)
    assert records[0].p_positive == pytest.approx(0.7) and records[0].detection_score == pytest.approx(0.93)
    assert Frame.objects.count() == 0


def test_the_mood_is_the_most_probable_one_and_a_tie_goes_to_the_classifiers_first(phone_client):
    tied = {"box": [1, 1, 50, 50], "detection_score": 0.5,
            "probabilities": {"positive": 0.1, "negative": 0.4, "neutral": 0.4, "other": 0.1}}
    assert post(phone_client, mood_batch(faces=[tied, face("other")])).status_code == 201
    assert list(MoodRecord.objects.order_by("frame_index").values_list("mood", flat=True)) == ["negative", "other"]


def test_the_published_version_is_the_served_estimators():
    assert model_versions_published() == {VERSION}


def test_a_box_touching_the_frames_edges_and_floats_are_accepted(phone_client):
    body = mood_batch(faces=[face(box=(0.4, 0.0, 639.6, 480.0))])
    assert post(phone_client, body).status_code == 201
    record = MoodRecord.objects.get()
    assert (record.box_x, record.box_w) == (0, 640)


def test_a_replay_answers_200_with_the_same_body_and_stores_nothing_more(phone_client):
    body = mood_batch()
    first = post(phone_client, body)
    assert first.status_code == 201
    # the same content, keys in another order and spaced otherwise: the same batch
    again = post(phone_client, json.dumps(dict(reversed(list(body.items()))), indent=2))
    assert again.status_code == 200 and again.json() == first.json()
    assert FrameBatch.objects.count() == 1 and MoodRecord.objects.count() == 3
    assert sum(CaptureSlotCount.objects.values_list("frames", flat=True)) == 3, "coverage counted once"


def test_the_same_id_with_other_content_is_a_409(phone_client):
    body = mood_batch()
    assert post(phone_client, body).status_code == 201
    body["frames"][0]["face"]["probabilities"] = {"positive": 0.1, "negative": 0.7, "neutral": 0.1, "other": 0.1}
    response = post(phone_client, body)
    assert response.status_code == 409 and response.json()["code"] == "batch_id_conflict"
    assert MoodRecord.objects.filter(mood="negative").count() == 0


def test_another_device_may_use_the_same_batch_id(phone_client, on_device_patient):
    body = mood_batch()
    assert post(phone_client, body).status_code == 201
    second = client_with_device_token(DeviceFactory(patient=on_device_patient).token)
    assert post(second, body).status_code == 201
    assert FrameBatch.objects.count() == 2


# --- personas ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("persona", ["unknown_device_client", "revoked_device_client"])
def test_unknown_and_revoked_devices_get_401(request, persona):
    response = post(request.getfixturevalue(persona), mood_batch())
    assert response.status_code == 401, response.content
    assert_nothing_stored()


def test_no_token_is_401(db):
    from rest_framework.test import APIClient

    assert post(APIClient(), mood_batch()).status_code == 401
    assert_nothing_stored()


def test_a_clinician_session_is_not_a_device(clinician):
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(clinician)
    assert post(client, mood_batch()).status_code in (401, 403)
    assert_nothing_stored()


def test_each_device_lands_records_on_its_own_patient_only(phone_client, on_device_patient, other_patient):
    other_patient.inference_mode = "on_device"
    other_patient.save()
    other = client_with_device_token(DeviceFactory(patient=other_patient).token)
    assert post(other, mood_batch(2)).status_code == 201
    assert post(phone_client, mood_batch(3)).status_code == 201
    assert MoodRecord.objects.filter(patient=other_patient).count() == 2
    assert MoodRecord.objects.filter(patient=on_device_patient).count() == 3


@pytest.mark.parametrize(("change", "code"), [
    ({"is_active": False}, "patient_inactive"),
    ({"consent_recorded_at": None}, "consent_missing"),
])
def test_an_inactive_or_unconsented_patient_gets_403(phone_client, on_device_patient, change, code):
    for name, value in change.items():
        setattr(on_device_patient, name, value)
    on_device_patient.save()
    response = post(phone_client, mood_batch())
    assert response.status_code == 403 and response.json()["code"] == code
    assert_nothing_stored()


# --- the inference mode, both ways ---------------------------------------------------------------------

def test_a_frames_patients_device_cannot_send_mood_batches(device_client):
    response = post(device_client, mood_batch())  # the `device` persona's patient is in frames mode
    assert response.status_code == 403 and response.json()["code"] == "inference_mode_mismatch"
    assert_nothing_stored()


def test_an_on_device_patient_never_has_a_frame_stored(phone_client, face_jpeg):
    response = phone_client.post("/api/v1/frame-batches/", batch_payload([face_jpeg, face_jpeg]), format="multipart")
    assert response.status_code == 403, response.content
    assert response.json()["code"] == "inference_mode_mismatch"
    assert_nothing_stored()


def test_the_frame_service_refuses_too_when_the_mode_changed_after_the_permission(phone, face_jpeg):
    """The service checks under the patient's lock: a device that passed the door just before the
    clinician switched the patient to on_device still stores no frame."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from backend.core.errors import ApplicationError
    from backend.ingest.services import batch_ingest
    from backend.ingest.uploads import frame_batch_upload_validate

    upload = frame_batch_upload_validate(
        batch_id=str(uuid.uuid4()), frames=[SimpleUploadedFile("f.jpg", face_jpeg)], captured_at=[moment()])
    with pytest.raises(ApplicationError) as refused:
        batch_ingest(device=phone, upload=upload)
    assert (refused.value.code, refused.value.status_code) == ("inference_mode_mismatch", 403)
    assert_nothing_stored()


def test_new_patients_default_to_on_device():
    from backend.patients.models import InferenceMode, Patient

    assert Patient._meta.get_field("inference_mode").default == InferenceMode.ON_DEVICE


@pytest.mark.django_db
def test_patient_create_defaults_to_on_device_and_takes_frames(clinician):
    from backend.patients.services import patient_create

    assert patient_create(actor=clinician, reference="P-NEW", clinicians=[clinician]).inference_mode == "on_device"
    frames = patient_create(actor=clinician, reference="P-OLD", clinicians=[clinician], inference_mode="frames")
    assert frames.inference_mode == "frames"


# --- refusals: 400 validation_error with the frame's index, nothing stored ------------------------------

def with_frame(change, index=1, n=3):
    body = mood_batch(n)
    change(body["frames"][index])
    return body


def set_probability(mood, value):
    return lambda frame: frame["face"]["probabilities"].__setitem__(mood, value)


@pytest.mark.parametrize(("body", "field", "code", "index"), [
    # probabilities
    (with_frame(set_probability("positive", 1.5)), "face.probabilities.positive", "out_of_range", 1),
    (with_frame(set_probability("negative", -0.1)), "face.probabilities.negative", "out_of_range", 1),
    (with_frame(set_probability("neutral", "0.1")), "face.probabilities.neutral", "wrong_type", 1),
    (with_frame(set_probability("other", True)), "face.probabilities.other", "wrong_type", 1),
    (with_frame(set_probability("other", None)), "face.probabilities.other", "wrong_type", 1),
    (with_frame(set_probability("other", [0.1])), "face.probabilities.other", "wrong_type", 1),
    (with_frame(set_probability("positive", 10 ** 400)), "face.probabilities.positive", "out_of_range", 1),
    (with_frame(set_probability("positive", 0.75)), "face.probabilities", "probabilities_sum", 1),
    (with_frame(set_probability("positive", 0.6985)), "face.probabilities", "probabilities_sum", 1),
    (with_frame(lambda f: f["face"]["probabilities"].pop("other")), "face.probabilities", "missing_mood", 1),
    (with_frame(lambda f: f["face"]["probabilities"].__setitem__("happy", 0.0)), "face.probabilities",
     "unknown_mood", 1),
    (with_frame(lambda f: f["face"].__setitem__("probabilities", [0.7, 0.1, 0.1, 0.1])), "face.probabilities",
     "wrong_type", 1),
    # capture times
    (with_frame(lambda f: f.__setitem__("captured_at", "2026-12-05T09:15:02")), "captured_at",
     "timestamp_without_offset", 1),
    (with_frame(lambda f: f.__setitem__("captured_at", "0001-01-01T00:00:00+14:00")), "captured_at",
     "timestamp_too_old", 1),
    (with_frame(lambda f: f.__setitem__("captured_at", "9999-12-31T23:59:59-12:00")), "captured_at",
     "timestamp_in_future", 1),
    (with_frame(lambda f: f.__setitem__("captured_at", moment(-3600))), "captured_at", "timestamp_in_future", 1),
    (with_frame(lambda f: f.__setitem__("captured_at", moment(30 * 86400))), "captured_at", "timestamp_too_old", 1),
    (with_frame(lambda f: f.__setitem__("captured_at", "yesterday\x00")), "captured_at", "invalid_timestamp", 1),
    (with_frame(lambda f: f.__setitem__("captured_at", 1733390102)), "captured_at", "wrong_type", 1),
    # the box
    (with_frame(lambda f: f["face"].__setitem__("box", [600, 10, 50, 50])), "face.box", "box_outside_frame", 1),
    (with_frame(lambda f: f["face"].__setitem__("box", [10, 440, 50, 50])), "face.box", "box_outside_frame", 1),
    (with_frame(lambda f: f["face"].__setitem__("box", [-1, 10, 50, 50])), "face.box", "box_outside_frame", 1),
    (with_frame(lambda f: f["face"].__setitem__("box", [10, 10, 0, 50])), "face.box", "box_outside_frame", 1),
    (with_frame(lambda f: f["face"].__setitem__("box", [10, 10, 50])), "face.box", "wrong_type", 1),
    (with_frame(lambda f: f["face"].__setitem__("box", [10, 10, "50", 50])), "face.box", "wrong_type", 1),
    (with_frame(lambda f: f["face"].__setitem__("box", [10, 10, False, 50])), "face.box", "wrong_type", 1),
    (with_frame(lambda f: f["face"].__setitem__("box", [10, 10, [[[50]]], 50])), "face.box", "wrong_type", 1),
    # detection score
    (with_frame(lambda f: f["face"].__setitem__("detection_score", 1.01)), "face.detection_score",
     "out_of_range", 1),
    (with_frame(lambda f: f["face"].__setitem__("detection_score", "high")), "face.detection_score",
     "wrong_type", 1),
    # bystanders
    (with_frame(lambda f: f.__setitem__("bystanders", -1)), "bystanders", "out_of_range", 1),
    (with_frame(lambda f: f.__setitem__("bystanders", 10 ** 9)), "bystanders", "out_of_range", 1),
    (with_frame(lambda f: f.__setitem__("bystanders", 1.0)), "bystanders", "wrong_type", 1),
    (with_frame(lambda f: f.__setitem__("bystanders", True)), "bystanders", "wrong_type", 1),
    # the entry's shape
    (with_frame(lambda f: f.pop("face")), "face", "required", 1),
    (with_frame(lambda f: f.pop("captured_at")), "captured_at", "required", 1),
    (with_frame(lambda f: f.__setitem__("image", "/9j/4AAQSkZJRg==")), "image", "unknown_field", 1),
    (with_frame(lambda f: f["face"].__setitem__("landmarks", [[1, 2]])), "face.landmarks", "unknown_field", 1),
    (with_frame(lambda f: f.__setitem__("face", "positive")), "face", "wrong_type", 1),
])
def test_each_bad_value_is_refused_with_its_frames_index(phone_client, body, field, code, index):
    assert_refused(post(phone_client, body), field, code, index)


def test_a_repeated_capture_time_is_refused_at_its_second_entry(phone_client):
    body = mood_batch(3)
    same_instant = timezone.now() - timedelta(seconds=30)
    body["frames"][0]["captured_at"] = same_instant.isoformat()
    body["frames"][2]["captured_at"] = same_instant.astimezone(timezone.get_fixed_timezone(90)).isoformat()
    assert_refused(post(phone_client, body), "captured_at", "duplicate_captured_at", 2)


def test_nan_and_infinity_are_refused_as_values_not_as_unreadable_json(phone_client):
    body = json.dumps(mood_batch(2)).replace('"positive": 0.7', '"positive": NaN', 1)
    assert_refused(post(phone_client, body), "face.probabilities.positive", "out_of_range", 0)
    body = json.dumps(mood_batch(2)).replace('"detection_score": 0.93', '"detection_score": -Infinity', 1)
    assert_refused(post(phone_client, body), "face.detection_score", "out_of_range", 0)


@pytest.mark.parametrize(("change", "field", "code"), [
    (lambda b: b.__setitem__("model_version", "mini-xception-4mood-19990101"), "model_version",
     "model_version_unpublished"),
    (lambda b: b.__setitem__("model_version", VERSION + "\x00"), "model_version", "model_version_unpublished"),
    (lambda b: b.__setitem__("model_version", 3), "model_version", "wrong_type"),
    (lambda b: b.pop("model_version"), "model_version", "required"),
    (lambda b: b.__setitem__("frame_size", [0, 480]), "frame_size", "out_of_range"),
    (lambda b: b.__setitem__("frame_size", [-640, 480]), "frame_size", "out_of_range"),
    (lambda b: b.__setitem__("frame_size", [10 ** 6, 480]), "frame_size", "out_of_range"),
    (lambda b: b.__setitem__("frame_size", [640.0, 480]), "frame_size", "wrong_type"),
    (lambda b: b.__setitem__("frame_size", [640, True]), "frame_size", "wrong_type"),
    (lambda b: b.__setitem__("frame_size", "640x480"), "frame_size", "wrong_type"),
    (lambda b: b.__setitem__("batch_id", "not-a-uuid"), "batch_id", "invalid_uuid"),
    (lambda b: b.__setitem__("batch_id", 12), "batch_id", "wrong_type"),
    (lambda b: b.__setitem__("frames", []), "frames", "required"),
    (lambda b: b.__setitem__("frames", {"0": {}}), "frames", "wrong_type"),
    (lambda b: b.__setitem__("extra", 1), "extra", "unknown_field"),
])
def test_each_bad_batch_field_is_refused(phone_client, change, field, code):
    body = mood_batch(2)
    change(body)
    assert_refused(post(phone_client, body), field, code)


def test_more_frames_than_the_limit_are_refused(phone_client, settings):
    limit = settings.MOODWATCH["MAX_FRAMES_PER_BATCH"]
    body = mood_batch(limit + 1, start=limit + 60)
    assert_refused(post(phone_client, body), "frames", "too_many_frames")


def test_a_frame_entry_that_is_not_an_object_is_refused(phone_client):
    body = mood_batch(2)
    body["frames"][1] = [1, 2, 3]
    assert_refused(post(phone_client, body), "frames", "wrong_type", 1)


@pytest.mark.parametrize("raw", ["[]", '"a string"', "null", "42"])
def test_a_body_that_is_not_an_object_is_refused(phone_client, raw):
    assert_refused(post(phone_client, raw), "body", "wrong_type")


def test_json_nested_deeper_than_the_contract_is_a_validation_error(phone_client, settings):
    body = mood_batch(2)
    body["frames"][0]["face"]["box"] = [[[[[[[1]]]]]], 0, 10, 10]
    assert_refused(post(phone_client, body), "face.box", "wrong_type", 0)
    deep = json.dumps(mood_batch(1))[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}"
    assert_refused(post(phone_client, deep), "body", "json_too_deep")


def test_a_body_over_the_mood_batch_bound_is_413(phone_client, settings):
    body = mood_batch(2)
    body["frames"][0]["padding"] = "x" * settings.MOODWATCH["MAX_MOOD_BATCH_BYTES"]
    response = post(phone_client, body)
    assert response.status_code == 413 and response.json()["code"] == "request_too_large"
    assert_nothing_stored()


def test_malformed_json_and_other_media_types_are_4xx(phone_client):
    assert phone_client.post(URL, '{"batch_id": ', content_type="application/json").status_code == 400
    assert phone_client.post(URL, "batch_id=1", content_type="application/x-www-form-urlencoded").status_code == 415
    assert_nothing_stored()


def test_every_problem_is_listed_at_once(phone_client):
    body = mood_batch(3)
    body["frames"][0]["bystanders"] = -2
    body["frames"][2]["face"]["detection_score"] = 7
    errors = post(phone_client, body).json()["errors"]
    assert {(e["field"], e["index"]) for e in errors} == {("bystanders", 0), ("face.detection_score", 2)}


# --- budget and throttle ------------------------------------------------------------------------------

def test_mood_frames_count_against_the_devices_frame_budget(phone_client, settings):
    settings.MOODWATCH = {**settings.MOODWATCH, "DEVICE_FRAME_BUDGET_PER_HOUR": 5}
    assert post(phone_client, mood_batch(3)).status_code == 201
    response = post(phone_client, mood_batch(3, start=200))
    assert response.status_code == 429 and response.json()["code"] == "frame_budget_exceeded"
    assert response["Retry-After"]
    assert FrameBatch.objects.count() == 1


def test_the_upload_throttle_applies(phone_client, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "upload": "2/minute"}
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
        from rest_framework.throttling import ScopedRateThrottle

        old = ScopedRateThrottle.THROTTLE_RATES
        ScopedRateThrottle.THROTTLE_RATES = rates
        try:
            statuses = [post(phone_client, mood_batch(1, start=300 - i)).status_code for i in range(3)]
        finally:
            ScopedRateThrottle.THROTTLE_RATES = old
    assert statuses == [201, 201, 429]


# --- landing: as a processed frame batch's ------------------------------------------------------------

class ServerFace:
    def __init__(self, payload):
        self.box = tuple(payload["box"])
        self.detection_score = payload["detection_score"]
        self.probabilities = payload["probabilities"]
        self.mood = max(self.probabilities, key=self.probabilities.get)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the rollup is PostgreSQL's")
def test_roll_ups_and_coverage_match_those_of_the_same_frames_processed_on_the_server(
    phone_client, on_device_patient, device, patient, django_capture_on_commit_callbacks,
):
    faces = [face("positive"), None, face("negative"), face("neutral"), None]
    body = mood_batch(faces=faces)
    with django_capture_on_commit_callbacks(execute=True):
        assert post(phone_client, body).status_code == 201

    # The same frames, processed on the server for the frames-mode patient (same time zone).
    patient.timezone = on_device_patient.timezone
    patient.save()
    from tests.backend.factories import FrameBatchFactory

    batch = FrameBatchFactory(device=device, status=FrameBatch.Status.PROCESSING, claimed_by_task="t",
                              frame_count=len(faces))
    from datetime import datetime

    captured = {i: datetime.fromisoformat(f["captured_at"]) for i, f in enumerate(body["frames"])}
    results = [FrameResult(index=i, captured_at=captured[i], faces=[ServerFace(f)] if f else [])
               for i, f in enumerate(faces)]
    with django_capture_on_commit_callbacks(execute=True):
        batch_complete(batch_pk=batch.pk, task_id="t", results=results, undecodable=0, model_version=VERSION,
                       captured=captured)

    def state(p):
        now = timezone.now()
        return {
            "capture": sorted(CaptureSlotCount.objects.filter(patient=p).values_list(
                "slot_start", "frames", "frames_processed", "frames_with_face")),
            "moods": sorted(MoodSlotCount.objects.filter(patient=p).values_list(
                "slot_start", "positive", "negative", "neutral", "other")),
            "uploads": sorted(UploadSlotCount.objects.filter(patient=p).values_list(
                "batches", "frames", "frames_processed", "frames_with_face")),
            "buckets": mood_buckets(patient=p, start=now - timedelta(days=2), end=now + timedelta(hours=1),
                                    bucket="day"),
            "coverage": capture_coverage(patient=p, start=now - timedelta(days=2), end=now),
        }

    device_side, server_side = state(on_device_patient), state(patient)
    assert device_side == server_side
    assert sum(row[1] for row in device_side["capture"]) == 5, "frames without a face count in coverage"
    assert sum(row[3] for row in device_side["capture"]) == 3


def test_alerts_are_evaluated_after_the_landing_commits(phone_client, on_device_patient, settings, eager_tasks,
                                                        django_capture_on_commit_callbacks):
    settings.MOODWATCH_ALERTS = {**settings.MOODWATCH_ALERTS, "LANDING_DEBOUNCE_SECONDS": 0}
    AlertThresholds.objects.create(patient=on_device_patient, rule="absolute", min_records=1, negative_share=0.0)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert post(phone_client, mood_batch(faces=[face("negative"), face("negative")])).status_code == 201
    assert not Alert.objects.exists(), "nothing is evaluated before the commit"
    assert callbacks
    for callback in callbacks:
        callback()
    alert = Alert.objects.get(patient=on_device_patient, kind=Alert.Kind.NEGATIVE_MOOD)
    assert alert.records == 2


def test_no_audit_row_per_batch_as_for_frame_batches(phone_client):
    before = AuditEvent.objects.count()
    assert post(phone_client, mood_batch()).status_code == 201
    assert AuditEvent.objects.count() == before


# --- concurrency ----------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent connections")
def test_two_identical_posts_at_once_store_one_batch(clinician):
    patient = PatientFactory(reference="P-RACE", clinicians=[clinician], inference_mode="on_device")
    token = DeviceFactory(patient=patient).token
    body = mood_batch(5)
    answers, barrier = [], threading.Barrier(2)

    def send():
        from django.db import connections

        try:
            barrier.wait()
            answers.append(post(client_with_device_token(token), body))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 201]
    assert answers[0].json() == answers[1].json()
    assert FrameBatch.objects.count() == 1 and MoodRecord.objects.count() == 5
    assert sum(CaptureSlotCount.objects.values_list("frames", flat=True)) == 5


def test_probabilities_within_the_tolerance_are_accepted(phone_client):
    tiny = {"box": [1, 1, 10, 10], "detection_score": 0.0,
            "probabilities": {"positive": 0.7009, "negative": 0.1, "neutral": 0.1, "other": 0.1}}
    assert post(phone_client, mood_batch(faces=[tiny])).status_code == 201
    assert math.isclose(MoodRecord.objects.get().p_positive, 0.7009)


# --- the OpenAPI schema ---------------------------------------------------------------------------------

def test_the_schema_describes_the_mood_batch_upload_and_the_patient_patch(client, db):
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    upload = schema["paths"]["/api/v1/mood-batches/"]["post"]
    assert "application/json" in upload["requestBody"]["content"]
    assert {"201", "200", "400", "401", "403", "409", "413", "429"} <= set(upload["responses"])
    assert "inference_mode_mismatch" in upload["responses"]["403"]["description"]
    name = upload["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][name]["properties"]) == {
        "batch_id", "model_version", "frame_size", "frames"}
    frames_403 = schema["paths"]["/api/v1/frame-batches/"]["post"]["responses"]["403"]["description"]
    assert "inference_mode_mismatch" in frames_403
    patch = schema["paths"]["/api/v1/patients/{patient_id}/"]["patch"]
    assert {"200", "400", "404"} <= set(patch["responses"])


def test_the_clinician_api_says_where_each_record_was_computed(phone_client, on_device_patient, clinician):
    from tests.backend.conftest import clinician_client

    assert post(phone_client, mood_batch(2)).status_code == 201
    rows = clinician_client(clinician).get(f"/api/v1/patients/{on_device_patient.pk}/moods/").json()["results"]
    assert [row["source"] for row in rows] == ["device", "device"]
    assert {row["model_version"] for row in rows} == {VERSION}
