"""--on-device: the simulator runs the mood model itself, as the patient app does in the browser, and
uploads mood batches (POST /api/v1/mood-batches/) instead of frames: no frame leaves this "phone".

Each sampled frame becomes one entry, with or without a face: the largest face is the patient's (its
box, detection score and four mood probabilities are sent); every other face only raises
`bystanders`, its mood never computed. A batch holds frames of one size and distinct capture times
(the contract's `frame_size` is per batch, and a repeated time is refused), so a new batch starts
where either changes.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import cv2
import numpy as np

from .frames import Frame, SourceError


def model_version(api, estimator) -> str:
    """The version the server publishes (GET /api/v1/model/), or, on a server without that endpoint,
    the local model's: the server refuses records of a version it never published."""
    manifest = api.model_manifest()
    return str(manifest["version"]) if manifest and manifest.get("version") else estimator.version


def frame_entry(faces: list, captured_at: str) -> dict:
    """One entry of a mood batch: the largest face (the patient's) and the number of other faces."""
    if not faces:
        return {"captured_at": captured_at, "face": None, "bystanders": 0}
    patient = max(faces, key=lambda face: face.box[2] * face.box[3])
    x, y, w, h = (int(v) for v in patient.box)
    return {
        "captured_at": captured_at,
        "face": {
            "box": [x, y, w, h],
            "detection_score": round(float(patient.detection_score), 6),
            "probabilities": {mood: float(p) for mood, p in patient.probabilities.items()},
        },
        "bystanders": len(faces) - 1,
    }


def mood_batches(frames: Iterable[Frame], estimator, *, version: str, batch_size: int) -> Iterator[dict]:
    """Mood-batch bodies (without their batch_id, chosen when queued) of at most batch_size entries."""
    chunk: list[tuple[np.ndarray, str]] = []
    size = None
    for frame in frames:
        image = cv2.imdecode(np.frombuffer(frame.jpeg, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError("a sampled frame could not be decoded")
        stamp = frame.captured_at.isoformat()
        frame_size = (image.shape[1], image.shape[0])
        if chunk and (frame_size != size or len(chunk) == batch_size or stamp in {s for _, s in chunk}):
            yield _body(chunk, estimator, version=version, frame_size=size)
            chunk = []
        size = frame_size
        chunk.append((image, stamp))
    if chunk:
        yield _body(chunk, estimator, version=version, frame_size=size)


def _body(chunk: list[tuple[np.ndarray, str]], estimator, *, version: str, frame_size: tuple[int, int]) -> dict:
    results = estimator.estimate_batch([image for image, _ in chunk])
    return {
        "model_version": version,
        "frame_size": list(frame_size),
        "frames": [frame_entry(faces, stamp) for faces, (_, stamp) in zip(results, chunk, strict=True)],
    }
