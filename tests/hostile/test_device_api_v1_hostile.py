"""Hostile inputs to the device API v1 (issue 28) and the clinician PATCH that found a 5xx when probed:
each is a 4xx with the project's JSON error body, and nothing of a refused request is stored.

- A lone UTF-16 surrogate ("\\ud800" is valid JSON text, and Python reads it into a str) echoed in an
  error's field or detail could not be encoded as UTF-8 by the renderer: 500.
- A UTC offset with seconds or a fraction ("+01:00:00.5", which Python's fromisoformat reads) passed
  the timestamp rule, then PostgreSQL refused the value while the batch was being stored: 500.
"""
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from backend.ingest.models import Frame, FrameBatch
from backend.moods.models import MoodRecord, SelfReport
from inference import MoodEstimator
from tests.backend.conftest import client_with_device_token
from tests.backend.factories import DeviceFactory, PatientFactory

pytestmark = pytest.mark.django_db

VERSION = MoodEstimator.load().version


@pytest.fixture
def on_device_patient(clinician):
    return PatientFactory(reference="P-HOSTILE", clinicians=[clinician], inference_mode="on_device")


@pytest.fixture
def phone(on_device_patient) -> APIClient:
    client = client_with_device_token(DeviceFactory(patient=on_device_patient).token)
    client.raise_request_exception = False  # a 500 is an answer to assert on, not an exception
    return client


@pytest.fixture
def api(clinician) -> APIClient:
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(clinician)
    return client


def moment(seconds_ago: float = 120) -> str:
    return (timezone.now() - timedelta(seconds=seconds_ago)).astimezone().isoformat()


def mood_batch(n: int = 2) -> dict:
    face = {"box": [10, 10, 100, 100], "detection_score": 0.9,
            "probabilities": {"positive": 0.7, "negative": 0.1, "neutral": 0.1, "other": 0.1}}
    return {"batch_id": str(uuid.uuid4()), "model_version": VERSION, "frame_size": [640, 480],
            "frames": [{"captured_at": moment(120 - i), "face": dict(face), "bystanders": 0} for i in range(n)]}


def self_report(**change) -> dict:
    return {"report_id": str(uuid.uuid4()), "reported_at": moment(), "mood": "positive", **change}


def send(client, method: str, path: str, body) -> object:
    # json.dumps writes a lone surrogate as the escape \ud800: valid JSON text, as a hostile client sends it
    return client.generic(method, path, json.dumps(body), content_type="application/json")


def assert_json_refusal(response, status: int = 400) -> dict:
    assert response.status_code == status, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body.get("code"), str) and body["code"] and body.get("detail"), body
    return body


def assert_nothing_stored():
    assert (FrameBatch.objects.count(), MoodRecord.objects.count(), Frame.objects.count(),
            SelfReport.objects.count()) == (0, 0, 0, 0)


def with_key(body: dict, path: tuple, key: str) -> dict:
    target = body
    for step in path:
        target = target[step]
    target[key] = 1
    return body


@pytest.mark.parametrize("path", [(), ("frames", 0), ("frames", 1, "face")], ids=["body", "frame", "face"])
def test_a_surrogate_in_a_mood_batch_key_is_refused_as_an_unknown_field(phone, path):
    body = assert_json_refusal(send(phone, "POST", "/api/v1/mood-batches/", with_key(mood_batch(), path, "\ud800")))
    assert body["code"] == "validation_error"
    assert [e["code"] for e in body["errors"]] == ["unknown_field"]
    assert_nothing_stored()


def test_a_surrogate_in_a_self_report_key_is_refused(phone):
    body = assert_json_refusal(send(phone, "POST", "/api/v1/self-reports/", {**self_report(), "\ud800x": 1}))
    assert body["code"] == "validation_error" and body["errors"][0]["code"] == "unknown_field"
    assert_nothing_stored()


@pytest.mark.parametrize("change", [{"\ud800": "frames"}, {"inference_mode": "\ud800"},
                                    {"inference_mode": "frames", "\udfff": 1}], ids=["key", "value", "extra key"])
def test_a_surrogate_in_the_patient_patch_is_refused_and_changes_nothing(api, on_device_patient, change):
    body = assert_json_refusal(send(api, "PATCH", f"/api/v1/patients/{on_device_patient.pk}/", change))
    assert body["code"] == "validation_error"
    on_device_patient.refresh_from_db()
    assert on_device_patient.inference_mode == "on_device"


def sub_minute_offsets() -> list[str]:
    """A recent local time with an offset that is not whole minutes (ISO 8601 offsets are hh:mm)."""
    local = (timezone.now() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S")
    return [f"{local}+01:00:00.5", f"{local}+00:00:30", f"{local}-00:59:59.999999"]


@pytest.mark.parametrize("offset_index", range(3))
def test_a_capture_time_whose_offset_is_not_whole_minutes_is_refused_with_its_index(phone, offset_index):
    batch = mood_batch(3)
    batch["frames"][2]["captured_at"] = sub_minute_offsets()[offset_index]
    body = assert_json_refusal(send(phone, "POST", "/api/v1/mood-batches/", batch))
    assert body["code"] == "validation_error"
    assert [(e["field"], e["code"], e.get("index")) for e in body["errors"]] == [
        ("captured_at", "invalid_timestamp", 2)]
    assert_nothing_stored()


@pytest.mark.parametrize("offset_index", range(3))
def test_a_self_report_whose_offset_is_not_whole_minutes_is_refused(phone, offset_index):
    report = self_report(reported_at=sub_minute_offsets()[offset_index])
    body = assert_json_refusal(send(phone, "POST", "/api/v1/self-reports/", report))
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("reported_at", "invalid_timestamp")]
    assert_nothing_stored()


@pytest.mark.parametrize("method, path", [("POST", "/api/v1/self-reports/"), ("PATCH", "patient"),
                                          ("POST", "/api/v1/devices/enroll/")])
def test_a_json_body_over_the_servers_parse_limit_is_413_in_plain_words(phone, api, on_device_patient, settings,
                                                                         method, path):
    """Under MAX_REQUEST_BYTES but over DATA_UPLOAD_MAX_MEMORY_SIZE: Django refuses to read it. The
    answer was a 400 `bad_request` naming a Django setting; it is the 413 the API gives for a body too large."""
    client = api if path == "patient" else phone
    path = f"/api/v1/patients/{on_device_patient.pk}/" if path == "patient" else path
    padding = "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
    assert len(padding) < settings.MOODWATCH["MAX_REQUEST_BYTES"]
    body = assert_json_refusal(send(client, method, path, {**self_report(), "padding": padding}), status=413)
    assert body["code"] == "request_too_large"
    assert "DATA_UPLOAD" not in body["detail"] and "settings" not in body["detail"], body
    assert_nothing_stored()


@pytest.mark.parametrize("frame_size, box", [
    ([640, 480], [0.4, 0.4, 0.2, 0.2]),  # stored as a 0x0 box
    ([640, 480], [639.6, 479.6, 0.4, 0.4]),  # stored as a 0x0 box at (640, 480), on the frame's far corner
    ([639, 480], [1.5, 0, 637.5, 10]),  # inside as sent; rounded (to even) to x 2 + w 638 = 640 > 639
], ids=["sub-pixel", "sub-pixel at the corner", "rounded past the edge"])
def test_a_box_is_checked_as_it_is_stored_in_whole_pixels(phone, frame_size, box):
    """A record's box is stored in whole pixels (rounded); a box that rounds to no area, or past the
    frame's edge, stored a record that breaks the contract's own rule (w, h > 0, inside frame_size)."""
    batch = mood_batch(2)
    batch["frame_size"] = frame_size
    batch["frames"][1]["face"]["box"] = box
    body = assert_json_refusal(send(phone, "POST", "/api/v1/mood-batches/", batch))
    assert [(e["field"], e["code"], e.get("index")) for e in body["errors"]] == [("face.box", "box_outside_frame", 1)]
    assert_nothing_stored()


def test_a_box_in_fractions_of_a_pixel_that_rounds_inside_the_frame_is_stored(phone):
    batch = mood_batch(1)
    batch["frames"][0]["face"]["box"] = [0.4, 10.6, 639.4, 469.4]
    assert send(phone, "POST", "/api/v1/mood-batches/", batch).status_code == 201
    record = MoodRecord.objects.get()
    assert (record.box_x, record.box_y, record.box_w, record.box_h) == (0, 11, 639, 469)


def test_a_batch_with_thousands_of_problems_lists_the_first_hundred_and_counts_the_rest(phone):
    """Each entry with 100 unknown keys: 6,000 problems. The answer names the first 100 (with their
    index) and says how many more there are, instead of a reply larger than the request."""
    batch = mood_batch(60)
    for entry in batch["frames"]:
        entry.update({f"extra{k}": k for k in range(100)})
    response = phone.post("/api/v1/mood-batches/", batch, format="json")
    assert response.status_code == 400, response.content[:300]
    body = response.json()
    assert body["code"] == "validation_error"
    assert len(body["errors"]) == 100
    assert {e["code"] for e in body["errors"]} == {"unknown_field"}
    assert body["errors"][0]["index"] == 0
    assert body["detail"].endswith("and 5900 more problems not listed.")
    assert len(response.content) < len(json.dumps(batch))
    assert not FrameBatch.objects.exists() and not MoodRecord.objects.exists()


def test_a_batch_with_a_few_problems_lists_every_one(phone):
    batch = mood_batch(3)
    for entry in batch["frames"]:
        entry["colour"] = "blue"
    body = phone.post("/api/v1/mood-batches/", batch, format="json").json()
    assert [e["index"] for e in body["errors"]] == [0, 1, 2]
    assert "more problems not listed" not in body["detail"]
