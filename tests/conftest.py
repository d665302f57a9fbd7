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
