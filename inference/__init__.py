"""MoodWatch inference: face detection and 4-mood classification (no Django here).

Public API used by the platform::

    from inference import MoodEstimator, InferenceError, FaceMood
    est = MoodEstimator.load()
    est.version
    est.estimate(frame)          # frame: HxWx3 uint8 BGR array, or JPEG/PNG bytes
    est.estimate_batch(frames)   # every face of every frame
    est.estimate_patient_batch(frames)  # per frame: PatientFace(face=the largest or None, bystanders=n)

Importing this package loads neither TensorFlow nor a model; ``MoodEstimator.load()`` does the
(one-off) work.
"""

from .errors import DatasetError, InferenceError
from .labels import MOODS


def __getattr__(name: str):
    # The estimator brings numpy and the stage profiler: loaded on first use, so the web process,
    # which reads only the mood names (backend.moods.models), stays without them.
    if name in ("MoodEstimator", "FaceMood", "PatientFace"):
        from . import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["MoodEstimator", "FaceMood", "PatientFace", "InferenceError", "DatasetError", "MOODS"]
