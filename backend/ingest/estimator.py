"""The mood estimator, loaded once per process (per Celery worker child) and reused."""
import threading

from django.conf import settings

from backend.core import metrics
from inference import MoodEstimator

_lock = threading.Lock()
_estimator: MoodEstimator | None = None


def estimator_get() -> MoodEstimator:
    global _estimator
    if _estimator is None:
        with _lock:
            if _estimator is None:
                _estimator = MoodEstimator.load(settings.MOODWATCH["MODEL_PATH"] or None)
                metrics.model_loaded(version=_estimator.version)
    return _estimator
