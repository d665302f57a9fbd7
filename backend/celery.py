"""The Celery application. Configuration lives in Django settings under the CELERY_ prefix."""
import logging.config
import os

from celery import Celery
from celery.signals import (
    before_task_publish,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_init,
    worker_process_shutdown,
)

from backend.core import logs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings")

app = Celery("moodwatch")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def _database_connections_recycle(task=None, **_kwargs) -> None:
    """Keep each worker process's database connection across tasks, as gunicorn does across requests.

    Celery's Django fix-up closes the connection around every task unless CELERY_DB_REUSE_MAX is
    set; reconnecting cost a PostgreSQL backend start and the authentication round trips per batch. With
    reuse on, this applies Django's own rule instead: a connection is closed when it is older
    than CONN_MAX_AGE or broke in the last task (e.g. PostgreSQL restarted), so the next task
    reconnects rather than failing on a dead socket.
    """
    if task is not None and getattr(task.request, "is_eager", False):
        return  # eager tasks run inside the caller's request or transaction
    from django.db import close_old_connections

    close_old_connections()


# --- logs: Django's LOGGING (JSON lines), and the request id carried from the upload into its tasks ---------

@setup_logging.connect
def _logging_from_django_settings(**_kwargs) -> None:
    """Connected, so Celery leaves logging alone: the worker writes the same JSON lines as web."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@before_task_publish.connect
def _request_id_send(headers=None, **_kwargs) -> None:
    """A task sent while a request id is set (an upload's request, a task sending the next one) carries it."""
    request_id = logs.request_id_var.get()
    if request_id and headers is not None and not headers.get(logs.TASK_HEADER):
        headers[logs.TASK_HEADER] = request_id


@task_prerun.connect
def _request_id_receive(task=None, **_kwargs) -> None:
    """In the worker: the task's log lines (and the tasks it sends) have the request id it came with."""
    if task is None or getattr(task.request, "is_eager", False):
        return  # in process the caller's id is already set
    given = getattr(task.request, logs.TASK_HEADER, None) or (task.request.headers or {}).get(logs.TASK_HEADER)
    task.request.moodwatch_request_id_token = logs.request_id_var.set(logs.request_id_accept(given) if given else "")


@task_postrun.connect
def _request_id_clear(task=None, **_kwargs) -> None:
    token = getattr(task.request, "moodwatch_request_id_token", None) if task is not None else None
    if token is not None:
        logs.request_id_var.reset(token)
        task.request.moodwatch_request_id_token = None


# --- metrics: a worker's own exporter (backend.core.metrics) ------------------------------------------

@worker_init.connect
def _metrics_exporter_start(**_kwargs) -> None:
    """In the worker's main process, before the pool forks: clear the multiprocess folder a previous run
    left, then export on METRICS_WORKER_PORT (when set) what the pool's processes count.

    backend.core.metrics is imported here, once Django's settings are loaded, not when this module is:
    prometheus_client chooses its storage when imported, from PROMETHEUS_MULTIPROC_DIR, which the
    settings may have read from .env."""
    from django.conf import settings

    from backend.core import metrics

    if settings.METRICS_WORKER_PORT:
        metrics.multiprocess_dir_reset()
        metrics.worker_exporter_start(port=settings.METRICS_WORKER_PORT)


@worker_process_shutdown.connect
def _metrics_process_dead(pid=None, **_kwargs) -> None:
    from backend.core import metrics

    metrics.process_dead(pid or os.getpid())


INFERENCE_TASKS = frozenset({"backend.ingest.tasks.process_batch"})


def inference_queue(default_queue: str) -> str:
    """The queue process_batch goes to: CELERY_INFERENCE_QUEUE, or "<default queue>-inference"."""
    from django.conf import settings

    return settings.MOODWATCH_INFERENCE_QUEUE or f"{default_queue}-inference"


def task_route(name, args, kwargs, options, task=None, **_kw):
    """CELERY_TASK_ROUTES: inference on its own queue, everything else (housekeeping) on the default.

    Read when each task is sent, from the app's current default queue, so that a process publishing
    to a private queue (the test suite's workers) sends its batches to that queue's inference twin."""
    if name in INFERENCE_TASKS:
        return {"queue": inference_queue(app.conf.task_default_queue)}
    return None
