"""POST /api/v1/patients/{id}/enrollment-codes/: a clinician issues a code for their own patient."""
from backend.devices.models import EnrollmentCode
from tests.backend.conftest import clinician_client


def url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/enrollment-codes/"


def test_the_patients_clinician_issues_a_code_that_enrolls_a_device(client, clinician, patient):
    response = clinician_client(clinician).post(url(patient))
    assert response.status_code == 201
    body = response.json()
    assert body["patient_id"] == str(patient.pk) and body["expires_at"]
    assert EnrollmentCode.objects.get().issued_by == clinician
    enrolled = client.post("/api/v1/devices/enroll/", {"code": body["code"]}, content_type="application/json")
    assert enrolled.status_code == 201
    assert enrolled.json()["patient_id"] == str(patient.pk)


def test_another_clinician_cannot_issue_codes_for_a_patient_not_theirs(other_clinician, patient):
    assert clinician_client(other_clinician).post(url(patient)).status_code == 404
    assert EnrollmentCode.objects.count() == 0


def test_a_device_cannot_issue_codes(device_client, patient):
    assert device_client.post(url(patient)).status_code in (401, 403)
