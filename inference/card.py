"""The served model's identity, read without loading it (no numpy, no LiteRT): where the committed
model lives, its model card, and the version rule. MoodEstimator uses the same names, so the
version a web process publishes (backend.ingest.model) is the one its workers' estimator reports."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent / "models"
DEFAULT_MODEL = MODELS_DIR / "mood_mini_xception.tflite"
CARD_NAME = "model_card.json"


def card_read(model_path: Path) -> dict:
    """The model card beside the .tflite file; {} when there is none."""
    card_path = model_path.with_name(CARD_NAME)
    return json.loads(card_path.read_text()) if card_path.is_file() else {}


def version_of(card: dict, model_sha256: str) -> str:
    """The card's version, or one derived from the model's bytes when the card has none."""
    return str(card.get("version") or f"unversioned-{model_sha256[:12]}")


def model_version(path: str | Path | None = None) -> str:
    """The version of the model at `path` (default: the committed one), as MoodEstimator.load reports it."""
    model_path = Path(path) if path else DEFAULT_MODEL
    return version_of(card_read(model_path), hashlib.sha256(model_path.read_bytes()).hexdigest())
