"""A batch that lands gets its patient's alert rules evaluated (debounced per patient), and a new
alert is e-mailed to the care team: with the real model, the real services and Django's locmem mail."""
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.alerts.models import Alert, AlertThresholds
from backend.alerts.services import alerts_after_landing
from backend.alerts.tasks import evaluate_patient_alerts
from backend.ingest.services import batch_process
from tests.backend.conftest import ingest


@pytest.fixture
def hair_trigger(patient):
    """Thresholds any batch with a face trips: one record, any negative share."""
    AlertThresholds.objects.create(patient=patient, min_records=1, negative_share=0.0)


def test_a_landed_batch_raises_the_alert_its_records_trip_and_mails_the_care_team(
    device, patient, clinician, face_jpeg, hair_trigger, eager_tasks, settings, mailoutbox,
    django_capture_on_commit_callbacks,
):
    settings.MOODWATCH_ALERTS = {**settings.MOODWATCH_ALERTS, "LANDING_DEBOUNCE_SECONDS": 0}
    batch = ingest(device, [face_jpeg])
    with django_capture_on_commit_callbacks(execute=True):
        batch_process(batch_pk=batch.pk)
    alert = Alert.objects.get(patient=patient, kind=Alert.Kind.NEGATIVE_MOOD)
    assert alert.records == 1 and alert.is_open
    assert alert.notified_at is not None and alert.notified_to == [clinician.username]
    (mail,) = mailoutbox
    assert mail.to == [clinician.email]


def test_without_new_data_nothing_is_evaluated_on_landing_of_another_patients_batch(
    device, patient, other_patient, face_jpeg, hair_trigger, eager_tasks, settings,
    django_capture_on_commit_callbacks,
):
    settings.MOODWATCH_ALERTS = {**settings.MOODWATCH_ALERTS, "LANDING_DEBOUNCE_SECONDS": 0}
    AlertThresholds.objects.create(patient=other_patient, min_records=0, negative_share=0.0)
    batch = ingest(device, [face_jpeg])
    with django_capture_on_commit_callbacks(execute=True):
        batch_process(batch_pk=batch.pk)
    assert not Alert.objects.filter(patient=other_patient).exists()


def test_landings_within_the_debounce_period_schedule_one_evaluation_after_it(patient, settings, monkeypatch):
    settings.MOODWATCH_ALERTS = {**settings.MOODWATCH_ALERTS, "LANDING_DEBOUNCE_SECONDS": 30}
    scheduled = []
    monkeypatch.setattr(evaluate_patient_alerts, "apply_async", lambda **kw: scheduled.append(kw))
    for _ in range(5):
        alerts_after_landing(patient_pk=patient.pk)
    assert [(kw["args"][0], kw["countdown"]) for kw in scheduled] == [(str(patient.pk), 30)]
    assert abs(scheduled[0]["args"][1] - time.time()) < 60, "the landing time, for the evaluation lag metric"
    from django.core.cache import cache

    cache.delete(f"alerts-landing:{patient.pk}")  # the key expires one second before the evaluation runs
    alerts_after_landing(patient_pk=patient.pk)
    assert len(scheduled) == 2


def test_the_evaluation_task_skips_patients_no_longer_monitored(patient, hair_trigger):
    patient.consent_recorded_at = timezone.now() - timedelta(days=10)
    patient.is_active = False
    patient.save()
    assert evaluate_patient_alerts.apply(args=[str(patient.pk)]).get() == []
    assert not Alert.objects.exists()
    assert evaluate_patient_alerts.apply(args=["00000000-0000-0000-0000-000000000000"]).get() == []
