"""`python -m inference export`: the input blur chosen on validation data, and the serving export."""

import json

import cv2
import numpy as np
import pytest

from inference import MoodEstimator

from .conftest import run_cli


def test_the_input_blur_layer_blurs_like_opencv_gaussian_blur():
    pytest.importorskip("keras")
    from inference.model import build_mini_xception, with_input_blur

    blurred_model = with_input_blur(build_mini_xception(), 2.0)
    blur = blurred_model.get_layer("input_blur")
    face = np.random.default_rng(0).integers(0, 256, (48, 48)).astype("float32")
    ours = np.asarray(blur(face[None, :, :, None]))[0, :, :, 0]
    theirs = cv2.GaussianBlur(face, (13, 13), 2.0, borderType=cv2.BORDER_REFLECT_101)
    assert np.abs(ours - theirs).max() < 0.5
    assert ours.std() < face.std() / 2


def test_a_zero_sigma_leaves_the_model_unwrapped():
    pytest.importorskip("keras")
    from inference.model import build_mini_xception, with_input_blur

    model = build_mini_xception()
    assert with_input_blur(model, 0.0) is model


@pytest.fixture(scope="module")
def exported(tiny_run, tmp_path_factory):
    out = tmp_path_factory.mktemp("serving")
    result = run_cli("export", "--run", str(tiny_run["out"]), "--data", str(tiny_run["data"]),
                     "--out", str(out), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, json.loads(result.stdout.strip().splitlines()[-1])


def test_export_tries_every_sigma_on_validation_data_and_records_the_choice(exported):
    out, summary = exported
    card = json.loads((out / "model_card.json").read_text())
    sigmas = {t["sigma"] for t in card["selection"]}
    assert {0.0, 3.0} <= sigmas
    best = max(card["selection"], key=lambda t: t["weighted_f1"])
    assert card["input"]["blur_sigma"] == summary["blur_sigma"] == best["sigma"]
    assert "PublicTest_" in card["data"]["validation_source"]


def test_the_exported_model_loads_in_the_estimator_and_stays_under_one_megabyte(exported, photo):
    out, _ = exported
    tflite = out / "mood_mini_xception.tflite"
    assert tflite.stat().st_size < 1024 * 1024
    faces = MoodEstimator.load(tflite).estimate(photo("obama-480p.jpg"))
    assert len(faces) == 1 and sum(faces[0].probabilities.values()) == pytest.approx(1, abs=1e-4)


def test_the_exported_card_records_class_offsets_that_did_not_lower_validation_f1(exported):
    out, _ = exported
    card = json.loads((out / "model_card.json").read_text())
    assert set(card["class_logit_offsets"]) == {"positive", "negative", "neutral", "other"}
    assert card["class_logit_offsets"]["positive"] == 0.0
    best = max(card["selection"], key=lambda t: t["weighted_f1"])
    assert card["validation"]["weighted_f1"] >= best["weighted_f1"] - 1e-9


def test_class_offsets_move_decisions_towards_the_frequent_class_when_that_raises_weighted_f1():
    from sklearn.metrics import f1_score

    from inference.calibrate import class_offset_search

    labels = np.array([0] * 300 + [1] * 700)
    probs = np.tile([0.5, 0.45, 0.03, 0.02], (1000, 1))  # always "positive", by a small margin
    offsets = class_offset_search(probs, labels)
    assert offsets[0] == 0 and offsets[1] > np.log(0.5 / 0.45)
    shifted = (np.log(probs) + offsets).argmax(1)
    assert f1_score(labels, shifted, average="weighted") > f1_score(labels, probs.argmax(1), average="weighted")


def test_class_offsets_stay_zero_when_validation_is_already_perfect():
    from inference.calibrate import class_offset_search

    labels = np.arange(400) % 4
    probs = np.full((400, 4), 0.1)
    probs[np.arange(400), labels] = 0.7
    assert not class_offset_search(probs, labels).any()


def test_the_exported_card_records_the_configuration_the_run_was_trained_with(exported, tiny_run):
    out, _ = exported
    card = json.loads((out / "model_card.json").read_text())
    trained_with = json.loads((tiny_run["out"] / "config.json").read_text())
    assert card["hyperparameters"] == trained_with
    assert card["hyperparameters"]["seed"] == 7  # the tiny run's --seed, not the default
