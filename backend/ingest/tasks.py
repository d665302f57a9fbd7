"""Celery tasks: thin wrappers that take primary keys and call services."""
import logging

from celery import shared_task
from celery.signals import worker_process_init
from django.db import InterfaceError, OperationalError

from . import services

logger = logging.getLogger(__name__)

TRANSIENT = (OperationalError, InterfaceError)


@worker_process_init.connect
def _estimator_preload(**_kwargs) -> None:
    """Load the model once per worker child, after the fork, before the first batch arrives, and
    reserve its largest buffers so that the child's memory is flat from the start."""
    from .estimator import estimator_get

    try:
        estimator_get().warm_up()
    except Exception:  # keep the worker up; each task retries the load and records the error
        logger.exception("could not load the mood model at worker start")


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT,  # e.g. the database restarting: retry with bounded, jittered backoff
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=6,
)
def process_batch(self, batch_pk: int) -> None:
    task_id = self.request.id or ""
    try:
        services.batch_process(batch_pk=batch_pk, task_id=task_id)
    except TRANSIENT:
        raise
    except Exception as error:
        logger.exception("batch %s: processing failed", batch_pk)
        services.batch_attempt_fail(batch_pk=batch_pk, task_id=task_id, error=f"{type(error).__name__}: {error}")
    # One batch per device in flight: this one is over (or was not ours), send the device's next.
    services.batch_dispatch_next(batch_pk=batch_pk)


@shared_task(acks_late=True, ignore_result=True)
def sweep_batches() -> dict:
    report = services.batch_sweep()
    if report.requeued or report.failed or report.frames_purged:
        logger.info("sweep: %s", report)
    return report.__dict__
