"""Patient management: create with consent, enrollment codes (large + QR), devices, consent, deactivation,
thresholds."""
import pytest

from backend.alerts.definitions import THRESHOLD_LABELS, THRESHOLD_NAMES
from backend.alerts.models import AlertThresholds
from backend.audit.models import AuditAction, AuditEvent
from backend.devices.models import EnrollmentCode
from backend.devices.services import device_enroll
from backend.patients.models import Patient
from tests.backend.factories import DeviceFactory


def actions(patient=None) -> list[str]:
    events = AuditEvent.objects.order_by("id")
    if patient is not None:
        events = events.filter(patient=patient)
    return list(events.values_list("action", flat=True))


def test_a_clinician_creates_a_patient_assigned_to_them_with_consent(clinician_web, clinician):
    response = clinician_web.post("/patients/new/", {
        "reference": "P-NEW", "display_name": "New", "timezone": "America/New_York", "consent": "on",
    })
    patient = Patient.objects.get(reference="P-NEW")
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/manage/"
    assert list(patient.clinicians.all()) == [clinician]
    assert patient.has_consent and patient.consent_recorded_by == clinician
    assert actions(patient) == [AuditAction.PATIENT_CREATE, AuditAction.CONSENT_RECORD]


def test_a_patient_created_without_consent_has_none(clinician_web):
    clinician_web.post("/patients/new/", {"reference": "P-NOC", "timezone": "UTC"})
    assert not Patient.objects.get(reference="P-NOC").has_consent
    assert actions() == [AuditAction.PATIENT_CREATE]


def test_a_bad_time_zone_is_explained(clinician_web, patient):
    response = clinician_web.post("/patients/new/", {"reference": "P-NEW", "timezone": "Mars/Olympus"})
    assert response.status_code == 200
    assert "is not an IANA time zone" in response.content.decode()


def test_my_teams_reference_is_refused_and_another_teams_is_free(clinician_web, patient, other_patient):
    """References are unique per clinician: another team's reference answers like a new one (302),
    so a create never reveals that it exists (see tests/dashboard/test_patient_reference_abuse.py)."""
    from django.utils.html import escape

    from backend.patients.services import REFERENCE_UNAVAILABLE

    mine = clinician_web.post("/patients/new/", {"reference": patient.reference, "timezone": "UTC"})
    assert mine.status_code == 409
    assert escape(REFERENCE_UNAVAILABLE) in mine.content.decode()
    assert mine.context["form"].errors == {"reference": [REFERENCE_UNAVAILABLE]}
    theirs = clinician_web.post("/patients/new/", {"reference": other_patient.reference, "timezone": "UTC"})
    assert theirs.status_code == 302
    assert Patient.objects.filter(reference=other_patient.reference).count() == 2
    assert list(other_patient.clinicians.all()) != list(Patient.objects.get(
        reference=other_patient.reference, clinicians__username="dr_house").clinicians.all())


def test_a_create_that_loses_the_race_for_a_reference_is_refused_not_a_server_error(clinician):
    from backend.core.errors import ApplicationError
    from backend.patients.services import patient_create

    patient_create(actor=clinician, reference="P-RACE", clinicians=[clinician])
    with pytest.raises(ApplicationError) as refused:
        patient_create(actor=clinician, reference="P-RACE", clinicians=[clinician])
    assert refused.value.code == "reference_unavailable" and refused.value.status_code == 409
    assert Patient.objects.filter(reference="P-RACE").count() == 1


def test_an_admin_may_assign_other_clinicians(admin_web, clinician):
    admin_web.post("/patients/new/", {"reference": "P-ADM", "timezone": "UTC", "clinicians": [clinician.pk]})
    assert {u.username for u in Patient.objects.get(reference="P-ADM").clinicians.all()} == {"admin", "dr_house"}


def test_a_clinician_cannot_assign_colleagues_through_the_form(clinician_web, other_clinician):
    clinician_web.post("/patients/new/", {"reference": "P-X", "timezone": "UTC", "clinicians": [other_clinician.pk]})
    assert [u.username for u in Patient.objects.get(reference="P-X").clinicians.all()] == ["dr_house"]


def test_the_enrollment_code_is_shown_large_with_a_qr_code_and_expiry_and_works_once(clinician_web, patient):
    issued = clinician_web.post(f"/patients/{patient.pk}/enrollment-code/")
    assert issued.status_code == 302 and issued["Location"] == f"/patients/{patient.pk}/enrollment-code/"
    response = clinician_web.get(issued["Location"])
    html = response.content.decode()
    code = response.context["code"]
    assert response["Cache-Control"] == "no-store"
    assert f'<p class="code" aria-label="enrollment code">{code}</p>' in html
    assert "<svg" in html and "<path" in html
    assert "Valid once, until" in html
    device, _ = device_enroll(code=code, label="Pixel")
    assert device.patient == patient
    assert actions(patient) == [AuditAction.ENROLLMENT_CODE_ISSUE, AuditAction.PATIENT_VIEW,
                                AuditAction.DEVICE_ENROLL]


def test_no_enrollment_code_for_a_deactivated_patient(clinician_web, patient):
    Patient.objects.filter(pk=patient.pk).update(is_active=False)
    response = clinician_web.post(f"/patients/{patient.pk}/enrollment-code/")
    assert response.status_code == 302
    assert not EnrollmentCode.objects.exists()


def test_the_manage_page_lists_devices_without_their_tokens(clinician_web, patient):
    device = DeviceFactory(patient=patient, label="Pixel 7")
    html = clinician_web.get(f"/patients/{patient.pk}/manage/").content.decode()
    assert "Pixel 7" in html
    assert (
        device.token.split(".", 1)[1] not in html
        and device.token_digest not in html
        and device.token_lookup_id not in html
    )


def test_revoking_a_device_stops_it_and_is_audited(clinician_web, patient):
    device = DeviceFactory(patient=patient)
    response = clinician_web.post(f"/patients/{patient.pk}/devices/{device.pk}/revoke/")
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/manage/"
    device.refresh_from_db()
    assert device.is_revoked
    assert actions(patient) == [AuditAction.DEVICE_REVOKE]


def test_a_device_of_another_patient_cannot_be_revoked_through_this_one(clinician_web, patient, other_patient):
    stranger = DeviceFactory(patient=other_patient)
    assert clinician_web.post(f"/patients/{patient.pk}/devices/{stranger.pk}/revoke/").status_code == 404
    stranger.refresh_from_db()
    assert not stranger.is_revoked


def test_consent_is_withdrawn_and_recorded_again_with_audit(clinician_web, patient):
    clinician_web.post(f"/patients/{patient.pk}/consent/", {"consent": "withdraw"})
    patient.refresh_from_db()
    assert not patient.has_consent
    clinician_web.post(f"/patients/{patient.pk}/consent/", {"consent": "record"})  # box not ticked: refused
    patient.refresh_from_db()
    assert not patient.has_consent
    clinician_web.post(f"/patients/{patient.pk}/consent/", {"consent": "record", "confirm": "yes"})
    patient.refresh_from_db()
    assert patient.has_consent
    assert actions(patient) == [AuditAction.CONSENT_WITHDRAW, AuditAction.CONSENT_RECORD]


def test_deactivating_and_reactivating_a_patient(clinician_web, patient):
    clinician_web.post(f"/patients/{patient.pk}/active/", {"active": "0"})
    patient.refresh_from_db()
    assert not patient.is_active
    clinician_web.post(f"/patients/{patient.pk}/active/", {"active": "1"})
    patient.refresh_from_db()
    assert patient.is_active
    assert actions(patient) == [AuditAction.PATIENT_DEACTIVATE, AuditAction.PATIENT_REACTIVATE]


def test_per_patient_thresholds_are_saved_and_audited(clinician_web, patient):
    clinician_web.post(f"/patients/{patient.pk}/thresholds/", {"negative_share": "0.5", "min_records": "20"})
    row = AlertThresholds.objects.get(patient=patient)
    assert (row.window_days, row.negative_share, row.min_records, row.no_data_days) == (None, 0.5, 20, None)
    assert actions(patient) == [AuditAction.ALERT_THRESHOLDS_CHANGE]


def test_the_manage_page_offers_every_threshold_with_its_override_and_default(clinician_web, patient, settings):
    AlertThresholds.objects.create(patient=patient, min_records=17)
    settings.MOODWATCH_ALERTS = {**settings.MOODWATCH_ALERTS, "NO_DATA_DAYS": 11}
    page = clinician_web.get(f"/patients/{patient.pk}/manage/").content.decode()
    for name in THRESHOLD_NAMES:
        assert f'name="{name}"' in page
        assert f"{THRESHOLD_LABELS[name]}</label> <input" in page
    assert 'name="min_records" value="17"' in page
    assert "default 11</span>" in page


def test_an_out_of_range_threshold_is_refused(clinician_web, patient):
    clinician_web.post(f"/patients/{patient.pk}/thresholds/", {"negative_share": "1.5"})
    assert not AlertThresholds.objects.exists()


@pytest.mark.parametrize("method, path, data", [
    ("get", "manage/", {}),
    ("post", "enrollment-code/", {}),
    ("post", "consent/", {"consent": "withdraw"}),
    ("post", "active/", {"active": "0"}),
    ("post", "thresholds/", {"negative_share": "0.1"}),
])
def test_another_clinician_gets_404_and_changes_nothing(other_clinician_web, patient, method, path, data):
    response = getattr(other_clinician_web, method)(f"/patients/{patient.pk}/{path}", data)
    assert response.status_code == 404
    patient.refresh_from_db()
    assert patient.has_consent and patient.is_active
    assert (
        not EnrollmentCode.objects.exists()
        and not AlertThresholds.objects.exists()
        and not AuditEvent.objects.exists()
    )


def test_anonymous_is_sent_to_login(anonymous_web, patient):
    assert anonymous_web.post(f"/patients/{patient.pk}/active/", {"active": "0"}).status_code == 302
    patient.refresh_from_db()
    assert patient.is_active
