"""Issue 29 part 3: one definition of coverage, by capture time, named on the list and the patient
page; and a patient who cannot send anything (deactivated, phone revoked, no phone, data deleted on
request) is shown as such, not as "the phone sent nothing, check that the app is running". The
missing-data alert stays quiet where silence is expected."""
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.alerts.models import Alert
from backend.alerts.services import alerts_evaluate_patient
from backend.devices.services import device_revoke
from backend.ingest.models import FrameBatch
from backend.patients.services import patient_active_set
from backend.workflows.services import patient_data_delete
from tests.backend.factories import DeviceFactory, PatientFactory, add_records

pytestmark = pytest.mark.django_db

SILENT_PHONE = "check that the app is running"


def uploaded_at(batch, moment):
    FrameBatch.objects.filter(pk=batch.pk).update(received_at=moment)


def list_row(client, patient, **query) -> str:
    html = client.get("/patients/", query).content.decode()
    rows = re.findall(r"<tr[^>]*>.*?</tr>", html, re.S)
    return next(row for row in rows if f"/patients/{patient.pk}/" in row)


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_frames_uploaded_late_count_on_the_days_they_were_taken_on_the_list_and_the_page(clinician_web, patient):
    now = timezone.now()
    late = add_records(patient, now - timedelta(days=6), "neutral", 4, frame_count=5)  # taken 6 days ago
    uploaded_at(late, now - timedelta(minutes=5))  # ... uploaded just now
    old = add_records(patient, now - timedelta(days=9), "neutral", 7)  # taken before the week ...
    uploaded_at(old, now - timedelta(hours=1))  # ... uploaded within it: not this week's coverage
    add_records(patient, now - timedelta(days=2), "positive", 3)  # taken and uploaded 2 days ago

    row = text(list_row(clinician_web, patient))
    page = text(clinician_web.get(f"/patients/{patient.pk}/", {"range": "7d"}).content.decode())
    listed = int(re.search(r"(\d+) frames?, \d+% with a face", row).group(1))
    shown = int(re.search(r"Frames, by capture time (\d+)", page).group(1))
    assert listed == shown == 5 + 3
    header = text(clinician_web.get("/patients/").content.decode())
    assert "Coverage (7 d) by capture time" in header
    assert "Coverage per day (by capture time)" in page  # the chart's title names it too


def test_a_deactivated_patient_shows_monitoring_stopped_on_the_list_and_the_page(clinician, clinician_web, patient):
    DeviceFactory(patient=patient)
    patient_active_set(patient=patient, active=False, actor=clinician)
    row = text(list_row(clinician_web, patient, inactive="1"))
    page = text(clinician_web.get(f"/patients/{patient.pk}/").content.decode())
    assert "Monitoring stopped (deactivated) since" in row
    assert "Monitoring stopped (deactivated) since" in page
    assert "Monitoring is stopped: this patient was deactivated on" in page
    assert SILENT_PHONE not in page


def test_a_revoked_phone_is_named_and_raises_no_missing_data_alert(clinician, clinician_web, patient):
    add_records(patient, timezone.now() - timedelta(days=20), "neutral", 2, frame_count=2)  # enrolls a phone
    for device in patient.devices.all():
        device_revoke(device=device, actor=clinician)
    row = text(list_row(clinician_web, patient))
    page = text(clinician_web.get(f"/patients/{patient.pk}/").content.decode())
    assert "Phone revoked since" in row
    assert "The patient's phone was revoked on" in page and SILENT_PHONE not in page
    assert alerts_evaluate_patient(patient=patient, now=timezone.now() + timedelta(days=10)) == []


def test_a_patient_without_a_phone_is_named_and_raises_no_missing_data_alert(clinician, clinician_web):
    patient = PatientFactory(clinicians=[clinician], consent_recorded_at=timezone.now() - timedelta(days=30))
    assert "No phone enrolled" in text(list_row(clinician_web, patient))
    page = text(clinician_web.get(f"/patients/{patient.pk}/").content.decode())
    assert "No phone enrolled" in page and SILENT_PHONE not in page
    assert alerts_evaluate_patient(patient=patient, now=timezone.now()) == []


def test_deleted_data_are_named_and_the_silence_is_counted_from_the_deletion(clinician, clinician_web, patient):
    device = DeviceFactory(patient=patient)
    type(device).objects.filter(pk=device.pk).update(enrolled_at=timezone.now() - timedelta(days=40))
    add_records(patient, timezone.now() - timedelta(days=30), "neutral", 3)
    patient_data_delete(patient=patient, actor=clinician)
    row = text(list_row(clinician_web, patient))
    page = text(clinician_web.get(f"/patients/{patient.pk}/").content.decode())
    assert "Data deleted on request" in row
    assert "The patient's data were deleted on request on" in page and SILENT_PHONE not in page
    # the last upload (30 days ago) was deleted: silence counts from the deletion, not from then
    assert alerts_evaluate_patient(patient=patient, now=timezone.now() + timedelta(days=1)) == []
    assert alerts_evaluate_patient(patient=patient, now=timezone.now() + timedelta(days=2, minutes=1)) == [
        Alert.Kind.NO_DATA]


def test_a_monitored_phone_that_sends_nothing_is_still_reported_as_silent(clinician, clinician_web, patient):
    device = DeviceFactory(patient=patient)
    type(device).objects.filter(pk=device.pk).update(enrolled_at=timezone.now() - timedelta(days=5))
    type(patient).objects.filter(pk=patient.pk).update(consent_recorded_at=timezone.now() - timedelta(days=5))
    patient.refresh_from_db()
    row = text(list_row(clinician_web, patient))
    page = text(clinician_web.get(f"/patients/{patient.pk}/").content.decode())
    assert SILENT_PHONE in page
    assert not re.search(r"Monitoring stopped|Phone revoked|No phone enrolled|Data deleted", row + page)
    assert alerts_evaluate_patient(patient=patient, now=timezone.now()) == [Alert.Kind.NO_DATA]
