"""A patient's inference mode: set by their clinicians (dashboard manage page, PATCH /api/v1/patients/{id}/,
the admin), always through patient_inference_mode_set, always audited; read in the patient's API
representation; and obeyed by the device API at once."""
import pytest
from rest_framework.test import APIClient

from backend.audit.models import AuditAction, AuditChannel, AuditEvent
from backend.core.errors import ApplicationError
from backend.patients.models import Patient
from backend.patients.services import patient_inference_mode_set
from tests.backend.conftest import batch_payload, clinician_client


def url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/"


def mode_events(patient):
    return list(AuditEvent.objects.filter(action=AuditAction.PATIENT_UPDATE, patient=patient)
                .order_by("id").values_list("detail", "channel"))


# --- the service -----------------------------------------------------------------------------------

def test_the_service_changes_the_mode_and_audits_before_and_after(patient, clinician):
    patient_inference_mode_set(patient=patient, inference_mode="on_device", actor=clinician)
    assert Patient.objects.get(pk=patient.pk).inference_mode == "on_device"
    assert mode_events(patient) == [
        ({"fields": {"inference_mode": "on_device"}, "before": {"inference_mode": "frames"}}, AuditChannel.SYSTEM)]


def test_setting_the_same_mode_changes_and_records_nothing(patient, clinician):
    patient_inference_mode_set(patient=patient, inference_mode="frames", actor=clinician)
    assert mode_events(patient) == []


@pytest.mark.parametrize("value", ["", "server", "ON_DEVICE", "frames\x00", None, 1])
def test_another_value_is_refused(patient, clinician, value):
    with pytest.raises(ApplicationError) as refused:
        patient_inference_mode_set(patient=patient, inference_mode=value, actor=clinician)
    assert refused.value.code == "invalid_inference_mode"
    assert Patient.objects.get(pk=patient.pk).inference_mode == "frames"
    assert mode_events(patient) == []


@pytest.mark.django_db(transaction=True)
def test_a_patient_that_existed_at_the_migration_keeps_frames_and_a_new_one_runs_on_the_device():
    import uuid

    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate([("patients", "0002_reference_key")])
    old = uuid.uuid4()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO patients_patient (id, reference, reference_key, display_name, timezone, is_active,"
            " created_at) VALUES (%s, 'P-OLD', 'p-old', '', 'UTC', true, now())", [old])
    executor = MigrationExecutor(connection)
    executor.migrate(leaves)
    assert Patient.objects.get(pk=old).inference_mode == "frames"
    assert Patient.objects.create(reference="P-NEW").inference_mode == "on_device"


# --- the clinician API -------------------------------------------------------------------------------

def test_the_patients_clinician_patches_the_mode_and_gets_the_representation(patient, clinician):
    response = clinician_client(clinician).patch(url(patient), {"inference_mode": "on_device"}, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == str(patient.pk) and body["inference_mode"] == "on_device"
    assert body["reference"] == patient.reference
    assert mode_events(patient)[0][1] == AuditChannel.API


def test_an_admin_may_patch_any_patient(patient, admin_user):
    response = clinician_client(admin_user).patch(url(patient), {"inference_mode": "on_device"}, format="json")
    assert response.status_code == 200


@pytest.mark.parametrize("target", ["patient", "missing", "not-a-uuid"])
def test_another_clinician_gets_404_and_changes_nothing(request, other_clinician, patient, target):
    path = {"patient": url(patient), "missing": "/api/v1/patients/00000000-0000-0000-0000-000000000000/",
            "not-a-uuid": "/api/v1/patients/nope/"}[target]
    response = clinician_client(other_clinician).patch(path, {"inference_mode": "on_device"}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert Patient.objects.get(pk=patient.pk).inference_mode == "frames"


@pytest.mark.parametrize(("body", "field"), [
    ({"inference_mode": "server"}, "inference_mode"),
    ({"inference_mode": ["on_device"]}, "inference_mode"),
    ({"inference_mode": None}, "inference_mode"),
    ({}, "inference_mode"),
    ({"inference_mode": "on_device", "reference": "P-HIJACK"}, "reference"),
])
def test_a_bad_body_is_a_validation_error(patient, clinician, body, field):
    response = clinician_client(clinician).patch(url(patient), body, format="json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == "validation_error"
    assert field in {e["field"] for e in payload["errors"]}
    patient.refresh_from_db()
    assert (patient.inference_mode, patient.reference) == ("frames", "P-ALPHA")


def test_anonymous_and_device_tokens_are_refused(patient, device):
    assert APIClient().patch(url(patient), {"inference_mode": "on_device"}, format="json").status_code == 401
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {device.token}")
    assert client.patch(url(patient), {"inference_mode": "on_device"}, format="json").status_code == 401
    assert Patient.objects.get(pk=patient.pk).inference_mode == "frames"


def test_the_patient_list_shows_each_mode(patient, clinician):
    rows = clinician_client(clinician).get("/api/v1/patients/").json()
    rows = rows["results"] if isinstance(rows, dict) else rows
    assert [row["inference_mode"] for row in rows] == ["frames"]


def test_after_the_switch_the_phones_frames_are_refused(patient, clinician, device_client, face_jpeg):
    assert device_client.post("/api/v1/frame-batches/", batch_payload([face_jpeg]), format="multipart").status_code \
        == 202
    clinician_client(clinician).patch(url(patient), {"inference_mode": "on_device"}, format="json")
    response = device_client.post("/api/v1/frame-batches/", batch_payload([face_jpeg]), format="multipart")
    assert response.status_code == 403 and response.json()["code"] == "inference_mode_mismatch"


# --- the dashboard -----------------------------------------------------------------------------------

def test_the_manage_page_shows_the_mode_and_saves_a_change(patient, clinician_web):
    page = clinician_web.get(f"/patients/{patient.pk}/manage/").content.decode()
    assert 'name="inference_mode" value="frames" checked' in page
    assert 'value="on_device"' in page
    response = clinician_web.post(f"/patients/{patient.pk}/inference-mode/", {"inference_mode": "on_device"})
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/manage/"
    assert Patient.objects.get(pk=patient.pk).inference_mode == "on_device"
    assert mode_events(patient)[0][1] == AuditChannel.DASHBOARD


def test_the_manage_form_refuses_a_bad_value_with_a_message(patient, clinician_web):
    response = clinician_web.post(f"/patients/{patient.pk}/inference-mode/", {"inference_mode": "gpu"}, follow=True)
    assert response.status_code == 200
    assert "not an inference mode" in response.content.decode()
    assert Patient.objects.get(pk=patient.pk).inference_mode == "frames"


def test_another_clinician_cannot_change_the_mode_on_the_dashboard(patient, other_clinician_web):
    response = other_clinician_web.post(f"/patients/{patient.pk}/inference-mode/", {"inference_mode": "on_device"})
    assert response.status_code == 404
    assert Patient.objects.get(pk=patient.pk).inference_mode == "frames"
