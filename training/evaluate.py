"""Evaluate the served (.tflite) model on a folder-per-class data set.

The classification runs through ``MoodEstimator`` (same interpreter, same flip averaging as
in production), so the figures are those of the served model, not of the Keras one.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from inference.errors import DatasetError
from inference.estimator import MoodEstimator
from inference.labels import MOODS

from .data import list_images, read_gray
from .metrics import ECE_BINS, classification_report, expected_calibration_error

NO_FACE = -1  # prediction for an image where --detect found no face: counted as wrong
DETECT_MIN_SIDE = 192  # tight crops (FER: 48x48) are upscaled to this before detection
DETECT_PAD = 0.25  # ...and given a replicated border, so the face does not touch the frame edge
CHUNK = 512


def _frame_for_detection(path: Path) -> np.ndarray:
    """A colour frame for the detector; small tight face crops become a padded larger frame."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f"cannot decode image {path}")
    h, w = image.shape[:2]
    if min(h, w) < DETECT_MIN_SIDE:
        scale = DETECT_MIN_SIDE / min(h, w)
        image = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
        pad = round(DETECT_MIN_SIDE * DETECT_PAD)
        image = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return image


def _predict_crops(est: MoodEstimator, paths: list[Path]) -> np.ndarray:
    """Mood probabilities of each crop, (n, 4)."""
    probs = []
    for start in range(0, len(paths), CHUNK):
        crops = np.stack([read_gray(p, est.input_size) for p in paths[start:start + CHUNK]])
        probs.append(est.classify(crops))
    return np.concatenate(probs)


def _predict_detected(est: MoodEstimator, paths: list[Path]) -> np.ndarray:
    """Mood probabilities of the best face of each image; a row of zeros where none was found."""
    probs = np.zeros((len(paths), len(MOODS)))
    for start in range(0, len(paths), CHUNK):
        frames = [_frame_for_detection(p) for p in paths[start:start + CHUNK]]
        for i, faces in enumerate(est.estimate_batch(frames), start=start):
            if faces:  # best detection first; one face per data set image
                probs[i] = [faces[0].probabilities[m] for m in MOODS]
    return probs


def evaluate(data_dir: str | os.PathLike, *, split: str = "private", model: str | os.PathLike | None = None,
             detect: bool = False) -> dict:
    """classification_report() of the model on the data set, plus the model version.

    `split` filters FER2013's PrivateTest_/PublicTest_ prefixes (ignored where there are none).
    With `detect`, each image goes through face detection first; an image without a face is a
    miss (wrong for accuracy and for its class's recall) and is counted in `no_face`.
    """
    est = MoodEstimator.load(model)
    items = list_images(data_dir, split=split)
    paths = [p for p, _, _ in items]
    y_true = np.array([y for _, y, _ in items], dtype=np.int64)
    probs = _predict_detected(est, paths) if detect else _predict_crops(est, paths)
    found = probs.sum(1) > 0
    y_pred = np.where(found, probs.argmax(1), NO_FACE)
    report = classification_report(y_true, y_pred)
    # calibration of the probabilities shown to clinicians (images without a face: confidence 0)
    report["ece"] = expected_calibration_error(probs, y_true)
    if detect:
        report["no_face"] = int((~found).sum())
    return {"report": report, "model_version": est.version, "model_path": str(est.model_path)}


def format_report(report: dict) -> str:
    lines = [f"n={report['n']}  accuracy={report['accuracy']:.4f}  weighted F1={report['weighted_f1']:.4f}"
             f"  macro F1={report['macro_f1']:.4f}  ECE({ECE_BINS} bins)={report['ece']:.4f}"]
    if "no_face" in report:
        lines.append(f"images without a detected face (counted wrong): {report['no_face']}")
    lines.append(f"{'mood':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for mood, row in report["per_class"].items():
        lines.append(f"{mood:<10}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}"
                     f"{row['support']:>10}")
    lines.append("confusion (rows: true, columns: predicted)")
    lines.append(" " * 10 + "".join(f"{m:>10}" for m in MOODS))
    for mood, row in zip(MOODS, report["confusion"]):
        lines.append(f"{mood:<10}" + "".join(f"{v:>10}" for v in row))
    return "\n".join(lines)
