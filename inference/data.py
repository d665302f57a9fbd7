"""Load folder-per-class image trees (FER2013 emotions or the four moods) into arrays."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import DatasetError
from .labels import MOOD_INDEX, MOODS, folder_to_mood

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}
SPLIT_PREFIXES = {"public": "PublicTest_", "private": "PrivateTest_"}


@dataclass(frozen=True)
class Dataset:
    images: np.ndarray  # (n, size, size, 1) uint8
    labels: np.ndarray  # (n,) int mood index
    paths: tuple[str, ...]

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


def list_images(root: str | os.PathLike, *, split: str = "all") -> list[tuple[Path, int]]:
    """Every image under root's class folders with its mood index.

    `split` ("public", "private" or "all") filters FER2013's PublicTest_/PrivateTest_ file
    prefixes; for a data set without those prefixes it is ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"data folder {root} does not exist")
    if split not in ("all", *SPLIT_PREFIXES):
        raise DatasetError(f"unknown split {split!r}")
    items: list[tuple[Path, int]] = []
    for class_dir in _class_dirs(root):
        try:
            mood = folder_to_mood(class_dir.name)
        except ValueError as exc:
            raise DatasetError(f"{root}: {exc}") from None
        files = sorted(p for p in class_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        items += [(p, MOOD_INDEX[mood]) for p in files]
    has_prefixes = any(p.name.startswith(tuple(SPLIT_PREFIXES.values())) for p, _ in items)
    if has_prefixes:
        items = [(p, y) for p, y in items if _wanted(p.name, split)]
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
    for i, (path, _) in enumerate(items):
        images[i, :, :, 0] = read_gray(path, size)
    labels = np.array([y for _, y in items], dtype=np.int64)
    return Dataset(images=images, labels=labels, paths=tuple(str(p) for p, _ in items))
