"""The mood estimator, loaded once per process (per Celery worker child) and reused."""
import threading
from pathlib import Path

from django.conf import settings

from backend.core import metrics
from inference import MoodEstimator
from inference.estimator import DEFAULT_MODEL

_lock = threading.Lock()
_estimator: MoodEstimator | None = None


def served_model_path() -> Path:
    """The served .tflite: MOOD_MODEL_PATH, or the model committed under inference/models/."""
    return Path(settings.MOODWATCH["MODEL_PATH"] or DEFAULT_MODEL)


def estimator_get() -> MoodEstimator:
    global _estimator
    if _estimator is None:
        with _lock:
            if _estimator is None:
                _estimator = MoodEstimator.load(served_model_path())
                metrics.model_loaded(version=_estimator.version)
    return _estimator
