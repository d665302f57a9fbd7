"""Fixtures shared by the whole suite."""
from pathlib import Path

import pytest

SHARED_IMAGES = Path(__file__).resolve().parents[1].parent / "shared" / "images"


@pytest.fixture(scope="session")
def sample_images_dir() -> Path:
    """Real face photos (../shared/images by default; MOODWATCH_SAMPLE_IMAGES_DIR overrides)."""
    try:
        from django.conf import settings

        folder = Path(settings.MOODWATCH["SAMPLE_IMAGES_DIR"])
    except Exception:  # suites that do not configure Django
        folder = SHARED_IMAGES
    if not folder.is_dir():
        pytest.fail(f"sample photos not found at {folder}")
    return folder


@pytest.fixture
def eager_tasks():
    """Celery tasks run in the calling process, as under `make run` (no worker to start)."""
    from backend.celery import app

    before = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = before


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database, whose drop at the end no leftover connection can block.

    A request thread of the browser tests' live server (a daemon thread Django does not join when
    it stops the server) was seen still holding its persistent connection (`CONN_MAX_AGE`) at the
    end of the run, idle since the session's user lookup, so the drop failed with "database is
    being accessed by other users" and the test database was left behind.
    """
    yield
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                       " WHERE datname = current_database() AND pid <> pg_backend_pid()")
