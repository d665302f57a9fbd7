"""The periodic Celery task that evaluates and stores alerts, and its beat schedule."""
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from backend.alerts.models import Alert
from backend.alerts.tasks import evaluate_alerts
from tests.backend.factories import DeviceFactory, PatientFactory


def test_the_task_is_scheduled_by_celery_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["evaluate-alerts"]
    assert entry["task"] == "backend.alerts.tasks.evaluate_alerts" == evaluate_alerts.name
    assert entry["schedule"] == 15 * 60


def test_running_the_task_twice_stores_each_alert_once(clinician):
    patient = PatientFactory(clinicians=[clinician], consent_recorded_at=timezone.now() - timedelta(days=5))
    device = DeviceFactory(patient=patient)  # enrolled five days ago, and silent since
    type(device).objects.filter(pk=device.pk).update(enrolled_at=timezone.now() - timedelta(days=5))
    assert evaluate_alerts.apply().get() == {"patients": 1, "raised": 1}
    assert evaluate_alerts.apply().get() == {"patients": 1, "raised": 0}
    assert Alert.objects.filter(patient=patient).count() == 1
