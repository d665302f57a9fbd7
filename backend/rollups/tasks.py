"""Periodic rollup refresh (settings.CELERY_BEAT_SCHEDULE); each batch is also folded right after it lands."""
from celery import shared_task

from .services import rollup_refresh_all


@shared_task(acks_late=True, ignore_result=True)
def refresh_rollups() -> None:
    rollup_refresh_all()
