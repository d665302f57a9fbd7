"""The Celery application. Configuration lives in Django settings under the CELERY_ prefix."""
import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

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
