"""Periodic alert evaluation (scheduled by Celery beat: settings.CELERY_BEAT_SCHEDULE)."""
from celery import shared_task

from .services import alerts_evaluate


@shared_task(acks_late=True, ignore_result=True)
def evaluate_alerts() -> dict:
    report = alerts_evaluate()
    return {"patients": report.patients, "raised": report.raised}
