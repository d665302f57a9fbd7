"""alert_notify: a new alert is e-mailed once to the patient's active clinicians, with no patient
name in the subject, and the notification is recorded on the alert and in the audit log."""
from datetime import timedelta

import pytest
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from backend.alerts.models import Alert
from backend.alerts.services import alert_notify, alerts_evaluate
from backend.audit.models import AuditAction, AuditEvent
from tests.backend.factories import PatientFactory, UserFactory, add_records


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down (the one thing here that would leave the machine)."""

    def send_messages(self, messages):
        raise ConnectionRefusedError("mail server down")


@pytest.fixture
def alert(clinician):
    patient = PatientFactory(reference="P-MAIL", display_name="Jeanne Martin", clinicians=[clinician],
                             consent_recorded_at=timezone.now() - timedelta(days=10))
    now = timezone.now()
    return Alert.objects.create(patient=patient, kind=Alert.Kind.NEGATIVE_MOOD, raised_at=now, evaluated_at=now,
                                records=80, negative_share=0.75, thresholds={"window_days": 3})


def test_the_care_team_gets_one_mail_that_names_no_patient_in_its_subject(alert, clinician, mailoutbox):
    colleague = UserFactory(username="dr-two")
    alert.patient.clinicians.add(colleague, UserFactory(username="no-mail", email=""),
                                 UserFactory(username="gone", is_active=False))
    assert alert_notify(alert_pk=alert.pk) is True
    assert sorted(mail.to for mail in mailoutbox) == sorted([[clinician.email], [colleague.email]]), "one each"
    mail = mailoutbox[0]
    assert "Jeanne" not in mail.subject and "Martin" not in mail.subject and "P-MAIL" not in mail.subject
    assert "Jeanne" not in mail.body and "P-MAIL" in mail.body and "/alerts/" in mail.body
    assert "75%" in mail.body
    alert.refresh_from_db()
    assert alert.notified_to == sorted([clinician.username, "dr-two"]) and alert.notified_at is not None
    event = AuditEvent.objects.get(action=AuditAction.ALERT_NOTIFY)
    assert event.patient_id == alert.patient_id and event.detail["recipients"] == alert.notified_to
    assert alert_notify(alert_pk=alert.pk) is False, "never twice"
    assert len(mailoutbox) == 2


def test_a_mail_server_fault_leaves_the_alert_unnotified_and_the_next_evaluation_retries(
    alert, settings, mailoutbox, monkeypatch
):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    with pytest.raises(ConnectionRefusedError):
        alert_notify(alert_pk=alert.pk)
    alert.refresh_from_db()
    assert alert.notified_at is None and alert.notification_attempts == 1
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from backend.alerts import tasks

    add_records(alert.patient, alert.raised_at - timedelta(hours=1), "negative", 60)  # the alert stays open
    retried = []
    monkeypatch.setattr(tasks.notify_alert, "delay", lambda pk: retried.append((pk, alert_notify(alert_pk=pk))))
    alerts_evaluate(now=alert.raised_at + timedelta(minutes=5))
    assert retried == [], "the task's own retries still have the alert"
    alerts_evaluate(now=alert.raised_at + timedelta(minutes=11))
    assert retried == [(alert.pk, True)] and len(mailoutbox) == 1
    assert Alert.objects.filter(resolved_at__isnull=True).get() == alert


def test_attempts_stop_at_the_configured_limit(alert, settings):
    settings.EMAIL_BACKEND = f"{__name__}.RefusingBackend"
    settings.MOODWATCH_ALERTS = {**settings.MOODWATCH_ALERTS, "NOTIFY_MAX_ATTEMPTS": 2}
    for _ in range(2):
        with pytest.raises(ConnectionRefusedError):
            alert_notify(alert_pk=alert.pk)
    assert alert_notify(alert_pk=alert.pk) is False
    alert.refresh_from_db()
    assert alert.notification_attempts == 2


def test_a_patient_without_a_reachable_clinician_is_recorded_as_notifying_nobody(alert, clinician, mailoutbox):
    clinician.email = ""
    clinician.save()
    assert alert_notify(alert_pk=alert.pk) is True
    alert.refresh_from_db()
    assert mailoutbox == [] and alert.notified_to == [] and alert.notified_at is not None


def test_a_resolved_alert_is_not_mailed(alert, mailoutbox):
    Alert.objects.filter(pk=alert.pk).update(resolved_at=timezone.now())
    assert alert_notify(alert_pk=alert.pk) is False and mailoutbox == []
