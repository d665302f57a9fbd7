"""MoodEstimator: frame (BGR array or JPEG/PNG bytes) -> faces -> moods, on LiteRT.

    from inference import MoodEstimator, InferenceError
    est = MoodEstimator.load()             # the committed model; no network access
    faces = est.estimate(frame)            # [FaceMood(box, detection_score, mood, probabilities)]
    results = est.estimate_batch(frames)   # every face of every frame classified in one call
    patient = est.estimate_patient_batch(frames)  # per frame: the largest face only, others counted

Thread-safety rule: a MoodEstimator may be shared by any number of threads. The model bytes and
the model card are loaded once; each thread lazily gets its own LiteRT interpreters (detector and
classifier) through ``threading.local``, because one interpreter must never run in two threads
at once. Under a pre-forking server (Celery prefork, gunicorn) load it in each worker process
(e.g. at worker start), not before the fork. Each interpreter uses ``num_threads`` CPU threads
(default 1): scale with processes, not intra-op threads.

Bad input raises :class:`inference.InferenceError` with a message naming the problem; nothing
here exits or crashes the process.
"""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from profiling.stages import stage

from .card import CARD_NAME, DEFAULT_MODEL, MODELS_DIR, card_read, version_of  # noqa: F401 - re-exported
from .detection import Detection, FaceDetector, crop_face, square_box
from .errors import InferenceError
from .labels import MOODS

# The browser's copy (LiteRT.js cannot resize a dynamic batch dimension): the same weights with the
# batch fixed at 1, written by `python -m training export` beside the served model.
BROWSER_MODEL_SUFFIX = "_b1"

MAX_PIXELS = 40_000_000  # decoded pixels allowed per frame (decompression-bomb guard)
MIN_SIDE = 16  # smaller frames cannot hold a face the detector can find
ENCODED_FORMATS = ("JPEG", "PNG")
# Encoded frames are first decoded at 1/2, 1/4 or 1/8 scale (libjpeg scales in the DCT: a 640x360
# JPEG decodes ~2x faster at 320x180) while the shorter side stays at least this long; the
# detector only sees 128x128 anyway. If a detected face would then be cropped from fewer pixels
# than the classifier's input, the frame is decoded again at the scale that gives it full detail
# (see MoodEstimator.refine), so small faces lose nothing.
DECODE_MIN_SIDE = 160
# Images (crops and their mirrors) per interpreter call; larger requests are chunked. 128 keeps
# the interpreter's activation buffers to ~70 MB per thread (256: ~140 MB) for 64 faces per call;
# per-image speed does not improve with larger batches.
MAX_CLASSIFY_BATCH = 128

# FER2013 framing, measured: on 600 PublicTest crops (upscaled, padded) BlazeFace's box is
# 1/1.16 of the crop side and its centre sits 0.07 crop sides below the crop's centre. Growing
# the box by 8% a side and moving the square up by 8% of the box reproduces the crops the
# classifier was trained on.
CROP_MARGIN = 0.08
CROP_SHIFT_UP = 0.08


@dataclass(frozen=True)
class FaceMood:
    """One face: box=(x, y, w, h) in pixels of the frame as given, best detection first."""

    box: tuple[int, int, int, int]
    detection_score: float
    mood: str
    probabilities: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PatientFace:
    """One frame as the platform reads it: the patient's face (the largest detected face, by box
    area) with its mood, or None when no face was found, and how many other faces (bystanders:
    someone beside the patient, a face on a screen) were seen. Bystanders are never classified."""

    face: FaceMood | None
    bystanders: int


def largest_face(detections: Sequence[Detection]) -> tuple[list[Detection], int]:
    """([the largest detection by box area], number of the others); ([], 0) for none. On equal areas
    the first (the most confident: the detector sorts by score) wins."""
    if not detections:
        return [], 0
    largest = max(detections, key=lambda d: (d.x1 - d.x0) * (d.y1 - d.y0))
    return [largest], len(detections) - 1


DEFAULT_DETECTOR = "short"  # inference.detection.MODELS key

# The names the runtime branch reads here (backend/ingest/model_manifest.py); the card is read by
# inference/card.py, once.
read_card = card_read
model_version = version_of


def browser_model_path(model_path: Path) -> Path:
    """Where the fixed-batch browser copy of a served .tflite file lives (beside it)."""
    return model_path.with_name(f"{model_path.stem}{BROWSER_MODEL_SUFFIX}{model_path.suffix}")


def _image_size_error(w: int, h: int, max_pixels: int) -> str | None:
    if w < MIN_SIDE or h < MIN_SIDE:
        return f"image is {w}x{h} pixels; at least {MIN_SIDE}x{MIN_SIDE} is needed"
    if w * h > max_pixels:
        return f"image is {w}x{h} = {w * h:,} pixels; the limit is {max_pixels:,}"
    return None


def _reduction(w: int, h: int) -> int:
    factor = 1
    while factor < 8 and min(w, h) // (factor * 2) >= DECODE_MIN_SIDE:
        factor *= 2
    return factor


def decode_frame(frame, *, max_pixels: int = MAX_PIXELS) -> tuple[np.ndarray, int]:
    """Validate a frame and return (HxWx3 uint8 BGR image, scale to the frame's pixels).

    Encoded bytes have their declared size read from the header first (Pillow reads no pixel
    data), so an oversized or decompression-bomb image is refused before any pixel is decoded.
    """
    if isinstance(frame, np.ndarray):
        return _check_array(frame, max_pixels), 1
    if isinstance(frame, (bytes, bytearray, memoryview)):
        return _decode_bytes(bytes(frame), max_pixels)
    raise InferenceError(
        f"frame must be an HxWx3 uint8 BGR numpy array or JPEG/PNG bytes, not {type(frame).__name__}"
    )


def _check_array(frame: np.ndarray, max_pixels: int) -> np.ndarray:
    if frame.dtype != np.uint8:
        raise InferenceError(f"frame array must have dtype uint8, not {frame.dtype}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise InferenceError(f"frame array must have shape (height, width, 3) BGR, not {frame.shape}")
    problem = _image_size_error(frame.shape[1], frame.shape[0], max_pixels)
    if problem:
        raise InferenceError(problem)
    return np.ascontiguousarray(frame)


def _decode_bytes(data: bytes, max_pixels: int) -> tuple[np.ndarray, int]:
    from PIL import Image, UnidentifiedImageError

    if not data:
        raise InferenceError("frame is empty (0 bytes)")
    try:
        with Image.open(io.BytesIO(data), formats=ENCODED_FORMATS) as header:
            w, h = header.size
    except Image.DecompressionBombError as exc:
        raise InferenceError(f"image refused as a decompression bomb: {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError):
        raise InferenceError(f"frame is not a decodable JPEG or PNG image ({len(data)} bytes)") from None
    problem = _image_size_error(w, h, max_pixels)
    if problem:
        raise InferenceError(problem)
    factor = _reduction(w, h)
    image = _imdecode(data, factor)
    if image is None:
        raise InferenceError(f"frame has a valid {w}x{h} header but its pixel data cannot be decoded")
    return image, factor


def _imdecode(data: bytes, factor: int) -> np.ndarray | None:
    import cv2

    flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2,
             4: cv2.IMREAD_REDUCED_COLOR_4, 8: cv2.IMREAD_REDUCED_COLOR_8}
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags[factor])
    return image if image is not None and image.size else None


def _face_box(det: Detection, scale: int, w: int, h: int) -> tuple[int, int, int, int]:
    """Detection in decoded pixels -> (x, y, w, h) in the frame's pixels, clipped to it."""
    x0 = int(round(min(max(det.x0 * scale, 0), w)))
    y0 = int(round(min(max(det.y0 * scale, 0), h)))
    x1 = int(round(min(max(det.x1 * scale, 0), w)))
    y1 = int(round(min(max(det.y1 * scale, 0), h)))
    return x0, y0, x1 - x0, y1 - y0


def crop_box(det: Detection, image_w: int, image_h: int) -> tuple[int, int, int, int]:
    """The FER-style square crop for a detection (see CROP_MARGIN)."""
    shift = CROP_SHIFT_UP * max(det.x1 - det.x0, det.y1 - det.y0)
    moved = Detection(det.x0, det.y0 - shift, det.x1, det.y1 - shift, det.score)
    return square_box(moved, image_w, image_h, CROP_MARGIN)


class MoodClassifier:
    """The mini-Xception .tflite; `predict` averages each crop with its mirror image.

    This is the test-time flip of ``training.train.predict_probs``, so served probabilities are
    the ones the model card and ``evaluate`` report. One interpreter per thread.
    """

    def __init__(self, model_bytes: bytes, *, num_threads: int = 1):
        self._bytes = model_bytes
        self._num_threads = num_threads
        self._local = threading.local()
        it = self._interpreter()
        shape = it.get_input_details()[0]["shape"]
        out = it.get_output_details()[0]["shape"]
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 1 or out[-1] != len(MOODS):
            raise InferenceError(f"model input {shape.tolist()} / output {out.tolist()} is not a "
                                 f"{len(MOODS)}-mood grayscale classifier")
        self.input_size = int(shape[1])

    def _interpreter(self):
        it = getattr(self._local, "interpreter", None)
        if it is None:
            from ai_edge_litert.interpreter import Interpreter

            try:
                it = Interpreter(model_content=self._bytes, num_threads=self._num_threads)
                it.allocate_tensors()
            except (ValueError, RuntimeError) as exc:
                raise InferenceError(f"cannot load the mood model: {exc}") from None
            self._local.interpreter = it
            self._local.batch = self._local.capacity = int(it.get_input_details()[0]["shape"][0])
            self._local.io = (it.get_input_details()[0]["index"], it.get_output_details()[0]["index"])
        return it

    def _run(self, batch: np.ndarray) -> np.ndarray:
        it = self._interpreter()
        inp, out = self._local.io
        if self._local.batch != len(batch):  # resizing is cheap (~10 us); buffers follow the batch
            it.resize_tensor_input(inp, list(batch.shape), strict=False)
            it.allocate_tensors()
            self._local.batch = len(batch)
            self._local.capacity = max(self._local.capacity, len(batch))
        it.set_tensor(inp, batch)
        it.invoke()
        return it.get_tensor(out).copy()

    @property
    def capacity(self) -> int:
        """The largest batch (images) this thread's interpreter has buffers for."""
        self._interpreter()
        return self._local.capacity

    def reserve(self) -> None:
        """Run one call at the largest batch, so this thread's interpreter holds its largest buffers now.

        The interpreter's activation buffers follow the largest batch it has seen and are never
        given back (~0.55 MB an image: 64 faces with mirrors ~75 MB). Reserving them at start
        makes a serving process's memory its ceiling from the first minute, rather than a step up
        hours later when a batch with many faces arrives.
        """
        size = self.input_size
        self._run(np.zeros((MAX_CLASSIFY_BATCH, size, size, 1), dtype=np.float32))

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """(n, S, S) or (n, S, S, 1) uint8 crops -> (n, 4) mood probabilities."""
        n = len(crops)
        if n == 0:
            return np.empty((0, len(MOODS)), dtype=np.float32)
        x = np.asarray(crops, dtype=np.float32).reshape(n, self.input_size, self.input_size, 1)
        both = np.concatenate([x, x[:, :, ::-1]])  # crop and mirror in the same batch
        chunks = [self._run(both[i:i + MAX_CLASSIFY_BATCH]) for i in range(0, 2 * n, MAX_CLASSIFY_BATCH)]
        probs = np.concatenate(chunks)
        return (probs[:n] + probs[n:]) / 2


def model_identity(path: str | Path | None = None) -> tuple[str, str]:
    """(version, SHA-256) of the model at `path` (default: the committed one), without loading it."""
    model_path = Path(path) if path is not None else DEFAULT_MODEL
    if not model_path.is_file():
        raise InferenceError(f"mood model not found at {model_path}")
    sha256 = hashlib.sha256(model_path.read_bytes()).hexdigest()
    return version_of(card_read(model_path), sha256), sha256


class MoodEstimator:
    """Face detection + mood classification. Create with :meth:`load`; share across threads."""

    def __init__(self, model_bytes: bytes, card: dict, *, model_path: Path, detector: str = DEFAULT_DETECTOR,
                 max_pixels: int = MAX_PIXELS, num_threads: int = 1):
        self.card = card
        self.model_path = model_path
        self.model_sha256 = hashlib.sha256(model_bytes).hexdigest()
        self.version = version_of(card, self.model_sha256)
        self.max_pixels = max_pixels
        self.classifier = MoodClassifier(model_bytes, num_threads=num_threads)
        self.input_size = self.classifier.input_size
        declared = card.get("input", {}).get("size")
        if declared is not None and int(declared) != self.input_size:
            raise InferenceError(f"model card says input size {declared}, the model takes {self.input_size}")
        self.classes = tuple(card.get("classes") or MOODS)
        if self.classes != MOODS:
            raise InferenceError(f"model card classes {self.classes} differ from {MOODS}")
        self._detector_name = detector
        self._num_threads = num_threads
        self._local = threading.local()
        self.detector()  # fail at load time, not on the first frame

    @classmethod
    def load(cls, path: str | Path | None = None, **options) -> MoodEstimator:
        """Load the .tflite model (default: the committed one) and the model_card.json beside it.

        Options: detector ("short" or "full"), max_pixels, num_threads.
        """
        model_path = Path(path) if path is not None else DEFAULT_MODEL
        if not model_path.is_file():
            raise InferenceError(f"mood model not found at {model_path}")
        return cls(model_path.read_bytes(), card_read(model_path), model_path=model_path, **options)

    def detector(self) -> FaceDetector:
        det = getattr(self._local, "detector", None)
        if det is None:
            det = self._local.detector = FaceDetector(self._detector_name, num_threads=self._num_threads)
        return det

    # The pipeline in stages (``bench`` times each one).
    def decode(self, frame) -> tuple[np.ndarray, int]:
        return decode_frame(frame, max_pixels=self.max_pixels)

    def detect(self, image: np.ndarray) -> list[Detection]:
        return self.detector()(image)

    def refine(self, frame, image: np.ndarray, scale: int,
               detections: list[Detection]) -> tuple[np.ndarray, int, list[Detection]]:
        """Re-decode a reduced frame at a finer scale if its smallest face's crop would be
        smaller than the classifier input (no-op for full-scale frames and for arrays)."""
        if scale == 1 or not detections or not isinstance(frame, (bytes, bytearray, memoryview)):
            return image, scale, detections
        side = min(max(d.x1 - d.x0, d.y1 - d.y0) for d in detections) * (1 + 2 * CROP_MARGIN)
        finer = scale
        while finer > 1 and side * scale / finer < self.input_size:
            finer //= 2
        if finer == scale:
            return image, scale, detections
        sharper = _imdecode(bytes(frame), finer)
        if sharper is None:
            return image, scale, detections
        k = scale / finer
        return sharper, finer, [Detection(d.x0 * k, d.y0 * k, d.x1 * k, d.y1 * k, d.score) for d in detections]

    def crops(self, image: np.ndarray, detections: Sequence[Detection]) -> np.ndarray:
        h, w = image.shape[:2]
        size = self.input_size
        out = np.empty((len(detections), size, size), dtype=np.uint8)
        for i, det in enumerate(detections):
            out[i] = crop_face(image, crop_box(det, w, h), size)
        return out

    def classify(self, crops: np.ndarray) -> np.ndarray:
        return self.classifier.predict(crops)

    def warm_up(self) -> None:
        """Reserve the calling thread's classifier buffers, the part of its memory that grows with
        the number of faces, before serving. (The detector sees at most 128 px a side whatever
        the frame, one small interpreter per aspect ratio, so it does not grow with the load.)"""
        self.classifier.reserve()

    def estimate(self, frame) -> list[FaceMood]:
        """Faces in one frame with their moods, most confident detection first."""
        return self.estimate_batch([frame])[0]

    def estimate_batch(self, frames: Sequence, *, return_errors: bool = False) -> list:
        """Faces and moods for many frames; the faces of all frames go through one classifier call
        (chunked above MAX_CLASSIFY_BATCH / 2 = 64 faces, to bound memory).

        A bad frame raises InferenceError naming its index. With ``return_errors=True`` its slot
        holds the InferenceError instead, so that one bad upload does not block the others.
        """
        return [item if isinstance(item, InferenceError) else item[0]
                for item in self._estimate(frames, return_errors=return_errors, largest_only=False)]

    def estimate_patient_batch(self, frames: Sequence, *, return_errors: bool = False) -> list:
        """One :class:`PatientFace` per frame: only the largest face is cropped and classified (the
        patient's, nearest the phone); the others are only counted. Errors as in estimate_batch."""
        return [item if isinstance(item, InferenceError) else PatientFace(face=(item[0] or [None])[0],
                                                                           bystanders=item[1])
                for item in self._estimate(frames, return_errors=return_errors, largest_only=True)]

    def _estimate(self, frames: Sequence, *, return_errors: bool, largest_only: bool) -> list:
        """Per frame ([FaceMood, ...], faces left unclassified) or its InferenceError."""
        found: list = []
        all_crops = []
        for index, frame in enumerate(frames):
            try:
                with stage("decode"):
                    image, scale = self.decode(frame)
            except InferenceError as exc:
                error = InferenceError(f"frame {index}: {exc}")
                if not return_errors:
                    raise error from None
                found.append(error)
                continue
            with stage("detection"):
                detections = self.detect(image)
            others = 0
            if largest_only:  # before refining: only the patient's face needs the sharper decode
                detections, others = largest_face(detections)
            with stage("decode"):
                image, scale, detections = self.refine(frame, image, scale, detections)
            h, w = image.shape[:2]
            boxes = [_face_box(d, scale, w * scale, h * scale) for d in detections]
            found.append((list(zip(boxes, detections)), others))
            with stage("classification"):
                all_crops.append(self.crops(image, detections))
        size = self.input_size
        with stage("classification"):
            crops = np.concatenate(all_crops) if all_crops else np.empty((0, size, size), np.uint8)
            probs = iter(self.classify(crops))
        results: list = []
        for item in found:
            if isinstance(item, InferenceError):
                results.append(item)
                continue
            faces = []
            detected, others = item
            for box, det in detected:
                p = next(probs)
                faces.append(FaceMood(box=box, detection_score=float(det.score),
                                      mood=MOODS[int(np.argmax(p))],
                                      probabilities={m: float(v) for m, v in zip(MOODS, p)}))
            results.append((faces, others))
        return results
