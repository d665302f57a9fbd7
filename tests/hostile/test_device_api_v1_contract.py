"""A contract client of the device API v1, written from issue 28's text only (its names, fields,
statuses and codes), run against the server through Django's test client. It enrolls a phone the way
a phone does, reads the manifest, fetches the model files, and sends mood batches and self-reports;
every status and code the issue names must come back as named, and a refused batch stores nothing.

The issue's words are quoted beside each check."""
import hashlib
import json
import uuid
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework.throttling import ScopedRateThrottle

from backend.audit.models import AuditEvent
from backend.devices.models import Device
from tests.backend.conftest import fresh_cache  # noqa: F401 (autouse: throttle counters start at 0)
from tests.backend.factories import PatientFactory

pytestmark = pytest.mark.django_db

MOODS = ["positive", "negative", "neutral", "other"]  # "moods": ["positive", "negative", "neutral", "other"]


class Phone:
    """What a phone holds: its token and the manifest's version; it speaks only the public API."""

    def __init__(self, token: str):
        self.http = APIClient(raise_request_exception=False)
        self.http.credentials(HTTP_AUTHORIZATION=f"Device {token}")
        self.manifest = None

    def model(self):
        return self.http.get("/api/v1/model/")

    def send(self, body, *, path="/api/v1/mood-batches/", content_type="application/json"):
        raw = body if isinstance(body, (str, bytes)) else json.dumps(body)
        return self.http.generic("POST", path, raw, content_type=content_type)

    def batch(self, n=3, *, start=600, version=None) -> dict:
        """The issue's example body, `n` sampled frames a few seconds apart, the last one with no face."""
        def at(i):
            return (timezone.now() - timedelta(seconds=start - 5 * i)).astimezone().isoformat()

        frames = [{"captured_at": at(i), "face": {
            "box": [212, 96, 180, 204], "detection_score": 0.93,
            "probabilities": {"positive": 0.71, "negative": 0.12, "neutral": 0.15, "other": 0.02}},
            "bystanders": 0} for i in range(n)]
        frames[-1]["face"] = None
        return {"batch_id": str(uuid.uuid4()), "model_version": version or self.manifest["version"],
                "frame_size": [640, 480], "frames": frames}


@pytest.fixture
def clinician_api(clinician) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(clinician)
    return client


@pytest.fixture
def patient_on_device(clinician):
    return PatientFactory(reference="P-CONTRACT", clinicians=[clinician], inference_mode="on_device")


def enroll(clinician_api, patient) -> Phone:
    code = clinician_api.post(f"/api/v1/patients/{patient.pk}/enrollment-codes/").json()["code"]
    enrolled = APIClient().post("/api/v1/devices/enroll/", {"code": code, "label": "contract"}, format="json")
    assert enrolled.status_code == 201, enrolled.content
    phone = Phone(enrolled.json()["token"])
    manifest = phone.model()
    assert manifest.status_code == 200, manifest.content
    phone.manifest = manifest.json()
    return phone


@pytest.fixture
def phone(clinician_api, patient_on_device) -> Phone:
    return enroll(clinician_api, patient_on_device)


def records_of(clinician_api, patient) -> list:
    response = clinician_api.get(f"/api/v1/patients/{patient.pk}/moods/", {"from": "2000-01-01", "page_size": 1000})
    assert response.status_code == 200, response.content
    return response.json()["results"]


def refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:400])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["code"] == code, body
    return body


def invalid(response, index=None, field_part=None) -> dict:
    """400 validation_error, with errors[].index naming the frame's entry when one is at fault."""
    body = refused(response, 400, "validation_error")
    assert body["errors"], body
    if index is not None:
        assert index in [e.get("index") for e in body["errors"]], body
    if field_part is not None:
        assert any(field_part in e["field"] for e in body["errors"]), body
    return body


# --- GET /api/v1/model/ and the model files --------------------------------------------------------------

def test_the_manifest_has_the_issues_fields(phone):
    manifest = phone.manifest
    assert isinstance(manifest["version"], str) and manifest["version"]
    assert manifest["moods"] == MOODS
    assert manifest["mode"] == "on_device"
    assert isinstance(manifest["sampling_seconds"], (int, float)) and manifest["sampling_seconds"] > 0
    for name in ("classifier", "detector"):
        assert set(manifest["files"][name]) >= {"url", "sha256", "bytes"}, manifest["files"][name]


def test_the_manifest_needs_a_device_token(db):
    assert APIClient().get("/api/v1/model/").status_code == 401


def test_the_model_files_match_their_sha256_with_immutable_caching_and_stay_under_1_5_mb(phone):
    total = 0
    for name in ("classifier", "detector"):
        entry = phone.manifest["files"][name]
        response = APIClient().get(entry["url"])  # "served with their SHA-256 in the URL or an ETag"
        assert response.status_code == 200
        content = b"".join(response.streaming_content) if response.streaming else response.content
        assert hashlib.sha256(content).hexdigest() == entry["sha256"]
        assert len(content) == entry["bytes"]
        assert entry["sha256"] in entry["url"] or entry["sha256"] in response.get("ETag", "")
        cache = response["Cache-Control"]
        assert "immutable" in cache and "max-age=31536000" in cache, cache  # "long-lived immutable caching"
        total += len(content)
    assert total < 1.5 * 1024 * 1024  # "Both files together stay under 1.5 MB"


# --- POST /api/v1/mood-batches/: the answers that store ------------------------------------------------

def test_201_then_200_for_the_same_batch_and_409_for_the_same_id_with_other_content(phone, clinician_api,
                                                                                     patient_on_device):
    batch = phone.batch(3)
    first = phone.send(batch)
    assert first.status_code == 201, first.content
    body = first.json()
    # 201 {"batch_id", "status": "done", "frames", "frames_with_face", "records"}
    assert body == {"batch_id": batch["batch_id"], "status": "done", "frames": 3, "frames_with_face": 2,
                    "records": 2}
    again = phone.send(batch)
    assert again.status_code == 200 and again.json() == body  # "200 with the same body"
    other = dict(batch, frames=batch["frames"][:2])
    refused(phone.send(other), 409, "batch_id_conflict")
    records = records_of(clinician_api, patient_on_device)
    assert len(records) == 2  # "MoodRecord rows marked as computed on the device, with the model version"
    assert {r["source"] for r in records} == {"device"}
    assert {r["mood"] for r in records} == {"positive"}


# --- the refusals: 401, 403, 413, 429 ---------------------------------------------------------------------

def test_401_without_a_token_with_an_unknown_one_and_with_another_scheme(phone):
    for authorization in (None, "Device not-a-token-anyone-was-given", "Token abc", "Bearer abc"):
        client = APIClient(raise_request_exception=False)
        if authorization:
            client.credentials(HTTP_AUTHORIZATION=authorization)
        response = client.post("/api/v1/mood-batches/", phone.batch(), format="json")
        assert response.status_code == 401, (authorization, response.content)
        assert response.json()["code"]


def test_401_for_a_revoked_phone_and_nothing_stored(phone, clinician_api, patient_on_device):
    Device.objects.filter(patient=patient_on_device).update(revoked_at=timezone.now())
    response = phone.send(phone.batch())
    assert response.status_code == 401 and response.json()["code"], response.content
    assert phone.model().status_code == 401
    assert records_of(clinician_api, patient_on_device) == []


@pytest.mark.parametrize("change, code", [({"consent_recorded_at": None}, "consent_missing"),
                                          ({"is_active": False}, "patient_inactive")])
def test_403_consent_missing_and_patient_inactive(phone, patient_on_device, clinician_api, change, code):
    for name, value in change.items():
        setattr(patient_on_device, name, value)
    patient_on_device.save()
    refused(phone.send(phone.batch()), 403, code)
    assert records_of(clinician_api, patient_on_device) == []


def test_403_inference_mode_mismatch_both_ways_after_the_clinicians_patch(phone, clinician_api, patient_on_device):
    url = f"/api/v1/patients/{patient_on_device.pk}/"
    audited = AuditEvent.objects.count()
    patched = clinician_api.patch(url, {"inference_mode": "frames"}, format="json")
    assert patched.status_code == 200 and patched.json()["inference_mode"] == "frames"
    assert AuditEvent.objects.count() > audited  # "every change is audited"
    refused(phone.send(phone.batch()), 403, "inference_mode_mismatch")
    assert phone.model().json()["mode"] == "frames"
    assert clinician_api.patch(url, {"inference_mode": "on_device"}, format="json").status_code == 200
    stamp_ = phone.batch(1)["frames"][0]["captured_at"]
    frame_upload = phone.http.post("/api/v1/frame-batches/", {"batch_id": str(uuid.uuid4()), "captured_at": stamp_})
    refused(frame_upload, 403, "inference_mode_mismatch")  # "never has a frame stored, whatever a device sends"
    assert records_of(clinician_api, patient_on_device) == []


@pytest.mark.parametrize("value", ["server", "", None, ["frames"]])
def test_the_patch_refuses_a_mode_that_is_neither(clinician_api, patient_on_device, value):
    response = clinician_api.patch(f"/api/v1/patients/{patient_on_device.pk}/", {"inference_mode": value},
                                   format="json")
    refused(response, 400, "validation_error")


def test_the_patch_of_another_clinicians_patient_is_not_found(clinician_api, other_patient):
    response = clinician_api.patch(f"/api/v1/patients/{other_patient.pk}/", {"inference_mode": "frames"},
                                   format="json")
    assert response.status_code == 404


def test_another_patients_device_cannot_reach_this_patients_records(phone, clinician_api, patient_on_device,
                                                                     clinician):
    neighbour = PatientFactory(reference="P-NEIGHBOUR", clinicians=[clinician], inference_mode="on_device")
    their_phone = enroll(clinician_api, neighbour)
    batch = phone.batch()
    assert their_phone.send(batch).status_code == 201
    assert records_of(clinician_api, patient_on_device) == []
    assert len(records_of(clinician_api, neighbour)) == 2


def test_413_for_a_body_over_the_limit(phone, settings):
    body = json.dumps(phone.batch()).encode()
    response = phone.http.generic("POST", "/api/v1/mood-batches/", body, content_type="application/json",
                                  CONTENT_LENGTH=str(settings.MOODWATCH["MAX_REQUEST_BYTES"] + 1))
    assert response.status_code == 413 and response.json()["code"]


def test_429_under_the_upload_throttle(phone, settings):
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "upload": "2/minute"}
    old = ScopedRateThrottle.THROTTLE_RATES
    ScopedRateThrottle.THROTTLE_RATES = rates
    try:
        with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}):
            statuses = [phone.send(phone.batch(1, start=600 - i)).status_code for i in range(3)]
    finally:
        ScopedRateThrottle.THROTTLE_RATES = old
    assert statuses == [201, 201, 429]


# --- 400 validation_error, errors[].index, nothing of the batch stored ----------------------------------

def bad_probability(value):
    def change(batch):
        batch["frames"][1]["face"]["probabilities"]["positive"] = value
    return change


def set_probabilities(probabilities):
    def change(batch):
        batch["frames"][1]["face"]["probabilities"] = probabilities
    return change


def set_frame(key, value, index=1):
    def change(batch):
        batch["frames"][index][key] = value
    return change


def set_face(key, value):
    def change(batch):
        batch["frames"][1]["face"][key] = value
    return change


def stamp(delta: timedelta, fmt=None):
    def change(batch):
        when = timezone.now() + delta
        batch["frames"][1]["captured_at"] = when.strftime(fmt) if fmt else when.astimezone().isoformat()
    return change


FRAME_CASES = {  # the issue's list, each case at the entry of index 1
    # "a probability that is not a finite number in 0..1"
    "probability NaN": "NaN",
    "probability Infinity": "Infinity",
    "probability 1e309": "1e309",
    "probability -0.1": bad_probability(-0.1),
    "probability 1.5": bad_probability(1.5),
    "probability string": bad_probability("0.71"),
    "probability true": bad_probability(True),
    "probability null": bad_probability(None),
    # "or four that do not sum to 1 within 1e-3"
    "sum 0.99": set_probabilities({"positive": 0.7, "negative": 0.12, "neutral": 0.15, "other": 0.01}),
    # "a missing or extra mood"
    "missing mood": set_probabilities({"positive": 0.73, "negative": 0.12, "neutral": 0.15}),
    "extra mood": set_probabilities({"positive": 0.71, "negative": 0.12, "neutral": 0.15, "other": 0.02,
                                     "surprise": 0.0}),
    # "a capture time without an offset, outside the calendar window, or more than MAX_FUTURE_SKEW_SECONDS ahead"
    "no offset": stamp(-timedelta(minutes=9), "%Y-%m-%dT%H:%M:%S"),
    "year 1": set_frame("captured_at", "0001-01-01T00:00:00+00:00"),
    "year 9999": set_frame("captured_at", "9999-12-31T23:59:59+00:00"),
    "an hour ahead": stamp(timedelta(hours=1)),
    # "a box outside frame_size"
    "box outside": set_face("box", [600, 400, 100, 100]),
    "box negative": set_face("box", [-1, 0, 10, 10]),
    "box three numbers": set_face("box", [1, 2, 3]),
    # "a negative or absurd bystanders"
    "bystanders -1": set_frame("bystanders", -1),
    "bystanders 10**12": set_frame("bystanders", 10**12),
    "bystanders 1.5": set_frame("bystanders", 1.5),
    # "the same capture time twice in one batch"
    "same capture time": "duplicate",
    # "wrong types"
    "face a list": set_frame("face", []),
    "detection_score string": set_face("detection_score", "0.93"),
    "entry a string": "entry",
    "image in place of a face": set_frame("image", "/9j/4AAQSkZJRgABAQ"),
}


@pytest.mark.parametrize("case", FRAME_CASES)
def test_400_names_the_frames_index_and_stores_nothing(phone, clinician_api, patient_on_device, case):
    change = FRAME_CASES[case]
    batch = phone.batch(3)
    if change == "duplicate":
        batch["frames"][1]["captured_at"] = batch["frames"][0]["captured_at"]
    elif change == "entry":
        batch["frames"][1] = "frame"
    elif isinstance(change, str):  # a JSON literal Python's json.dumps would not write for a float
        raw = json.dumps(batch)  # frames 0 and 1 have a face: the literal goes into frame 1's
        raw = raw.replace('"positive": 0.71', f'"positive": {change}', 2).replace(
            f'"positive": {change}', '"positive": 0.71', 1)
        batch = raw
    else:
        change(batch)
    invalid(phone.send(batch), index=1)
    assert records_of(clinician_api, patient_on_device) == []


BATCH_CASES = {
    # "a model_version that the server never published"
    "unpublished version": lambda b: b.update(model_version="mini-xception-0000"),
    "version a number": lambda b: b.update(model_version=1),
    # "more frames than MAX_FRAMES_PER_BATCH"
    "too many frames": "too many",
    "frames empty": lambda b: b.update(frames=[]),
    "frames an object": lambda b: b.update(frames={"0": b["frames"][0]}),
    "batch_id not a uuid": lambda b: b.update(batch_id="batch-1"),
    "batch_id missing": lambda b: b.pop("batch_id"),
    "frame_size zero": lambda b: b.update(frame_size=[0, 480]),
    "frame_size booleans": lambda b: b.update(frame_size=[True, True]),
    "extra top-level field": lambda b: b.update(frames_jpeg="/9j/4AAQ"),
}


@pytest.mark.parametrize("case", BATCH_CASES)
def test_400_for_the_batch_fields_and_nothing_stored(phone, clinician_api, patient_on_device, settings, case):
    change = BATCH_CASES[case]
    batch = phone.batch(3)
    if change == "too many":
        batch = phone.batch(settings.MOODWATCH["MAX_FRAMES_PER_BATCH"] + 1, start=3000)
    else:
        change(batch)
    invalid(phone.send(batch))
    assert records_of(clinician_api, patient_on_device) == []


@pytest.mark.parametrize("depth", [40, 1000, 100_000])
def test_json_nested_deeper_than_the_contract_is_a_4xx_error_with_a_code(phone, depth):
    raw = '{"batch_id": ' + "[" * depth + "]" * depth + "}"
    response = phone.send(raw)
    assert response.status_code in (400, 413), response.content
    assert response.json()["code"] in ("validation_error", "request_too_large")


@pytest.mark.parametrize("content_type, body", [
    ("text/plain", "{}"), ("application/x-www-form-urlencoded", "batch_id=1"), ("", "{}"),
    ("multipart/form-data; boundary=x",
     '--x\r\nContent-Disposition: form-data; name="frames"; filename="f.jpg"\r\n\r\n\xff\xd8\r\n--x--\r\n'),
])
def test_other_media_types_are_refused_with_a_json_error(phone, content_type, body):
    response = phone.send(body, content_type=content_type)
    assert 400 <= response.status_code < 500 and response.json()["code"], response.content


# --- POST /api/v1/self-reports/ ---------------------------------------------------------------------------

def test_a_self_report_is_stored_once_and_shown_to_the_clinician(phone, clinician_api, patient_on_device):
    report = {"report_id": str(uuid.uuid4()), "mood": "negative",
              "reported_at": (timezone.now() - timedelta(minutes=1)).astimezone().isoformat()}
    first = phone.send(report, path="/api/v1/self-reports/")
    assert first.status_code == 201, first.content
    assert phone.send(report, path="/api/v1/self-reports/").status_code == 200
    refused(phone.send({**report, "mood": "positive"}, path="/api/v1/self-reports/"), 409, "report_id_conflict")
    summary = clinician_api.get(f"/api/v1/patients/{patient_on_device.pk}/mood-summary/")
    assert summary.json()["self_report_agreement"]["reports"] == 1


@pytest.mark.parametrize("change", [{"mood": "happy"}, {"mood": True}, {"reported_at": "2026-12-05T09:15:02"},
                                    {"report_id": "1"}, {"extra": 1}])
def test_a_bad_self_report_is_a_validation_error(phone, change):
    report = {"report_id": str(uuid.uuid4()), "mood": "negative",
              "reported_at": (timezone.now() - timedelta(minutes=1)).astimezone().isoformat(), **change}
    invalid(phone.send(report, path="/api/v1/self-reports/"))
