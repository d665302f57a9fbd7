"""Validation of a mood batch (POST /api/v1/mood-batches/): the records a phone computed itself.

A pure function of the parsed JSON body: returns a ValidMoodBatch or raises InputInvalid listing
every problem found (field, code, detail and, for a frame's entry, its `index` in `frames`). The
contract (docs/api.md):

    {"batch_id": "<uuid>", "model_version": "<a published version>", "frame_size": [w, h],
     "frames": [{"captured_at": "<ISO 8601 with offset>", "bystanders": n,
                 "face": {"box": [x, y, w, h], "detection_score": s,
                          "probabilities": {"positive": p, "negative": p, "neutral": p, "other": p}} | null}]}

Nothing else is accepted: an unknown key, a value of the wrong JSON type (a bool or a string is not
a number), or a value nested deeper than this shape is refused, so a body deeper than the contract
never reaches anything that walks it.

Speed (docs/performance.md, "Mood-batch ingest"): each entry is first tried by `_frame_accept`, one
flat function that accepts only an entry that is valid in every respect, with no FieldError built
and no helper call per value. Any entry it does not accept goes through `_frame`, the rule-by-rule
check that names every problem: the answer to bad input is the same, and a valid batch of 60
entries is checked in a quarter of the time.
"""
import hashlib
import json
import math
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from backend.core.bounds import date_in_bounds
from backend.core.errors import FieldError, InputInvalid
from backend.moods.definitions import mood_of
from inference.labels import MOODS

from .uploads import batch_id_parse, captured_at_parse

SUM_TOLERANCE = 1e-3  # the four probabilities sum to 1 within this (float32 softmax on the phone)

BODY_KEYS = frozenset({"batch_id", "model_version", "frame_size", "frames"})
FRAME_KEYS = frozenset({"captured_at", "face", "bystanders"})
FACE_KEYS = frozenset({"box", "detection_score", "probabilities"})


@dataclass(frozen=True)
class MoodFace:
    box: tuple[int, int, int, int]  # x, y, w, h in pixels of the frame, rounded
    detection_score: float
    probabilities: dict[str, float]
    mood: str  # the most probable mood (moods.definitions.mood_of)


@dataclass(frozen=True)
class MoodFrame:
    captured_at: datetime
    face: MoodFace | None
    bystanders: int


@dataclass(frozen=True)
class ValidMoodBatch:
    batch_id: uuid.UUID
    model_version: str
    frame_size: tuple[int, int]
    frames: list[MoodFrame]
    digest: str  # SHA-256 of the batch's canonical JSON: tells a retry (200) from a reused id (409)

    @property
    def frames_with_face(self) -> int:
        return sum(1 for frame in self.frames if frame.face is not None)

    @property
    def bystanders(self) -> int:
        return sum(frame.bystanders for frame in self.frames)


def mood_batch_validate(data: object, *, published_versions: Collection[str]) -> ValidMoodBatch:
    """The batch in `data` (the parsed JSON body), checked against the contract and the versions of
    the model the server has published; InputInvalid with every problem otherwise."""
    limits = settings.MOODWATCH
    errors: list[FieldError] = []
    if not isinstance(data, dict):
        raise InputInvalid([FieldError("body", "wrong_type", "The body must be a JSON object.")])
    errors += _unknown_keys(data, BODY_KEYS, "")
    for key in sorted(BODY_KEYS - data.keys()):
        errors.append(FieldError(key, "required", f"{key} is required."))

    batch_id = None
    if "batch_id" in data:
        raw = data["batch_id"]
        if isinstance(raw, str):
            batch_id = batch_id_parse(raw, errors)
        else:
            errors.append(FieldError("batch_id", "wrong_type", "batch_id must be a string (a UUID)."))
    version = data.get("model_version")
    if "model_version" in data:
        if not isinstance(version, str):
            errors.append(FieldError("model_version", "wrong_type", "model_version must be a string."))
        elif version not in published_versions:
            errors.append(FieldError(
                "model_version", "model_version_unpublished",
                f"{version[:80]!r} is not a model version this server published; read GET /api/v1/model/.",
            ))
    frame_size = _frame_size(data.get("frame_size"), errors) if "frame_size" in data else None
    entries = data.get("frames")
    if "frames" in data:
        if not isinstance(entries, list):
            errors.append(FieldError("frames", "wrong_type", "frames must be a list."))
        elif not entries:
            errors.append(FieldError("frames", "required", "At least one frame entry is required."))
        elif len(entries) > limits["MAX_FRAMES_PER_BATCH"]:
            errors.append(FieldError(
                "frames", "too_many_frames",
                f"{len(entries)} frames sent; at most {limits['MAX_FRAMES_PER_BATCH']} are allowed per batch.",
            ))
    if errors:  # each entry is checked only in a batch whose frame list and frame size are sound
        raise InputInvalid(errors)

    now = timezone.now()
    window = (now - limits["MAX_FRAME_AGE"], now + limits["MAX_FUTURE_SKEW"], limits["MAX_BYSTANDERS"])
    frames: list[MoodFrame] = []
    seen: dict[datetime, int] = {}
    for index, entry in enumerate(entries):
        frame = _frame_accept(entry, frame_size, window) or _frame(entry, index, frame_size, now, errors)
        if frame is None:
            continue
        first = seen.setdefault(frame.captured_at, index)
        if first != index:
            errors.append(FieldError(
                "captured_at", "duplicate_captured_at",
                f"The same capture time as frame {first}: each entry is one sampled frame.", index,
            ))
        frames.append(frame)
    if errors:
        raise InputInvalid(errors)
    return ValidMoodBatch(
        batch_id=batch_id, model_version=version, frame_size=frame_size, frames=frames,
        digest=_digest(version, frame_size, entries),
    )


def _digest(version: str, frame_size: tuple[int, int], entries: list) -> str:
    """SHA-256 of the batch's content as canonical JSON (sorted keys, no spaces): the same batch sent
    again gives the same digest, whatever the order of its keys or its spacing."""
    canonical = json.dumps({"model_version": version, "frame_size": list(frame_size), "frames": entries},
                           sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _unknown_keys(value: dict, allowed: frozenset, prefix: str, index: int | None = None) -> list[FieldError]:
    return [
        FieldError(f"{prefix}{str(key)[:40]}", "unknown_field",
                   f"{str(key)[:40]!r} is not part of the mood-batch contract.", index)
        for key in value if key not in allowed
    ]


def _is_number(value: object) -> bool:
    """A JSON number: int or float, never a bool (True is an int in Python) or a string."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite_number(value: object) -> bool:
    """A JSON number that is finite (an int of any size is; math.isfinite would overflow on a huge one)."""
    return _is_number(value) and (isinstance(value, int) or math.isfinite(value))


def _frame_size(value: object, errors: list[FieldError]) -> tuple[int, int] | None:
    side = settings.MOODWATCH["MAX_MOOD_FRAME_SIDE"]
    if not (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        errors.append(FieldError("frame_size", "wrong_type", "frame_size must be [width, height], two integers."))
        return None
    if not all(1 <= v <= side for v in value):
        errors.append(FieldError("frame_size", "out_of_range", f"Each side must be from 1 to {side} pixels."))
        return None
    return value[0], value[1]


NUMBER = (int, float)  # the Python types of a JSON number (json never gives a subclass; a bool is not one)
ONE_MINUTE = timedelta(minutes=1)
MAX_BOX_VALUE = 1e9  # far beyond any frame: a larger finite number is refused before round() sees it


def _frame_accept(entry: object, frame_size: tuple[int, int], window: tuple) -> MoodFrame | None:
    """The entry as a MoodFrame if it is valid in every respect, else None (then `_frame` says why).

    The same rules as `_frame`, `_face`, `_probabilities` and the device timestamp rule, written as
    exact type tests and chained comparisons (a NaN or an infinity fails them). It only ever
    accepts; it never explains."""
    earliest, latest, max_bystanders = window
    if type(entry) is not dict or len(entry) != 3:
        return None
    raw, face, bystanders = entry.get("captured_at"), entry.get("face", entry), entry.get("bystanders")
    if face is entry or type(bystanders) is not int or not 0 <= bystanders <= max_bystanders or type(raw) is not str:
        return None
    text = raw.strip()
    if not (text.isascii() and text.isprintable()):
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    # the calendar window first: comparing an aware time at its edge with `now` would overflow
    if when.tzinfo is None or when.utcoffset() is None or when.utcoffset() % ONE_MINUTE:  # PostgreSQL: whole minutes
        return None
    if not date_in_bounds(when) or not earliest <= when <= latest:
        return None
    if face is None:
        return MoodFrame(captured_at=when, face=None, bystanders=bystanders)
    if type(face) is not dict or len(face) != 3:
        return None
    box, score, probabilities = face.get("box"), face.get("detection_score"), face.get("probabilities")
    if type(box) is not list or len(box) != 4 or type(score) not in NUMBER or not 0 <= score <= 1:
        return None
    if not all(type(v) in NUMBER and 0 <= v <= MAX_BOX_VALUE for v in box):
        return None
    x, y, w, h = (round(v) for v in box)  # as stored: whole pixels, checked as `_face` checks them
    width, height = frame_size
    if not (w > 0 and h > 0 and x + w <= width and y + h <= height):
        return None
    if type(probabilities) is not dict or len(probabilities) != len(MOODS):
        return None
    values = [probabilities.get(mood) for mood in MOODS]
    if not all(type(p) in NUMBER and 0 <= p <= 1 for p in values) or abs(math.fsum(values) - 1) > SUM_TOLERANCE:
        return None
    probabilities = dict(zip(MOODS, map(float, values)))
    return MoodFrame(captured_at=when, bystanders=bystanders, face=MoodFace(
        box=(x, y, w, h), detection_score=float(score), probabilities=probabilities,
        mood=mood_of(probabilities),
    ))


def _frame(entry: object, index: int, frame_size: tuple[int, int], now: datetime,
           errors: list[FieldError]) -> MoodFrame | None:
    before = len(errors)
    if not isinstance(entry, dict):
        errors.append(FieldError("frames", "wrong_type", "Each frame entry must be a JSON object.", index))
        return None
    errors += _unknown_keys(entry, FRAME_KEYS, "", index)
    for key in sorted(FRAME_KEYS - entry.keys()):
        errors.append(FieldError(key, "required", f"{key} is required (face may be null).", index))

    captured_at = None
    raw = entry.get("captured_at")
    if "captured_at" in entry:
        if isinstance(raw, str):
            captured_at = captured_at_parse(raw, index, now, errors)
        else:
            errors.append(FieldError("captured_at", "wrong_type", "captured_at must be an ISO-8601 string.", index))

    bystanders = entry.get("bystanders")
    limit = settings.MOODWATCH["MAX_BYSTANDERS"]
    if "bystanders" in entry:
        if not (isinstance(bystanders, int) and not isinstance(bystanders, bool)):
            errors.append(FieldError("bystanders", "wrong_type", "bystanders must be an integer.", index))
        elif not 0 <= bystanders <= limit:
            errors.append(FieldError("bystanders", "out_of_range", f"bystanders must be from 0 to {limit}.", index))

    face = None
    if entry.get("face") is not None:
        face = _face(entry["face"], index, frame_size, errors)
    if len(errors) > before:
        return None
    return MoodFrame(captured_at=captured_at, face=face, bystanders=bystanders)


def _face(value: object, index: int, frame_size: tuple[int, int], errors: list[FieldError]) -> MoodFace | None:
    before = len(errors)
    if not isinstance(value, dict):
        errors.append(FieldError("face", "wrong_type", "face must be an object or null.", index))
        return None
    errors += _unknown_keys(value, FACE_KEYS, "face.", index)
    for key in sorted(FACE_KEYS - value.keys()):
        errors.append(FieldError(f"face.{key}", "required", f"face.{key} is required.", index))

    box = value.get("box")
    if "box" in value:
        if not (isinstance(box, list) and len(box) == 4 and all(_is_finite_number(v) for v in box)):
            errors.append(FieldError("face.box", "wrong_type", "face.box must be [x, y, w, h], four finite numbers.",
                                     index))
            box = None
        else:
            x, y, w, h = (round(v) for v in box)  # as stored: whole pixels (a sub-pixel box has no area)
            width, height = frame_size
            if not (x >= 0 and y >= 0 and w > 0 and h > 0 and x + w <= width and y + h <= height):
                errors.append(FieldError(
                    "face.box", "box_outside_frame",
                    f"The box {box} does not lie inside the {width}x{height} frame.", index,
                ))

    score = value.get("detection_score")
    if "detection_score" in value:
        if not _is_number(score):
            errors.append(FieldError("face.detection_score", "wrong_type", "detection_score must be a number.", index))
        elif not (_is_finite_number(score) and 0 <= score <= 1):
            errors.append(FieldError("face.detection_score", "out_of_range",
                                     "detection_score must be a finite number from 0 to 1.", index))

    probabilities = value.get("probabilities")
    if "probabilities" in value:
        probabilities = _probabilities(probabilities, index, errors)
    if len(errors) > before:
        return None
    return MoodFace(
        box=tuple(round(v) for v in box), detection_score=float(score), probabilities=probabilities,
        mood=mood_of(probabilities),
    )


def _probabilities(value: object, index: int, errors: list[FieldError]) -> dict[str, float] | None:
    field = "face.probabilities"
    if not isinstance(value, dict):
        errors.append(FieldError(field, "wrong_type", "probabilities must be an object of the four moods.", index))
        return None
    before = len(errors)
    for key in value:
        if key not in MOODS:
            errors.append(FieldError(field, "unknown_mood", f"{str(key)[:40]!r} is not one of {', '.join(MOODS)}.",
                                     index))
    for mood in MOODS:
        if mood not in value:
            errors.append(FieldError(field, "missing_mood", f"The probability of {mood!r} is missing.", index))
            continue
        p = value[mood]
        if not _is_number(p):
            errors.append(FieldError(f"{field}.{mood}", "wrong_type", f"{mood} must be a number.", index))
        elif not (_is_finite_number(p) and 0 <= p <= 1):
            errors.append(FieldError(f"{field}.{mood}", "out_of_range", f"{mood} must be a finite number from 0 to 1.",
                                     index))
    if len(errors) > before:
        return None
    total = math.fsum(value[mood] for mood in MOODS)
    if abs(total - 1) > SUM_TOLERANCE:
        errors.append(FieldError(field, "probabilities_sum",
                                 f"The four probabilities sum to {total:.6g}, not 1 (within {SUM_TOLERANCE}).", index))
        return None
    return {mood: float(value[mood]) for mood in MOODS}
