"""GET /alerts/: every open alert of my patients, needing attention first, then most severe, then
newest; acknowledged inline; the header badge counts those needing attention."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.alerts.models import Alert
from backend.audit.models import AuditAction, AuditEvent
from tests.backend.factories import PatientFactory

URL = "/alerts/"
THRESHOLDS = {"window_days": 3, "negative_share": 0.6, "min_records": 50, "no_data_days": 2}


def raise_alert(patient, kind, *, hours_ago=1, **fields):
    moment = timezone.now() - timedelta(hours=hours_ago)
    return Alert.objects.create(patient=patient, kind=kind, raised_at=moment, evaluated_at=moment,
                                records=60, negative_share=0.7, thresholds=THRESHOLDS, **fields)


@pytest.fixture
def alerts(patient, other_patient, clinician):
    second = PatientFactory(reference="P-SECOND", clinicians=[clinician])
    return {
        "old_negative": raise_alert(patient, Alert.Kind.NEGATIVE_MOOD, hours_ago=30),
        "new_no_data": raise_alert(second, Alert.Kind.NO_DATA, hours_ago=1),
        "acknowledged": raise_alert(second, Alert.Kind.NEGATIVE_MOOD, hours_ago=2,
                                    acknowledged_at=timezone.now(), state=Alert.State.ACKNOWLEDGED),
        "resolved": raise_alert(patient, Alert.Kind.NO_DATA, hours_ago=50, resolved_at=timezone.now(),
                                state=Alert.State.RESOLVED),
        "not_mine": raise_alert(other_patient, Alert.Kind.NEGATIVE_MOOD),
    }


def shown(response) -> list[int]:
    return [a.pk for a in response.context["alerts"]]


def test_my_open_alerts_are_listed_needing_attention_first_then_most_severe_then_newest(clinician_web, alerts):
    response = clinician_web.get(URL)
    assert response.status_code == 200
    assert shown(response) == [alerts["old_negative"].pk, alerts["new_no_data"].pk, alerts["acknowledged"].pk]
    assert response.context["attention"] == 2
    html = response.content.decode()
    assert "P-SECOND" in html and html.count('class="ack"') == 2, "an Acknowledge button on each new alert"


def test_another_clinicians_patient_is_not_in_my_inbox_but_an_admin_sees_every_open_alert(
    other_clinician_web, admin_web, alerts
):
    assert shown(other_clinician_web.get(URL)) == [alerts["not_mine"].pk]
    assert set(shown(admin_web.get(URL))) == {a.pk for k, a in alerts.items() if k != "resolved"}


def test_a_deactivated_patients_alerts_leave_the_inbox(clinician_web, alerts, patient):
    patient.is_active = False
    patient.save()
    assert alerts["old_negative"].pk not in shown(clinician_web.get(URL))


def test_acknowledging_from_the_inbox_returns_to_it_and_records_the_note(clinician_web, alerts, clinician):
    alert = alerts["new_no_data"]
    response = clinician_web.post(f"/patients/{alert.patient_id}/alerts/{alert.pk}/acknowledge/",
                                  {"note": "phone was off, patient called", "next": URL})
    assert response.status_code == 302 and response.url == URL
    alert.refresh_from_db()
    assert alert.acknowledged_by == clinician and alert.notes.get().text == "phone was off, patient called"
    assert clinician_web.get(URL).context["attention"] == 1
    assert alert.pk in shown(clinician_web.get(URL)), "an acknowledged alert stays in the inbox until resolved"


def test_the_header_badge_counts_alerts_needing_attention_on_every_dashboard_page(clinician_web, alerts):
    html = clinician_web.get("/patients/").content.decode()
    assert '<span class="badge" aria-label="2 alerts need attention">2</span>' in html


def test_no_badge_when_nothing_needs_attention(other_clinician_web):
    html = other_clinician_web.get("/patients/").content.decode()
    assert 'class="badge"' not in html and ">Alerts<" in html


def test_the_inbox_is_audited_with_what_it_listed(clinician_web, alerts, clinician):
    clinician_web.get(URL)
    event = AuditEvent.objects.get(action=AuditAction.ALERT_INBOX)
    assert event.actor == clinician and event.detail == {"alerts": 3, "patients": 2}


def test_an_empty_inbox_says_so(other_clinician_web):
    assert "No open alerts" in other_clinician_web.get(URL).content.decode()


def test_anonymous_visitors_are_sent_to_the_login_page(anonymous_web):
    response = anonymous_web.get(URL)
    assert response.status_code == 302 and "/login/" in response.url


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_only_get_is_allowed(clinician_web, method):
    assert getattr(clinician_web, method)(URL).status_code == 405
