"""POST /api/v1/devices/enroll/: a one-time code becomes a device and its secret token."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.devices import tokens
from backend.devices.models import Device, EnrollmentCode
from backend.devices.services import enrollment_code_issue

URL = "/api/v1/devices/enroll/"


@pytest.fixture
def code(patient, clinician):
    return enrollment_code_issue(patient=patient, actor=clinician)[1]


def enroll(client, code, label="Pixel 7"):
    return client.post(URL, {"code": code, "label": label}, content_type="application/json")


def test_a_valid_code_enrolls_a_device_and_returns_its_token_once(client, code, patient):
    response = enroll(client, code)
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"device_id", "token", "patient_id"}
    assert body["patient_id"] == str(patient.pk)
    device = Device.objects.get(pk=body["device_id"])
    assert device.patient == patient and device.label == "Pixel 7"
    assert body["token"] not in (device.token_digest, device.token_lookup_id)
    assert device.token_digest == tokens.device_token_digest(body["token"])


def test_the_token_returned_authenticates_the_device(client, code):
    token = enroll(client, code).json()["token"]
    response = client.get("/api/v1/frame-batches/00000000-0000-0000-0000-000000000000/",
                          HTTP_AUTHORIZATION=f"Device {token}")
    assert response.status_code == 404  # authenticated; the batch just does not exist


def test_codes_are_forgiving_about_case_spaces_and_dashes(client, code):
    typed = " " + code.lower().replace("-", " ") + " "
    assert enroll(client, typed).status_code == 201


def test_a_used_code_is_refused(client, code):
    assert enroll(client, code).status_code == 201
    response = enroll(client, code)
    assert response.status_code == 400
    assert response.json()["code"] == "enrollment_code_used"
    assert Device.objects.count() == 1


def test_an_unknown_code_is_refused(client, db):
    response = enroll(client, "ABCDE-FGHJK")
    assert response.status_code == 400
    assert response.json()["code"] == "enrollment_code_invalid"
    assert Device.objects.count() == 0


def test_an_expired_code_is_refused(client, code):
    EnrollmentCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    response = enroll(client, code)
    assert response.status_code == 400
    assert response.json()["code"] == "enrollment_code_expired"
    assert Device.objects.count() == 0


def test_codes_expire_after_seven_days_by_default(patient, clinician):
    row, _ = enrollment_code_issue(patient=patient, actor=clinician)
    assert abs((row.expires_at - row.issued_at) - timedelta(days=7)) < timedelta(seconds=5)


def test_a_code_for_an_inactive_patient_is_refused(client, code, patient):
    patient.is_active = False
    patient.save()
    response = enroll(client, code)
    assert response.status_code == 400
    assert response.json()["code"] == "patient_inactive"


def test_a_missing_code_names_the_field(client, db):
    response = client.post(URL, {"label": "x"}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "code"


def test_codes_are_short_enough_to_type_and_stored_only_as_digests(code, patient):
    assert len(code.replace("-", "")) == 10
    row = EnrollmentCode.objects.get(patient=patient)
    assert code not in row.code_digest and len(row.code_digest) == 64


def test_repeated_guessing_is_throttled(client, db, settings):
    statuses = [enroll(client, f"WRONG-{i:05d}").status_code for i in range(25)]
    assert statuses[:20] == [400] * 20
    assert statuses[-1] == 429
