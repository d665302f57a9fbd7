"""Alert tasks: the periodic evaluation (Celery beat: settings.CELERY_BEAT_SCHEDULE), one patient's
evaluation after a batch lands, and the e-mail of a new alert."""
import smtplib

from celery import shared_task
from django.db import OperationalError

from profiling.stages import stage

from .services import (
    EVALUATE_PATIENT_ALERTS_TASK,
    NOTIFY_ALERT_TASK,
    alert_notify,
    alerts_evaluate,
    alerts_evaluate_monitored,
)

RETRY = {"autoretry_for": (OperationalError,), "max_retries": 3, "retry_backoff": 5}


@shared_task(acks_late=True, ignore_result=True)
def evaluate_alerts() -> dict:
    report = alerts_evaluate()
    return {"patients": report.patients, "raised": report.raised}


@shared_task(name=EVALUATE_PATIENT_ALERTS_TASK, acks_late=True, ignore_result=True, **RETRY)
def evaluate_patient_alerts(patient_pk: str, landed_at: float | None = None) -> list[str]:
    with stage("alert evaluation"):
        return alerts_evaluate_monitored(patient_pk=patient_pk, landed_at=landed_at)


@shared_task(name=NOTIFY_ALERT_TASK, acks_late=True, ignore_result=True,
             autoretry_for=(OperationalError, OSError, smtplib.SMTPException),
             max_retries=3, retry_backoff=30)
def notify_alert(alert_pk: int) -> bool:
    return alert_notify(alert_pk=alert_pk)
