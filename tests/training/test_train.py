"""A tiny training run (one epoch, ~220 FER2013 images) through `python -m training train`."""

import json

import numpy as np
import pytest

from inference import MoodEstimator
from training.data import load_dataset


def test_training_prints_its_progress_and_a_json_summary(tiny_run):
    out = tiny_run["result"].stdout
    assert "epoch 1:" in out and "val_weighted_f1=" in out
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["epochs_run"] == 1 and summary["version"].startswith("mini-xception-4mood-")


def test_training_writes_the_keras_model_the_tflite_export_and_a_model_card(tiny_run):
    out = tiny_run["out"]
    for name in ("model.keras", "model.tflite", "model_card.json", "history.jsonl"):
        assert (out / name).is_file(), name
    assert (out / "model.tflite").stat().st_size < 1024 * 1024
    card = json.loads((out / "model_card.json").read_text())
    assert card["epochs_run"] == 1 and card["training_seconds"] > 0
    assert card["input"]["size"] == 48 and card["classes"] == ["positive", "negative", "neutral", "other"]
    assert card["hyperparameters"]["batch_size"] == 64 and card["hyperparameters"]["learning_rate"] == 1e-3
    assert set(card["validation"]) >= {"accuracy", "weighted_f1", "macro_f1", "per_class", "confusion"}


def test_training_counts_emotions_as_moods_and_validates_on_public_test_only(tiny_run):
    card = json.loads((tiny_run["out"] / "model_card.json").read_text())
    assert card["data"]["train"] == {"positive": 45, "negative": 75, "neutral": 45, "other": 35}
    assert sum(card["data"]["validation"].values()) == tiny_run["n_val"]  # PrivateTest_ files left out
    assert "PublicTest_" in card["data"]["validation_source"]


def test_the_served_tflite_model_gives_the_probabilities_the_keras_model_was_evaluated_with(tiny_run):
    from training.model import load_keras_model
    from training.train import predict_probs

    val = load_dataset(tiny_run["data"] / "test", size=48, split="public")
    expected = predict_probs(load_keras_model(tiny_run["out"] / "model.keras"), val.images)
    served = MoodEstimator.load(tiny_run["out"] / "model.tflite").classify(val.images[..., 0])
    np.testing.assert_allclose(served, expected, atol=1e-4)


def test_the_tiny_model_is_evaluated_through_the_command_line(tiny_run, cli):
    result = cli("evaluate", "--data", str(tiny_run["data"] / "test"), "--split", "public",
                 "--model", str(tiny_run["out"] / "model.tflite"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {"n", "accuracy", "weighted_f1", "macro_f1", "per_class", "confusion", "ece"}
    assert 0 <= report["ece"] <= 1
    assert report["n"] == tiny_run["n_val"]
    assert sum(map(sum, report["confusion"])) == tiny_run["n_val"]


def test_a_warm_restart_starts_from_an_earlier_runs_weights_with_its_own_learning_rate(tiny_run, tmp_path):
    from .conftest import run_cli

    out = tmp_path / "restart"
    result = run_cli("train", "--data", str(tiny_run["data"]), "--out", str(out), "--epochs", "1",
                     "--init-weights", str(tiny_run["out"] / "model.keras"), "--learning-rate", "5e-4",
                     "--plateau-patience", "3", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"starting from the weights in {tiny_run['out'] / 'model.keras'}" in result.stdout
    card = json.loads((out / "model_card.json").read_text())
    assert card["hyperparameters"]["init_weights"] == str(tiny_run["out"] / "model.keras")
    assert card["hyperparameters"]["learning_rate"] == 5e-4 and card["hyperparameters"]["plateau_patience"] == 3
    history = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert history[0]["lr"] == pytest.approx(5e-4)


def test_an_emotion_head_trains_on_fer_plus_targets_and_is_served_as_four_mood_probabilities(tiny_emotion_run):
    from training.model import load_keras_model
    from training.train import predict_probs

    out = tiny_emotion_run["out"]
    card = json.loads((out / "model_card.json").read_text())
    assert card["hyperparameters"]["head"] == "emotions" and card["hyperparameters"]["schedule"] == "cosine"
    assert "0.5 of the target from FER+ votes" in card["data"]["targets"]
    assert tiny_emotion_run["n_votes"] == tiny_emotion_run["n_train"] + tiny_emotion_run["n_val"]
    network = load_keras_model(out / "model.keras")
    assert network.output_shape == (None, 7)
    val = load_dataset(tiny_emotion_run["data"] / "test", size=48, split="public")
    served = MoodEstimator.load(out / "model.tflite").classify(val.images[..., 0])
    assert served.shape == (len(val), 4)
    np.testing.assert_allclose(served, predict_probs(network, val.images), atol=1e-4)


def test_the_cosine_schedule_warms_up_to_the_learning_rate_then_decays_to_its_floor():
    from training.train import TrainConfig, learning_rate_schedule

    cfg = TrainConfig(schedule="cosine", epochs=10, warmup_epochs=2, learning_rate=1e-3, min_learning_rate=1e-5)
    schedule = learning_rate_schedule(cfg, steps_per_epoch=100)
    lr = lambda step: float(schedule(step))  # noqa: E731
    assert lr(0) == pytest.approx(1e-5)
    assert lr(100) == pytest.approx((1e-5 + 1e-3) / 2, rel=1e-3)
    assert lr(200) == pytest.approx(1e-3)
    assert lr(600) == pytest.approx(1e-5 + (1e-3 - 1e-5) / 2, rel=1e-3)
    assert lr(1000) == pytest.approx(1e-5, rel=1e-3)
    assert learning_rate_schedule(TrainConfig(), 100) == 1e-3  # plateau: a constant ReduceLROnPlateau lowers
    with pytest.raises(ValueError, match="unknown schedule"):
        learning_rate_schedule(TrainConfig(schedule="linear"), 100)
