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
