"""Fixtures for the serving tests: real photos and the committed model."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest


@pytest.fixture(scope="session")
def photos(sample_images_dir) -> Path:
    return sample_images_dir


@pytest.fixture(scope="session")
def estimator():
    """The committed model, loaded once (as the workers do)."""
    from inference import MoodEstimator

    return MoodEstimator.load()


@pytest.fixture(scope="session")
def photo(photos):
    """photo(name) -> the real photo as an HxWx3 uint8 BGR array."""

    def read(name: str) -> np.ndarray:
        image = cv2.imread(str(photos / name))
        assert image is not None, f"cannot read {photos / name}"
        return image

    return read
