"""The committed model's quality, pinned: a model that says "neutral" to every face, or one whose
card overstates it, fails here."""

import csv
import json
from collections import Counter

import numpy as np
import pytest

from inference.estimator import DEFAULT_MODEL
from inference.labels import EMOTION_TO_MOOD, MOOD_INDEX, MOODS
from training.data import list_images, read_gray
from training.metrics import classification_report

FERPLUS_TO_EMOTION = {"neutral": "neutral", "happiness": "happy", "surprise": "surprise", "sadness": "sad",
                      "anger": "angry", "disgust": "disgust", "fear": "fear", "contempt": "disgust"}
CLEAR_FACES_PER_MOOD = 25


@pytest.fixture(scope="module")
def card():
    return json.loads(DEFAULT_MODEL.with_name("model_card.json").read_text())


def test_its_public_test_weighted_f1_is_within_a_hundredth_of_the_model_cards(estimator, fer_root, card):
    items = list_images(fer_root / "test", split="public")
    crops = np.stack([read_gray(path, estimator.input_size) for path, _, _ in items])
    labels = np.array([mood for _, mood, _ in items])
    report = classification_report(labels, estimator.classify(crops).argmax(1))
    assert report["n"] == card["validation"]["n"] == 3589
    assert report["weighted_f1"] == pytest.approx(card["validation"]["weighted_f1"], abs=0.01)
    assert report["macro_f1"] == pytest.approx(card["validation"]["macro_f1"], abs=0.01)


def test_the_smiling_photos_come_out_positive_and_the_stern_one_does_not(estimator, photo):
    for name in ("obama-480p.jpg", "obama-720p.jpg"):
        faces = estimator.estimate(photo(name))
        assert len(faces) == 1 and faces[0].mood == "positive", (name, faces)
        assert faces[0].probabilities["positive"] > 0.5
    stern = estimator.estimate(photo("obama1.jpg"))
    assert len(stern) == 1 and stern[0].mood != "positive", stern


def clear_faces(fer_root) -> list[tuple[str, str]]:
    """The first PublicTest faces (by file name) of each mood on which all ten FER+ annotators
    agree with the FER2013 label: expressions a person reads at a glance."""
    chosen: dict[str, list[str]] = {mood: [] for mood in MOODS}
    with (fer_root / "ferplus_votes.csv").open(newline="") as fh:
        rows = sorted((r for r in csv.DictReader(fh) if r["file"].startswith("test/")), key=lambda r: r["file"])
    for row in rows:
        mood = EMOTION_TO_MOOD[row["file"].split("/")[1]]
        votes = Counter()
        for column, emotion in FERPLUS_TO_EMOTION.items():
            votes[EMOTION_TO_MOOD[emotion]] += int(row[column])
        if votes[mood] == 10 and len(chosen[mood]) < CLEAR_FACES_PER_MOOD:
            chosen[mood].append(row["file"])
    return [(path, mood) for mood, paths in chosen.items() for path in paths]


def test_clear_expressions_of_every_mood_come_out_as_that_mood(estimator, fer_root):
    faces = clear_faces(fer_root)
    assert len(faces) == CLEAR_FACES_PER_MOOD * len(MOODS)
    crops = np.stack([read_gray(fer_root / path, estimator.input_size) for path, _ in faces])
    expected = np.array([MOOD_INDEX[mood] for _, mood in faces])
    predicted = estimator.classify(crops).argmax(1)
    # Floors, not the shipped figures (0.90 overall; neutral, the weakest, 16 of 25): a model that
    # ignores a mood, or the earlier blur model (0.81 overall, neutral 10 of 25), fails them.
    assert (predicted == expected).mean() >= 0.85
    for mood in MOODS:
        right = (predicted[expected == MOOD_INDEX[mood]] == MOOD_INDEX[mood]).mean()
        assert right >= 0.6, f"{mood}: {right:.2f} of {CLEAR_FACES_PER_MOOD} clear faces"


def test_the_card_reports_no_input_blur_and_a_fitted_temperature(card):
    assert "blur" not in json.dumps(card)
    assert 0.25 <= card["temperature"] <= 4
    assert card["file"]["bytes"] == DEFAULT_MODEL.stat().st_size <= 1024 * 1024
