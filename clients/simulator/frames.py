"""Frame sources: a video file (sampled at a rate of video time) or a folder of images.

Every frame comes out as a phone would upload it: JPEG bytes and the moment it was captured, an
aware datetime in the local time zone (serialised as ISO-8601 with its UTC offset).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


class SourceError(Exception):
    """A video or image folder that cannot be read; the message names the problem."""


@dataclass(frozen=True)
class Frame:
    jpeg: bytes
    captured_at: datetime  # aware


def now_local() -> datetime:
    return datetime.now().astimezone()


def encode_jpeg(image: np.ndarray, *, max_side: int, quality: int) -> bytes:
    """Shrink (never enlarge) so the longer side is at most max_side, then JPEG-encode."""
    height, width = image.shape[:2]
    scale = max_side / max(height, width)
    if scale < 1:
        image = cv2.resize(image, (round(width * scale), round(height * scale)), interpolation=cv2.INTER_AREA)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise SourceError("OpenCV could not encode a frame as JPEG")
    return buffer.tobytes()


def video_duration(path: Path) -> float:
    """Length in seconds (frame count / frame rate), 0 if the container does not say."""
    capture = _open_video(path)
    try:
        fps = capture.get(cv2.CAP_PROP_FPS) or 0
        count = capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0
        return count / fps if fps > 0 else 0.0
    finally:
        capture.release()


def frames_from_video(
    path: Path, *, rate: float, start: datetime, max_side: int = 640, quality: int = 85
) -> Iterator[Frame]:
    """Every 1/rate seconds of video time, the frame shown then, stamped start + its position."""
    if rate <= 0:
        raise SourceError("the sampling rate must be positive (frames per second of video)")
    capture = _open_video(path)
    try:
        fps = capture.get(cv2.CAP_PROP_FPS)
        if not fps or fps <= 0:
            raise SourceError(f"{path}: the video does not state its frame rate")
        next_due, index = 0.0, 0
        while capture.grab():  # grab() skips decoding the frames we do not keep
            position = index / fps
            index += 1
            if position + 1e-9 < next_due:
                continue
            ok, image = capture.retrieve()
            if not ok:
                continue
            next_due += 1.0 / rate
            yield Frame(encode_jpeg(image, max_side=max_side, quality=quality), start + timedelta(seconds=position))
        if index == 0:
            raise SourceError(f"{path}: no frame could be decoded")
    finally:
        capture.release()


def image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise SourceError(f"{folder}: not a folder")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not files:
        raise SourceError(f"{folder}: no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return files


def file_time(path: Path) -> datetime:
    """When the file was last written, as an aware local time."""
    return datetime.fromtimestamp(path.stat().st_mtime).astimezone()


def frames_from_images(
    files: list[Path], *, interval: float, start: datetime | None, max_side: int = 640, quality: int = 85
) -> Iterator[Frame]:
    """The images in name order, stamped start, start + interval, ...; with start None, each its file time."""
    for i, path in enumerate(files):
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise SourceError(f"{path}: not an image OpenCV can read")
        when = file_time(path) if start is None else start + timedelta(seconds=i * interval)
        yield Frame(encode_jpeg(image, max_side=max_side, quality=quality), when)


def _open_video(path: Path) -> cv2.VideoCapture:
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise SourceError(f"{path}: OpenCV cannot open this video")
    return capture
