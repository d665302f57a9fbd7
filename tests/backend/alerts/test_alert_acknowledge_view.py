"""POST /patients/<id>/alerts/<alert>/acknowledge/: a note is optional (it joins the thread); audited; only the
patient's clinicians."""
import pytest
from django.utils import timezone

from backend.alerts.models import Alert
from backend.audit.models import AuditAction, AuditEvent


@pytest.fixture
def alert(patient):
    now = timezone.now()
    return Alert.objects.create(patient=patient, kind=Alert.Kind.NEGATIVE_MOOD, raised_at=now, evaluated_at=now,
                                records=80, negative_share=0.7, thresholds={"window_days": 3, "negative_share": 0.6})


def url(alert) -> str:
    return f"/patients/{alert.patient_id}/alerts/{alert.pk}/acknowledge/"


def test_the_clinician_acknowledges_with_a_note_and_it_is_audited(clinician_web, clinician, alert):
    response = clinician_web.post(url(alert), {"note": "Called the patient; appointment Friday."})
    assert response.status_code == 302 and response["Location"] == f"/patients/{alert.patient_id}/"
    alert.refresh_from_db()
    assert alert.acknowledged_by == clinician and alert.state == Alert.State.ACKNOWLEDGED
    assert [n.text for n in alert.notes.all()] == ["Called the patient; appointment Friday."]
    event = AuditEvent.objects.get(action=AuditAction.ALERT_ACKNOWLEDGE)
    assert event.detail["alert_id"] == alert.pk and event.patient == alert.patient


def test_an_empty_note_acknowledges_without_a_note(clinician_web, alert):
    clinician_web.post(url(alert), {"note": "   "})
    alert.refresh_from_db()
    assert alert.is_acknowledged and not alert.notes.exists()


def test_acknowledging_twice_keeps_the_first_acknowledgement(clinician_web, admin_web, alert):
    clinician_web.post(url(alert), {"note": "first"})
    assert admin_web.post(url(alert), {"note": "second"}).status_code == 409
    alert.refresh_from_db()
    assert [n.text for n in alert.notes.all()] == ["first"]
    assert AuditEvent.objects.filter(action=AuditAction.ALERT_ACKNOWLEDGE).count() == 1


def test_the_open_alert_shows_on_the_patient_page_with_its_form_then_its_note(clinician_web, alert):
    html = clinician_web.get(f"/patients/{alert.patient_id}/").content.decode()
    assert "Sustained negative mood" in html and "70% negative over 80 records" in html and url(alert) in html
    clinician_web.post(url(alert), {"note": "Seen in clinic"})
    html = clinician_web.get(f"/patients/{alert.patient_id}/").content.decode()
    assert "Seen in clinic" in html and url(alert) not in html
    assert '<span class="state-label status-acknowledged">Acknowledged</span>' in html, "still shown, in triage"


def test_a_redirect_target_off_site_is_ignored(clinician_web, alert):
    response = clinician_web.post(url(alert), {"note": "ok", "next": "https://evil.example/"})
    assert response["Location"] == f"/patients/{alert.patient_id}/"


def test_another_clinician_gets_404(other_clinician_web, alert):
    assert other_clinician_web.post(url(alert), {"note": "x"}).status_code == 404
    alert.refresh_from_db()
    assert not alert.is_acknowledged


def test_an_alert_of_another_patient_is_404_through_this_patient(clinician_web, alert, other_patient):
    now = timezone.now()
    foreign = Alert.objects.create(patient=other_patient, kind=Alert.Kind.NO_DATA, raised_at=now, evaluated_at=now)
    response = clinician_web.post(f"/patients/{alert.patient_id}/alerts/{foreign.pk}/acknowledge/", {"note": "x"})
    assert response.status_code == 404


def test_anonymous_is_sent_to_login(anonymous_web, alert):
    assert anonymous_web.post(url(alert), {"note": "x"}).status_code == 302
