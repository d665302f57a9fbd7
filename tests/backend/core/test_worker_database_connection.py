"""A Celery worker process keeps its database connection between tasks, and drops a broken one."""
from types import SimpleNamespace

import psycopg
import pytest
from celery.fixups.django import DjangoWorkerFixup
from celery.signals import beat_embedded_init, task_postrun, task_prerun, worker_process_init
from django.db import OperationalError, connection

from backend.celery import app

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def worker_fixup():
    """Celery's Django fix-up, as a worker process installs it (it closes connections around tasks)."""
    fixup = DjangoWorkerFixup(app).install()
    yield fixup
    task_prerun.disconnect(fixup.on_task_prerun)
    task_postrun.disconnect(fixup.on_task_postrun)
    worker_process_init.disconnect(fixup.on_worker_process_init)
    beat_embedded_init.disconnect(fixup.close_database)


class WorkerTask:
    """What Celery passes as the task to its signals, for a task a worker runs."""

    request = SimpleNamespace(is_eager=False)


def run_task_signals() -> None:
    task = WorkerTask()
    task_prerun.send(sender=task, task=task, task_id="t")
    task_postrun.send(sender=task, task=task, task_id="t")


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def test_celerys_django_fixup_is_told_to_reuse_connections():
    assert app.conf.get("CELERY_DB_REUSE_MAX")


def test_consecutive_tasks_share_one_postgresql_connection():
    first = backend_pid()
    run_task_signals()
    run_task_signals()
    assert backend_pid() == first


def test_a_connection_that_broke_during_a_task_is_replaced_before_the_next():
    first = backend_pid()
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [first])  # what a PostgreSQL restart does
    with pytest.raises(OperationalError):
        backend_pid()  # the task that was running when it happened fails (and is retried)
    run_task_signals()
    assert backend_pid() != first


def test_a_connection_past_conn_max_age_is_closed_between_tasks():
    backend_pid()
    connection.close_at = 0  # as if CONN_MAX_AGE ran out
    run_task_signals()
    assert connection.connection is None
