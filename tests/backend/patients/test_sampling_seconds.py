"""A patient's own sampling rate (Patient.sampling_seconds; null = the clinic's DEVICE_SAMPLING_SECONDS):
set by their clinicians (dashboard manage page, PATCH /api/v1/patients/{id}/, the admin), always through
patient_device_settings_set, always audited with before and after; told to the phone by the manifest."""
import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.test import override_settings

from backend.audit.models import AuditAction, AuditChannel, AuditEvent
from backend.core.errors import ApplicationError
from backend.patients.models import Patient
from backend.patients.services import patient_device_settings_set
from tests.backend.conftest import clinician_client

LOW, HIGH = settings.MOODWATCH["MIN_SAMPLING_SECONDS"], settings.MOODWATCH["MAX_SAMPLING_SECONDS"]
DEFAULT = settings.MOODWATCH["DEVICE_SAMPLING_SECONDS"]


def url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/"


def events(patient):
    return list(AuditEvent.objects.filter(action=AuditAction.PATIENT_UPDATE, patient=patient)
                .order_by("id").values_list("detail", "channel"))


def stored(patient):
    return Patient.objects.values_list("sampling_seconds", flat=True).get(pk=patient.pk)


# --- the bounds, the model and the service ------------------------------------------------------------

def test_the_bounds_are_whole_seconds_from_one_second_to_one_hour():
    assert (LOW, HIGH) == (1, 3600)


@pytest.mark.parametrize("value", [LOW - 1, HIGH + 1])
def test_the_model_refuses_a_rate_outside_the_bounds(patient, value):
    patient.sampling_seconds = value
    with pytest.raises(ValidationError) as refused:
        patient.full_clean(validate_unique=False)
    assert "sampling_seconds" in refused.value.message_dict


@pytest.mark.parametrize("value", [LOW, HIGH, None])
def test_the_model_takes_the_bounds_and_none(patient, value):
    patient.sampling_seconds = value
    patient.full_clean(validate_unique=False)


def test_the_service_sets_the_rate_and_audits_before_and_after(patient, clinician):
    patient_device_settings_set(patient=patient, sampling_seconds=30, actor=clinician)
    patient_device_settings_set(patient=patient, sampling_seconds=None, actor=clinician)
    assert stored(patient) is None
    assert events(patient) == [
        ({"fields": {"sampling_seconds": 30}, "before": {"sampling_seconds": None}}, AuditChannel.SYSTEM),
        ({"fields": {"sampling_seconds": None}, "before": {"sampling_seconds": 30}}, AuditChannel.SYSTEM),
    ]


def test_setting_the_rate_the_patient_has_changes_and_records_nothing(patient, clinician):
    patient_device_settings_set(patient=patient, sampling_seconds=None, actor=clinician)
    assert events(patient) == []


def test_mode_and_rate_together_are_one_event(patient, clinician):
    patient_device_settings_set(patient=patient, inference_mode="on_device", sampling_seconds=5, actor=clinician)
    assert events(patient) == [({"fields": {"inference_mode": "on_device", "sampling_seconds": 5},
                                 "before": {"inference_mode": "frames", "sampling_seconds": None}},
                                AuditChannel.SYSTEM)]


@pytest.mark.parametrize("value", [0, -1, HIGH + 1, 1.5, 5.0, True, "5", float("nan"), float("inf"), [5]])
def test_the_service_refuses_anything_but_whole_seconds_in_bounds(patient, clinician, value):
    with pytest.raises(ApplicationError) as refused:
        patient_device_settings_set(patient=patient, inference_mode="on_device", sampling_seconds=value,
                                    actor=clinician)
    assert refused.value.code == "invalid_sampling_seconds" and refused.value.status_code == 400
    assert Patient.objects.values_list("inference_mode", "sampling_seconds").get(pk=patient.pk) == ("frames", None)
    assert events(patient) == []


# --- the clinician API ---------------------------------------------------------------------------------

def test_the_clinician_patches_the_rate_and_gets_it_back(patient, clinician):
    client = clinician_client(clinician)
    body = client.patch(url(patient), {"sampling_seconds": 20}, format="json").json()
    assert (body["sampling_seconds"], body["effective_sampling_seconds"], body["inference_mode"]) == (20, 20, "frames")
    body = client.patch(url(patient), {"sampling_seconds": None}, format="json").json()
    assert (body["sampling_seconds"], body["effective_sampling_seconds"]) == (None, DEFAULT)
    assert [channel for _, channel in events(patient)] == [AuditChannel.API, AuditChannel.API]


@pytest.mark.parametrize("value", [LOW, HIGH])
def test_the_api_takes_the_bounds(patient, clinician, value):
    response = clinician_client(clinician).patch(url(patient), {"sampling_seconds": value}, format="json")
    assert response.status_code == 200, response.content
    assert stored(patient) == value


@pytest.mark.parametrize("raw", ["0", "-1", str(HIGH + 1), "1.5", '"x"', "NaN", "true", "1e309", "[5]", '{"s": 5}',
                                 '""', "5.0", '"5"', "Infinity", "-Infinity"])
def test_a_bad_rate_is_a_validation_error_and_changes_nothing(patient, clinician, raw):
    response = clinician_client(clinician).generic(
        "PATCH", url(patient), f'{{"sampling_seconds": {raw}, "inference_mode": "on_device"}}',
        content_type="application/json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["code"] == "validation_error"
    assert "sampling_seconds" in {e["field"] for e in payload["errors"]}
    assert Patient.objects.values_list("inference_mode", "sampling_seconds").get(pk=patient.pk) == ("frames", None)
    assert events(patient) == []


def test_an_empty_body_names_both_fields(patient, clinician):
    response = clinician_client(clinician).patch(url(patient), {}, format="json")
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"inference_mode", "sampling_seconds"}


def test_another_clinician_gets_404_and_changes_nothing(patient, other_clinician):
    response = clinician_client(other_clinician).patch(url(patient), {"sampling_seconds": 9}, format="json")
    assert response.status_code == 404
    assert stored(patient) is None


# --- the manifest: what the phone follows --------------------------------------------------------------

def test_the_manifest_gives_the_patients_rate_and_a_change_at_the_next_request(patient, clinician, device_client):
    with override_settings(MOODWATCH={**settings.MOODWATCH, "DEVICE_SAMPLING_SECONDS": 2.5}):
        assert device_client.get("/api/v1/model/").json()["sampling_seconds"] == 2.5
        clinician_client(clinician).patch(url(patient), {"sampling_seconds": 45}, format="json")
        assert device_client.get("/api/v1/model/").json()["sampling_seconds"] == 45
        clinician_client(clinician).patch(url(patient), {"sampling_seconds": None}, format="json")
        assert device_client.get("/api/v1/model/").json()["sampling_seconds"] == 2.5


def test_the_hourly_frame_budget_holds_a_phone_at_the_fastest_rate():
    """The per-device budget is a fixed number, not derived from the clinic's rate; it must hold an
    hour at the fastest rate a clinician may set (plus catch-up room), whatever a patient's rate."""
    assert settings.MOODWATCH["DEVICE_FRAME_BUDGET_PER_HOUR"] >= 3600 // LOW


# --- the dashboard and the admin -------------------------------------------------------------------------

def test_the_manage_page_shows_the_rate_and_saves_a_change(patient, clinician_web):
    page = clinician_web.get(f"/patients/{patient.pk}/manage/").content.decode()
    assert "the clinic&#x27;s default" in page and f'max="{HIGH}"' in page and f'min="{LOW}"' in page
    response = clinician_web.post(f"/patients/{patient.pk}/sampling/", {"sampling_seconds": "12"}, follow=True)
    assert response.redirect_chain == [(f"/patients/{patient.pk}/manage/", 302)]
    assert "Sampling rate saved: one frame every 12 s." in response.content.decode()
    assert stored(patient) == 12 and events(patient)[0][1] == AuditChannel.DASHBOARD
    assert "a frame every <strong>12 s</strong>" in clinician_web.get(f"/patients/{patient.pk}/").content.decode()
    clinician_web.post(f"/patients/{patient.pk}/sampling/", {"sampling_seconds": ""})
    assert stored(patient) is None


@pytest.mark.parametrize("value", ["0", "-1", str(HIGH + 1), "1.5", "x", "NaN", "1e309", "9" * 400])
def test_the_manage_form_refuses_a_bad_rate_keeps_it_and_says_why(patient, clinician_web, value):
    response = clinician_web.post(f"/patients/{patient.pk}/sampling/", {"sampling_seconds": value})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Sampling rate not saved" in page
    assert f"Type a whole number of seconds from {LOW} to {HIGH}" in page
    assert f'value="{value}"' in page
    assert stored(patient) is None and events(patient) == []


def test_another_clinician_cannot_change_the_rate_on_the_dashboard(patient, other_clinician_web):
    assert other_clinician_web.post(f"/patients/{patient.pk}/sampling/", {"sampling_seconds": "9"}).status_code == 404
    assert stored(patient) is None


def _admin_post(admin_web, patient, clinician, sampling_seconds):
    return admin_web.post(f"/admin/patients/patient/{patient.pk}/change/", {
        "display_name": patient.display_name, "timezone": patient.timezone, "is_active": "on",
        "clinicians": [str(clinician.pk)], "inference_mode": patient.inference_mode,
        "sampling_seconds": sampling_seconds,
    })


def test_an_admin_change_of_the_rate_goes_through_the_service_and_is_audited(patient, admin_web, clinician):
    assert _admin_post(admin_web, patient, clinician, "60").status_code == 302
    assert stored(patient) == 60
    assert events(patient) == [
        ({"fields": {"sampling_seconds": 60}, "before": {"sampling_seconds": None}}, AuditChannel.ADMIN)]


def test_the_admin_refuses_a_rate_outside_the_bounds(patient, admin_web, clinician):
    response = _admin_post(admin_web, patient, clinician, str(HIGH + 1))
    assert response.status_code == 200 and b"sampling_seconds" in response.content
    assert stored(patient) is None and events(patient) == []


def test_a_form_body_sends_digits(patient, clinician):
    """A form's values are all text: there (and only there) digits are the number."""
    response = clinician_client(clinician).patch(url(patient), {"sampling_seconds": "7"}, format="multipart")
    assert response.status_code == 200, response.content
    assert stored(patient) == 7
    response = clinician_client(clinician).patch(url(patient), {"sampling_seconds": "7.5"}, format="multipart")
    assert response.status_code == 400 and stored(patient) == 7
