"""MoodWatch inference: face detection and 4-mood classification (no Django here).

Public API used by the platform::

    from inference import MoodEstimator, InferenceError, FaceMood
    est = MoodEstimator.load()
    est.version
    est.estimate(frame)          # frame: HxWx3 uint8 BGR array, or JPEG/PNG bytes
    est.estimate_batch(frames)

Importing this package loads neither TensorFlow nor a model; ``MoodEstimator.load()`` does the
(one-off) work.
"""

from .errors import DatasetError, InferenceError
from .estimator import FaceMood, MoodEstimator
from .labels import MOODS

__all__ = ["MoodEstimator", "FaceMood", "InferenceError", "DatasetError", "MOODS"]
