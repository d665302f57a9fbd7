"""POST /api/v1/patients/{id}/enrollment-codes/: a clinician issues a code for their own patient."""
from backend.audit.models import AuditAction, AuditChannel, AuditEvent
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
    assert device_client.post(url(patient)).status_code == 401


def test_a_deactivated_patient_gets_no_code_and_no_audit_row(clinician, patient):
    patient.is_active = False
    patient.save(update_fields=["is_active"])
    response = clinician_client(clinician).post(url(patient))
    assert response.status_code == 409 and response.json()["code"] == "patient_inactive"
    assert EnrollmentCode.objects.count() == 0
    assert not AuditEvent.objects.exists()


def test_the_code_is_audited_as_issued_through_the_api(clinician, patient):
    clinician_client(clinician).post(url(patient))
    event = AuditEvent.objects.get()
    assert (event.action, event.channel, event.actor, event.patient) == (
        AuditAction.ENROLLMENT_CODE_ISSUE, AuditChannel.API, clinician, patient)
    assert event.detail["enrollment_code_id"] == EnrollmentCode.objects.get().pk
