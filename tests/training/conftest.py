"""Fixtures for the training tests: FER2013 files, tiny training runs and their export; the serving
tests' photos and committed model are shared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.inference.conftest import estimator, photo, photos  # noqa: F401  (shared fixtures)

REPO = Path(__file__).resolve().parents[2]
FER = REPO.parent / "shared" / "datasets" / "fer2013"
EMOTIONS = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")


@pytest.fixture(scope="session")
def fer_root() -> Path:
    if not (FER / "train").is_dir():
        pytest.fail(f"FER2013 not found at {FER}")
    return FER


def link_fer_files(source: Path, target: Path, per_class: dict[str, int], prefix: str = "") -> int:
    """Symlink the first N files (optionally with a name prefix) of each FER class folder."""
    total = 0
    for emotion, n in per_class.items():
        files = sorted(p for p in (source / emotion).iterdir() if p.name.startswith(prefix))[:n]
        (target / emotion).mkdir(parents=True, exist_ok=True)
        for f in files:
            (target / emotion / f.name).symlink_to(f)
        total += len(files)
    return total


def run_cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "training", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="session")
def cli():
    """cli(*args) runs `python -m training ...` and returns the CompletedProcess."""
    return run_cli


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, fer_root):
    """One epoch of `python -m training train` on ~220 FER2013 images (symlinked)."""
    data = tmp_path_factory.mktemp("tiny-fer")
    per_class = {"happy": 45, "sad": 45, "angry": 30, "neutral": 45, "surprise": 35}
    n_train = link_fer_files(fer_root / "train", data / "train", per_class)
    n_val = link_fer_files(fer_root / "test", data / "test", dict.fromkeys(per_class, 8), prefix="PublicTest_")
    # PrivateTest_ files in test/ must be ignored by training; include some to prove it
    link_fer_files(fer_root / "test", data / "test-private", dict.fromkeys(per_class, 2), prefix="PrivateTest_")
    for emotion in per_class:
        for f in (data / "test-private" / emotion).iterdir():
            (data / "test" / emotion / f.name).symlink_to(f.resolve())
    out = tmp_path_factory.mktemp("tiny-out")
    result = run_cli("train", "--data", str(data), "--out", str(out), "--epochs", "1", "--seed", "7", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"data": data, "out": out, "n_train": n_train, "n_val": n_val, "result": result}


def write_ferplus_votes(data: Path, fer_root: Path) -> int:
    """ferplus_votes.csv for the files linked under `data`: the real rows of those files."""
    import csv

    wanted = {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_symlink()}
    with (fer_root / "ferplus_votes.csv").open(newline="") as src, \
            (data / "ferplus_votes.csv").open("w", newline="") as dst:
        reader = csv.reader(src)
        writer = csv.writer(dst)
        writer.writerow(next(reader))
        rows = [row for row in reader if row[0] in wanted]
        writer.writerows(rows)
    return len(rows)


@pytest.fixture(scope="session")
def tiny_emotion_run(tmp_path_factory, fer_root):
    """One epoch with a 7-emotion head, FER+ vote targets, random erasing, mixup and the cosine
    schedule, on ~250 FER2013 images of all seven emotions."""
    data = tmp_path_factory.mktemp("tiny-fer-emotions")
    per_class = {"happy": 45, "sad": 35, "angry": 30, "fear": 30, "disgust": 15, "neutral": 45, "surprise": 35}
    n_train = link_fer_files(fer_root / "train", data / "train", per_class)
    n_val = link_fer_files(fer_root / "test", data / "test", dict.fromkeys(per_class, 8), prefix="PublicTest_")
    n_votes = write_ferplus_votes(data, fer_root)
    out = tmp_path_factory.mktemp("tiny-emotion-out")
    result = run_cli("train", "--data", str(data), "--out", str(out), "--epochs", "1", "--seed", "7",
                     "--head", "emotions", "--schedule", "cosine", "--ferplus-weight", "0.5",
                     "--ferplus-drop-unusable", "--random-erasing", "0.5", "--mixup", "0.4", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return {"data": data, "out": out, "n_train": n_train, "n_val": n_val, "n_votes": n_votes, "result": result}


@pytest.fixture(scope="session")
def exported(tiny_emotion_run, tmp_path_factory):
    """`python -m training export` of the one-epoch emotion run: (output folder, printed summary)."""
    out = tmp_path_factory.mktemp("serving")
    result = run_cli("export", "--run", str(tiny_emotion_run["out"]), "--data", str(tiny_emotion_run["data"]),
                     "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, json.loads(result.stdout.strip().splitlines()[-1])
