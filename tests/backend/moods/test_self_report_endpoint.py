"""POST /api/v1/self-reports/ (issue 28): the patient's own mood, from their device. Acceptance,
idempotency, and every refusal, with nothing stored on any refusal."""
import json
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.throttling import ScopedRateThrottle

from backend.moods.models import SelfReport
from backend.patients.models import InferenceMode
from tests.backend.conftest import client_with_device_token, recent
from tests.backend.factories import DeviceFactory

URL = "/api/v1/self-reports/"


def body(**overrides) -> dict:
    return {"report_id": str(uuid.uuid4()), "reported_at": recent(30), "mood": "positive", **overrides}


def post(client, payload, **extra):
    return client.post(URL, json.dumps(payload), content_type="application/json", **extra)


def assert_field_error(response, field, code):
    assert response.status_code == 400, response.content
    answer = response.json()
    assert answer["code"] == "validation_error" and answer["detail"], answer
    assert any(e["field"] == field and e["code"] == code and e["detail"] for e in answer["errors"]), answer
    assert SelfReport.objects.count() == 0


# --- accepted ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [InferenceMode.ON_DEVICE, InferenceMode.FRAMES])
def test_the_patients_device_stores_a_self_report_in_either_inference_mode(device_client, device, patient, mode):
    patient.inference_mode = mode
    patient.save()
    payload = body(reported_at="2026-12-05T09:15:02+01:00", mood="negative")
    now = timezone.now()
    payload["reported_at"] = (now - timedelta(minutes=3)).astimezone(timezone.get_fixed_timezone(60)).isoformat()
    response = post(device_client, payload)
    assert response.status_code == 201, response.content
    answer = response.json()
    assert set(answer) == {"report_id", "reported_at", "mood"}
    assert (answer["report_id"], answer["mood"]) == (payload["report_id"], "negative")
    report = SelfReport.objects.get()
    assert (report.patient, report.device, str(report.report_id)) == (patient, device, payload["report_id"])
    assert report.reported_at == timezone.datetime.fromisoformat(payload["reported_at"])
    assert timezone.datetime.fromisoformat(answer["reported_at"].replace("Z", "+00:00")) == report.reported_at


def test_the_same_report_again_is_a_200_with_the_same_body_and_stores_nothing_more(device_client):
    payload = body()
    first = post(device_client, payload)
    assert first.status_code == 201
    again = post(device_client, payload)
    assert again.status_code == 200
    assert again.json() == first.json()
    # The same instant written with another offset is the same content.
    when = timezone.datetime.fromisoformat(payload["reported_at"]).astimezone(timezone.get_fixed_timezone(-300))
    assert post(device_client, {**payload, "reported_at": when.isoformat()}).status_code == 200
    assert SelfReport.objects.count() == 1


@pytest.mark.parametrize("change", [{"mood": "neutral"}, {"reported_at": recent(600)}])
def test_the_same_report_id_with_other_content_is_a_409(device_client, change):
    payload = body()
    assert post(device_client, payload).status_code == 201
    response = post(device_client, {**payload, **change})
    assert response.status_code == 409
    assert response.json()["code"] == "report_id_conflict"
    assert SelfReport.objects.get().mood == "positive"


def test_report_ids_are_per_device(device_client, patient):
    payload = body()
    assert post(device_client, payload).status_code == 201
    second_phone = client_with_device_token(DeviceFactory(patient=patient).token)
    assert post(second_phone, {**payload, "mood": "other"}).status_code == 201
    assert SelfReport.objects.count() == 2


# --- who may send -----------------------------------------------------------------------------------

def test_no_token_is_a_401(db, client):
    response = post(client, body())
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"


def test_an_unknown_device_is_a_401(unknown_device_client):
    response = post(unknown_device_client, body())
    assert response.status_code == 401 and response.json()["code"] == "device_token_invalid"
    assert SelfReport.objects.count() == 0


def test_a_revoked_device_is_a_401(revoked_device_client):
    response = post(revoked_device_client, body())
    assert response.status_code == 401 and response.json()["code"] == "device_revoked"
    assert SelfReport.objects.count() == 0


def test_a_clinician_session_cannot_send_a_self_report(client, clinician):
    client.force_login(clinician)
    assert post(client, body()).status_code == 401
    assert SelfReport.objects.count() == 0


def test_a_patient_without_consent_is_a_403(device_client, patient):
    patient.consent_recorded_at = None
    patient.save()
    response = post(device_client, body())
    assert response.status_code == 403 and response.json()["code"] == "consent_missing"
    assert SelfReport.objects.count() == 0


def test_an_inactive_patient_is_a_403(device_client, patient):
    patient.is_active = False
    patient.save()
    response = post(device_client, body())
    assert response.status_code == 403 and response.json()["code"] == "patient_inactive"
    assert SelfReport.objects.count() == 0


def test_another_patients_device_stores_the_report_for_its_own_patient_only(other_device_client, other_patient):
    assert post(other_device_client, body()).status_code == 201
    assert SelfReport.objects.get().patient == other_patient


def test_a_device_is_throttled_at_the_uploads_rate(device_client, monkeypatch):
    monkeypatch.setitem(ScopedRateThrottle.THROTTLE_RATES, "upload", "2/minute")
    assert [post(device_client, body()).status_code for _ in range(3)] == [201, 201, 429]
    refused = post(device_client, body())
    assert refused.json()["code"] == "throttled" and refused["Retry-After"]


# --- what is refused --------------------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value", "code"), [
    ("report_id", "not-a-uuid", "invalid_uuid"),
    ("report_id", 12345, "invalid_uuid"),
    ("report_id", None, "invalid_uuid"),
    ("report_id", ["0b6f1c3e-8f0e-4c47-9d8e-2b7c1f3a9e10"], "invalid_uuid"),
    ("report_id", "0b6f1c3e-8f0e-4c47-9d8e-2b7c1f3a9e1\x00", "invalid_uuid"),
    ("mood", "happy", "invalid_choice"),
    ("mood", "Positive", "invalid_choice"),
    ("mood", "positive\x00", "invalid_choice"),
    ("mood", "", "invalid_choice"),
    ("mood", 1, "invalid_choice"),
    ("mood", {"positive": 1}, "invalid_choice"),
    ("mood", None, "invalid_choice"),
    ("reported_at", "yesterday", "invalid_timestamp"),
    ("reported_at", "2026-12-05T09:15:02\x00+01:00", "invalid_timestamp"),
    ("reported_at", 1733390102, "invalid_timestamp"),
    ("reported_at", None, "invalid_timestamp"),
    ("reported_at", "0001-01-01T00:00:00+14:00", "timestamp_too_old"),
    ("reported_at", "9999-12-31T23:59:59-14:00", "timestamp_in_future"),
    ("reported_at", "2026-12-05T09:15:02", "timestamp_without_offset"),
])
def test_a_wrong_value_is_a_400_naming_its_field(device_client, field, value, code):
    assert_field_error(post(device_client, body(**{field: value})), field, code)


def test_a_time_too_far_ahead_or_older_than_a_frame_may_be_is_a_400(device_client, settings):
    limits = settings.MOODWATCH
    ahead = (timezone.now() + limits["MAX_FUTURE_SKEW"] + timedelta(minutes=1)).isoformat()
    assert_field_error(post(device_client, body(reported_at=ahead)), "reported_at", "timestamp_in_future")
    old = (timezone.now() - limits["MAX_FRAME_AGE"] - timedelta(minutes=1)).isoformat()
    assert_field_error(post(device_client, body(reported_at=old)), "reported_at", "timestamp_too_old")
    slightly_ahead = (timezone.now() + limits["MAX_FUTURE_SKEW"] - timedelta(seconds=30)).isoformat()
    assert post(device_client, body(reported_at=slightly_ahead)).status_code == 201


@pytest.mark.parametrize("missing", ["report_id", "reported_at", "mood"])
def test_a_missing_field_is_a_400(device_client, missing):
    payload = body()
    del payload[missing]
    assert_field_error(post(device_client, payload), missing, "required")


def test_an_unknown_field_is_a_400(device_client):
    assert_field_error(post(device_client, body(note="free text")), "note", "unknown_field")


def test_every_problem_is_listed_at_once(device_client):
    response = post(device_client, {"report_id": "x", "reported_at": "y", "mood": "z"})
    assert {e["field"] for e in response.json()["errors"]} == {"report_id", "reported_at", "mood"}


@pytest.mark.parametrize("raw", ['["positive"]', '"positive"', "42", "null", "true"])
def test_a_body_that_is_not_a_json_object_is_a_400(device_client, raw):
    response = device_client.post(URL, raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "validation_error"
    assert SelfReport.objects.count() == 0


@pytest.mark.parametrize("raw", ["{", "{'mood': 'positive'}", "\x00", "[" * 5000 + "]" * 5000, '{"a": NaN}'])
def test_broken_or_deep_json_is_a_json_400_not_a_500(device_client, raw):
    response = device_client.post(URL, raw, content_type="application/json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] in ("parse_error", "json_too_deep", "validation_error")
    assert SelfReport.objects.count() == 0


def test_a_form_or_multipart_body_is_a_415(device_client):
    response = device_client.post(URL, body(), format="multipart")
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_get_is_a_405_with_the_json_error_shape(device_client):
    response = device_client.get(URL)
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


def test_the_endpoint_is_in_the_openapi_schema(client, db):
    schema = client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    text = schema.content.decode()
    assert "/api/v1/self-reports/" in text and "report_id_conflict" in text


# --- property-based: any JSON in any field --------------------------------------------------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.hostile.fuzzing import FUZZ, hostile_date, hostile_text  # noqa: E402

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.floats(allow_nan=False)
    | hostile_text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


@FUZZ
@given(payload=st.fixed_dictionaries({}, optional={
    "report_id": st.one_of(json_values, st.uuids().map(str)),
    "reported_at": st.one_of(json_values, hostile_date),
    "mood": st.one_of(json_values, st.sampled_from(["positive", "negative", "neutral", "other"])),
}))
def test_any_json_in_any_field_gets_a_json_answer_never_a_5xx(device_client, payload):
    response = device_client.post(URL, json.dumps(payload), content_type="application/json")
    assert response.status_code in (200, 201, 400, 409), response.content[:300]
    answer = response.json()
    if response.status_code >= 400:
        assert isinstance(answer.get("code"), str) and answer["code"]
    else:
        assert SelfReport.objects.filter(report_id=answer["report_id"]).exists()
