"""Celery tasks: thin wrappers that take primary keys and call services."""
import logging

from celery import Task, shared_task
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import worker_process_init
from django.db import InterfaceError, OperationalError

from backend.core import logs

from . import selectors, services

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


TIME_LIMIT_EXCEEDED = "time_limit_exceeded"


class BatchTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """At the hard time limit the pool kills the child, and Celery calls this in the worker's
        main process (the message is acknowledged, not redelivered): the batch is failed there."""
        if isinstance(exc, TimeLimitExceeded) and args:
            logger.error("batch %s: killed at the hard time limit (%s s)", args[0], exc)
            services.batch_attempt_fail(batch_pk=args[0], task_id=task_id, retry=False,
                                        error=f"{TIME_LIMIT_EXCEEDED}: killed at the hard time limit ({exc} s).")


@shared_task(
    name=services.PROCESS_BATCH_TASK,
    bind=True,
    base=BatchTask,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=TRANSIENT,  # e.g. the database restarting: retry with bounded, jittered backoff
    retry_backoff=2,
    retry_backoff_max=60,
    retry_jitter=True,
    max_retries=6,
)
def process_batch(self, batch_pk: int) -> None:
    """Time limits: CELERY_TASK_SOFT_TIME_LIMIT / CELERY_TASK_TIME_LIMIT. A batch that runs out of
    time is failed at once, not retried: a second attempt would cost as much CPU and fail too."""
    task_id = self.request.id or ""
    # The batch's own upload's request id, whichever request or task dispatched it (a device's backlog is
    # dispatched by the task that finished its previous batch, or by the sweeper).
    token = logs.request_id_var.set(selectors.batch_request_id(batch_pk=batch_pk) or logs.request_id_var.get())
    try:
        _batch_run(batch_pk=batch_pk, task_id=task_id)
    finally:
        logs.request_id_var.reset(token)
    # One batch per device in flight: this one is over (or was not ours), send the device's next.
    services.batch_dispatch_next(batch_pk=batch_pk)


def _batch_run(*, batch_pk: int, task_id: str) -> None:
    try:
        services.batch_process(batch_pk=batch_pk, task_id=task_id)
    except TRANSIENT:
        raise
    except SoftTimeLimitExceeded:
        logger.error("batch %s: processing ran past the soft time limit", batch_pk)
        services.batch_attempt_fail(batch_pk=batch_pk, task_id=task_id, retry=False,
                                    error=f"{TIME_LIMIT_EXCEEDED}: processing ran past the soft time limit.")
    except Exception as error:
        logger.exception("batch %s: processing failed", batch_pk)
        services.batch_attempt_fail(batch_pk=batch_pk, task_id=task_id, error=f"{type(error).__name__}: {error}")


@shared_task(acks_late=True, ignore_result=True)
def sweep_batches() -> dict:
    report = services.batch_sweep()
    if report.requeued or report.failed or report.frames_purged:
        logger.info("sweep: %s", report)
    return report.__dict__
