"""`python -m training export`: candidates scored on validation data, temperature and class
offsets folded into the network, float32 and int8 serving files."""

import json

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from inference import MoodEstimator
from inference.labels import EMOTIONS
from training.calibrate import _logits_fn, class_offset_search, fit_temperature
from training.data import Dataset, load_dataset
from training.metrics import mood_nll
from training.model import build_mini_xception
from training.networks import scale_logits

from .conftest import run_cli


def _card(out):
    return json.loads((out / "model_card.json").read_text())


def test_export_scores_each_candidate_on_public_test_and_keeps_the_best(exported):
    out, summary = exported
    card = _card(out)
    assert card["selection"] and all(t["weights"] for t in card["selection"])
    best = max(card["selection"], key=lambda t: t["weighted_f1"])
    assert card["weights"] == summary["weights"] == best["weights"]
    assert "PublicTest_" in card["data"]["validation_source"]
    assert "blur" not in json.dumps(card)  # the served model classifies sharp crops as they come


def test_the_exported_model_loads_in_the_estimator_and_stays_under_one_megabyte(exported, photo):
    out, summary = exported
    tflite = out / "mood_mini_xception.tflite"
    assert tflite.stat().st_size < 1024 * 1024 and summary["bytes"] == tflite.stat().st_size
    faces = MoodEstimator.load(tflite).estimate(photo("obama-480p.jpg"))
    assert len(faces) == 1 and sum(faces[0].probabilities.values()) == pytest.approx(1, abs=1e-4)


def test_export_also_writes_the_browsers_fixed_batch_copy_with_the_same_outputs(exported, photo):
    out, _ = exported
    served, browser = out / "mood_mini_xception.tflite", out / "mood_mini_xception_b1.tflite"
    assert browser.is_file()
    estimator = MoodEstimator.load(served)
    image = photo("two_people.jpg")
    crops = estimator.crops(image, estimator.detect(image)).astype(np.float32)
    it = Interpreter(model_path=str(browser))
    it.allocate_tensors()
    inp, outp = it.get_input_details()[0], it.get_output_details()[0]
    assert inp["shape_signature"].tolist() == [1, 48, 48, 1]
    rows = []
    for crop in np.concatenate([crops, crops[:, :, ::-1]]):
        it.set_tensor(inp["index"], crop[None, :, :, None])
        it.invoke()
        rows.append(it.get_tensor(outp["index"])[0].copy())
    rows = np.array(rows)
    n = len(crops)
    assert n == 2
    assert np.abs((rows[:n] + rows[n:]) / 2 - estimator.classify(crops.astype(np.uint8))).max() <= 1e-5


def test_the_card_records_the_temperature_and_the_validation_calibration_before_and_after(exported):
    out, summary = exported
    card = _card(out)
    assert 0.25 <= card["temperature"] <= 4 and card["temperature"] == summary["temperature"]
    calibration = card["calibration"]
    assert calibration["validation_nll_after"] <= calibration["validation_nll_before"] + 1e-6 or any(
        card["class_logit_offsets"].values())  # offsets trade a little likelihood for F1
    assert 0 <= card["validation"]["ece"] <= 1
    assert set(card["class_logit_offsets"]) == {"positive", "negative", "neutral", "other"}
    assert card["class_logit_offsets"]["positive"] == 0.0


def test_the_folded_calibration_is_what_the_served_file_computes(exported, tiny_emotion_run):
    """The .tflite probabilities are the trained network's with its logits divided by the card's
    temperature and shifted by its offsets: nothing is applied outside the file."""
    from training.calibrate import run_config
    from training.train import build_network, predict_probs

    out, _ = exported
    card = _card(out)
    cfg = run_config(tiny_emotion_run["out"])
    network = build_network(cfg, weights=tiny_emotion_run["out"] / "best.keras")
    if card["weights"] != "best.keras":
        pytest.fail(f"one epoch has a single candidate, got {card['weights']}")
    offsets = [card["class_logit_offsets"][m] for m in ("positive", "negative", "neutral", "other")]
    scale_logits(network, temperature=card["temperature"], offsets=offsets)
    val = load_dataset(tiny_emotion_run["data"] / "test", size=48, split="public")
    served = MoodEstimator.load(out / "mood_mini_xception.tflite").classify(val.images[..., 0])
    np.testing.assert_allclose(served, predict_probs(network, val.images), atol=1e-4)


def test_scaling_the_logits_divides_them_by_the_temperature_and_adds_each_moods_offset():
    network = build_mini_xception(num_classes=len(EMOTIONS), width=1.0)
    faces = np.random.default_rng(1).integers(0, 256, (4, 48, 48, 1)).astype("float32")
    before = _logits_fn(network)(faces)
    scale_logits(network, temperature=2.0, offsets=[0.0, 0.5, -0.25, 1.0])
    after = _logits_fn(network)(faces)
    # emotions: angry disgust fear happy neutral sad surprise -> neg neg neg pos neu neg other
    shift = np.array([0.5, 0.5, 0.5, 0.0, -0.25, 0.5, 1.0])
    np.testing.assert_allclose(after, before / 2.0 + shift, rtol=1e-4, atol=1e-4)


def test_the_fitted_temperature_recovers_the_one_the_labels_were_drawn_with():
    rng = np.random.default_rng(5)
    network = build_mini_xception(width=1.0)
    images = rng.integers(0, 256, (3000, 48, 48, 1)).astype("uint8")
    x = images.astype("float32")
    # Confident logits, whatever the random initialisation: the logits are linear in the last
    # kernel (a convolution then an average), so scaling it sets their spread to about 3.
    classifier = network.get_layer("classifier_conv")
    kernel, bias = classifier.get_weights()
    classifier.set_weights([kernel, np.zeros_like(bias)])
    spread = ((_logits_fn(network)(x) + _logits_fn(network)(x[:, :, ::-1])) / 2).std()
    classifier.set_weights([kernel * (3.0 / spread), bias])
    z = (_logits_fn(network)(x) + _logits_fn(network)(x[:, :, ::-1])) / 2
    assert z.std() > 2, "the test needs logits that spread"
    true_t = 2.0
    p = np.exp(z / true_t - (z / true_t).max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    labels = np.array([rng.choice(4, p=row) for row in p])
    fitted, trials = fit_temperature(network, Dataset(images, labels, ("x",) * len(labels)))
    assert 1.5 <= fitted <= 2.7, fitted
    nll = {round(t["temperature"], 2): t["nll"] for t in trials}
    assert nll[round(fitted, 2)] < nll[1.0] and nll[round(fitted, 2)] < mood_nll(np.full((3, 4), 0.25), [0, 1, 2])


def test_class_offsets_move_decisions_towards_the_frequent_class_when_that_raises_weighted_f1():
    from sklearn.metrics import f1_score

    labels = np.array([0] * 300 + [1] * 700)
    probs = np.tile([0.5, 0.45, 0.03, 0.02], (1000, 1))  # always "positive", by a small margin
    offsets = class_offset_search(probs, labels)
    assert offsets[0] == 0 and offsets[1] > np.log(0.5 / 0.45)
    shifted = (np.log(probs) + offsets).argmax(1)
    assert f1_score(labels, shifted, average="weighted") > f1_score(labels, probs.argmax(1), average="weighted")


def test_an_int8_export_is_smaller_loads_and_mostly_agrees_with_the_float_model(exported, tiny_emotion_run, tmp_path):
    out, _ = exported
    result = run_cli("export", "--run", str(tiny_emotion_run["out"]), "--data", str(tiny_emotion_run["data"]),
                     "--out", str(tmp_path), "--int8", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    card = _card(tmp_path)
    assert card["version"].endswith("-int8") and "int8" in card["file"]["format"]
    int8_file, float_file = tmp_path / "mood_mini_xception.tflite", out / "mood_mini_xception.tflite"
    assert int8_file.stat().st_size < float_file.stat().st_size / 2
    val = load_dataset(tiny_emotion_run["data"] / "test", size=48, split="public")
    quantised = MoodEstimator.load(int8_file).classify(val.images[..., 0])
    full = MoodEstimator.load(float_file).classify(val.images[..., 0])
    np.testing.assert_allclose(quantised.sum(1), 1, atol=0.02)  # int8 outputs: steps of ~1/256
    assert np.abs(quantised - full).max() < 0.25
    assert (quantised.argmax(1) == full.argmax(1)).mean() >= 0.8
