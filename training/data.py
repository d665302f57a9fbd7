"""Load folder-per-class image trees (FER2013 emotions or the four moods) into arrays."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from inference.errors import DatasetError
from inference.labels import (
    EMOTION_INDEX,
    EMOTIONS,
    MOOD_INDEX,
    MOODS,
    folder_to_emotion,
    folder_to_mood,
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
SPLIT_PREFIXES = {"public": "PublicTest_", "private": "PrivateTest_"}


@dataclass(frozen=True)
class Dataset:
    images: np.ndarray  # (n, size, size, 1) uint8
    labels: np.ndarray  # (n,) int mood index
    paths: tuple[str, ...]
    # (n,) int emotion index (EMOTIONS), -1 where the class folder names a mood, not an emotion
    emotions: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def counts(self) -> dict[str, int]:
        return {mood: int((self.labels == i).sum()) for i, mood in enumerate(MOODS)}


def _class_dirs(root: Path) -> list[Path]:
    dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not dirs:
        raise DatasetError(f"{root} has no class folders")
    return dirs


def _wanted(name: str, split: str) -> bool:
    if split == "all":
        return True
    return name.startswith(SPLIT_PREFIXES[split])


def list_images(root: str | os.PathLike, *, split: str = "all") -> list[tuple[Path, int, int]]:
    """Every image under root's class folders with its mood index and emotion index (-1 for a
    mood folder).

    `split` ("public", "private" or "all") filters FER2013's PublicTest_/PrivateTest_ file
    prefixes; for a data set without those prefixes it is ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"data folder {root} does not exist")
    if split not in ("all", *SPLIT_PREFIXES):
        raise DatasetError(f"unknown split {split!r}")
    items: list[tuple[Path, int, int]] = []
    for class_dir in _class_dirs(root):
        try:
            mood = folder_to_mood(class_dir.name)
        except ValueError as exc:
            raise DatasetError(f"{root}: {exc}") from None
        emotion = folder_to_emotion(class_dir.name)
        emotion_index = EMOTION_INDEX[emotion] if emotion else -1
        files = sorted(p for p in class_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        items += [(p, MOOD_INDEX[mood], emotion_index) for p in files]
    has_prefixes = any(p.name.startswith(tuple(SPLIT_PREFIXES.values())) for p, _, _ in items)
    if has_prefixes:
        items = [item for item in items if _wanted(item[0].name, split)]
    if not items:
        raise DatasetError(f"{root} holds no images for split {split!r}")
    return items


def read_gray(path: Path, size: int) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None or image.size == 0:
        raise DatasetError(f"cannot decode image {path}")
    if image.shape != (size, size):
        interp = cv2.INTER_AREA if min(image.shape) > size else cv2.INTER_LINEAR
        image = cv2.resize(image, (size, size), interpolation=interp)
    return image


def load_dataset(root: str | os.PathLike, *, size: int = 48, split: str = "all") -> Dataset:
    items = list_images(root, split=split)
    images = np.empty((len(items), size, size, 1), dtype=np.uint8)
    for i, (path, _, _) in enumerate(items):
        images[i, :, :, 0] = read_gray(path, size)
    labels = np.array([y for _, y, _ in items], dtype=np.int64)
    emotions = np.array([e for _, _, e in items], dtype=np.int64)
    return Dataset(images=images, labels=labels, paths=tuple(str(p) for p, _, _ in items), emotions=emotions)


# --- FER+ crowd votes -----------------------------------------------------------------------------
# ferplus_votes.csv (beside train/ and test/): ten annotators' votes per Training/PublicTest file
# over FER+'s classes. Contempt has no FER2013 class; it is counted as disgust, its nearest.
FERPLUS_FILE = "ferplus_votes.csv"
FERPLUS_TO_EMOTION = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise",
                      "sadness": "sad", "anger": "angry", "disgust": "disgust", "fear": "fear",
                      "contempt": "disgust"}
FERPLUS_UNUSABLE = ("unknown", "NF")


@dataclass(frozen=True)
class FerPlusVotes:
    distributions: np.ndarray  # (n, 7) emotion vote shares; NaN rows where a file has no votes
    unusable: np.ndarray  # (n,) bool: most annotators said "unknown" or "not a face"


def read_ferplus_votes(data_root: str | os.PathLike, paths: tuple[str, ...]) -> FerPlusVotes | None:
    """The FER+ votes of `paths` (files under data_root), or None when data_root has no votes file."""
    import csv

    root = Path(data_root)
    if not (root / FERPLUS_FILE).is_file():
        return None
    rows: dict[str, dict[str, str]] = {}
    with (root / FERPLUS_FILE).open(newline="") as fh:
        for row in csv.DictReader(fh):
            rows[row["file"]] = row
    distributions = np.full((len(paths), len(EMOTIONS)), np.nan, dtype="float32")
    unusable = np.zeros(len(paths), dtype=bool)
    for i, path in enumerate(paths):
        row = rows.get(Path(path).relative_to(root).as_posix())
        if row is None:
            continue
        counts = np.zeros(len(EMOTIONS), dtype="float32")
        for column, emotion in FERPLUS_TO_EMOTION.items():
            counts[EMOTION_INDEX[emotion]] += float(row[column])
        bad = sum(float(row[c]) for c in FERPLUS_UNUSABLE)
        unusable[i] = bad > counts.sum()
        if counts.sum() > 0:
            distributions[i] = counts / counts.sum()
    return FerPlusVotes(distributions=distributions, unusable=unusable)
