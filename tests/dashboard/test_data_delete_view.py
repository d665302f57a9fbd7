"""Deleting a patient's data on request: two confirmations, everything derived goes too, audited."""
from datetime import timedelta

from django.utils import timezone

from backend.alerts.models import Alert
from backend.audit.models import AuditAction, AuditEvent
from backend.ingest.models import FrameBatch
from backend.moods.models import MoodRecord, SelfReport
from backend.rollups.models import CaptureSlotCount, MoodSlotCount, UploadSlotCount
from backend.rollups.services import rollup_refresh_all
from tests.backend.factories import SelfReportFactory, add_records


def url(patient) -> str:
    return f"/patients/{patient.pk}/delete-data/"


def data_of(patient) -> tuple[int, int, int]:
    return (MoodRecord.objects.filter(patient=patient).count(), FrameBatch.objects.filter(patient=patient).count(),
            MoodSlotCount.objects.filter(patient=patient).count()
            + UploadSlotCount.objects.filter(patient=patient).count()
            + CaptureSlotCount.objects.filter(patient=patient).count())


def confirm_step_one(client, patient):
    response = client.post(url(patient), {"step": "1", "requested": "yes"})
    assert response.status_code == 200 and response.context["step"] == 2
    return response.context["token"]


def test_after_both_confirmations_records_self_reports_batches_rollups_and_alerts_are_gone(
    clinician_web, clinician, patient, other_patient
):
    now = timezone.now()
    add_records(patient, now - timedelta(days=1), "negative", 4)
    add_records(other_patient, now - timedelta(days=1), "positive", 2)
    SelfReportFactory.create_batch(2, device__patient=patient, mood="negative")
    SelfReportFactory(device__patient=other_patient)
    rollup_refresh_all()
    Alert.objects.create(patient=patient, kind=Alert.Kind.NO_DATA, raised_at=now, evaluated_at=now)
    assert b"<strong>2</strong> self-reports" in clinician_web.get(url(patient)).content
    token = confirm_step_one(clinician_web, patient)
    response = clinician_web.post(url(patient), {"step": "2", "token": token, "reference": "P-ALPHA"})
    assert response.status_code == 302
    assert data_of(patient) == (0, 0, 0) and not Alert.objects.filter(patient=patient).exists()
    assert not SelfReport.objects.filter(patient=patient).exists()
    assert SelfReport.objects.filter(patient=other_patient).count() == 1
    assert data_of(other_patient) == (2, 1, 3)  # one slot each of moods, uploads and captures
    event = AuditEvent.objects.get(action=AuditAction.DATA_DELETE)
    assert (event.actor, event.patient) == (clinician, patient)
    assert event.detail == {"records": 4, "batches": 1, "alerts": 1, "self_reports": 2}
    patient.refresh_from_db()  # the patient and their audit trail remain


def test_the_first_step_without_the_box_ticked_deletes_nothing(clinician_web, patient):
    add_records(patient, timezone.now(), "neutral", 2)
    response = clinician_web.post(url(patient), {"step": "1"})
    assert response.status_code == 302
    assert data_of(patient)[:2] == (2, 1)


def test_a_wrong_reference_at_the_second_step_deletes_nothing(clinician_web, patient):
    add_records(patient, timezone.now(), "neutral", 2)
    token = confirm_step_one(clinician_web, patient)
    response = clinician_web.post(url(patient), {"step": "2", "token": token, "reference": "P-ALPH"})
    assert response.status_code == 200 and "nothing was deleted" in response.content.decode()
    assert data_of(patient)[:2] == (2, 1)
    assert not AuditEvent.objects.filter(action=AuditAction.DATA_DELETE).exists()


def test_the_second_step_cannot_be_skipped_with_a_forged_token(clinician_web, patient):
    add_records(patient, timezone.now(), "neutral", 2)
    clinician_web.post(url(patient), {"step": "2", "token": "forged", "reference": "P-ALPHA"})
    assert data_of(patient)[:2] == (2, 1)


def test_a_token_from_another_user_is_refused(clinician_web, admin_web, patient):
    add_records(patient, timezone.now(), "neutral", 2)
    token = confirm_step_one(admin_web, patient)
    clinician_web.post(url(patient), {"step": "2", "token": token, "reference": "P-ALPHA"})
    assert data_of(patient)[:2] == (2, 1)


def test_another_clinician_gets_404(other_clinician_web, patient):
    add_records(patient, timezone.now(), "neutral", 2)
    assert other_clinician_web.get(url(patient)).status_code == 404
    assert other_clinician_web.post(url(patient), {"step": "1", "requested": "yes"}).status_code == 404
    assert data_of(patient)[:2] == (2, 1)


def test_a_replayed_confirmation_is_refused_with_a_page_that_says_so_and_deletes_nothing_new(clinician_web, patient):
    add_records(patient, timezone.now() - timedelta(hours=1), "neutral", 2)
    token = confirm_step_one(clinician_web, patient)
    confirmed = {"step": "2", "token": token, "reference": "P-ALPHA"}
    assert clinician_web.post(url(patient), confirmed).status_code == 302
    add_records(patient, timezone.now(), "negative", 3)  # uploaded after the deletion, within the 10 minutes

    replay = clinician_web.post(url(patient), confirmed)
    assert replay.status_code == 409
    page = replay.content.decode()
    assert "already used" in page and "Nothing more was deleted" in page
    assert replay.context["step"] == 1, "the page offers to start again"
    assert data_of(patient)[:2] == (3, 1)
    assert AuditEvent.objects.filter(action=AuditAction.DATA_DELETE).count() == 1


def test_a_confirmation_given_before_another_deletion_is_refused(clinician_web, admin_web, patient):
    """Two tabs (or two people): the confirmation given first does not delete what came after the
    deletion confirmed in the other."""
    add_records(patient, timezone.now(), "neutral", 2)
    first = confirm_step_one(clinician_web, patient)
    second = confirm_step_one(admin_web, patient)
    assert admin_web.post(url(patient), {"step": "2", "token": second, "reference": "P-ALPHA"}).status_code == 302
    add_records(patient, timezone.now(), "neutral", 1)
    refused = clinician_web.post(url(patient), {"step": "2", "token": first, "reference": "P-ALPHA"})
    assert refused.status_code == 409 and data_of(patient)[:2] == (1, 1)


def test_a_confirmation_without_the_deletion_count_is_refused(clinician_web, clinician, patient):
    """A token signed before confirmations became single-use (or any token missing the count)."""
    from django.core import signing

    add_records(patient, timezone.now(), "neutral", 2)
    legacy = signing.dumps({"patient": str(patient.pk), "user": clinician.pk}, salt="dashboard.patient-data-delete")
    response = clinician_web.post(url(patient), {"step": "2", "token": legacy, "reference": "P-ALPHA"})
    assert response.status_code == 302 and data_of(patient)[:2] == (2, 1)
