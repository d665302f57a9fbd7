"""Distillation: a served model's probabilities, its calibration taken out, as training targets."""

import json

import numpy as np
import pytest

from inference.errors import InferenceError
from inference.labels import MOODS
from training.calibrate import _logits_fn
from training.data import load_dataset
from training.model import load_keras_model
from training.networks import _per_class_offsets
from training.train import TrainConfig, teacher_probs, training_targets

from .conftest import run_cli


@pytest.fixture(scope="module")
def teacher(exported):
    out, _ = exported
    return out / "mood_mini_xception.keras"


@pytest.fixture(scope="module")
def train_set(tiny_emotion_run):
    return load_dataset(tiny_emotion_run["data"] / "train")


def _softmax(z):
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def test_the_teachers_targets_are_its_uncalibrated_probabilities_averaged_over_the_mirror_as_served(teacher, train_set):
    card = json.loads(teacher.with_name("model_card.json").read_text())
    assert card["temperature"] != 1.0  # the served file has a calibration to take out
    served = _logits_fn(load_keras_model(teacher))
    x = train_set.images[:32].astype("float32")
    z, z_flip = served(x), served(x[:, :, ::-1])  # calibrated logits of the image and its mirror
    offsets = _per_class_offsets([card["class_logit_offsets"][m] for m in MOODS], z.shape[1])
    expected = (_softmax((z - offsets) * card["temperature"]) + _softmax((z_flip - offsets) * card["temperature"])) / 2
    np.testing.assert_allclose(teacher_probs(teacher, train_set.images[:32], 7), expected, atol=1e-4)


def test_the_teachers_share_of_each_target_is_mixed_with_the_labels(teacher, train_set, tiny_emotion_run):
    cfg = TrainConfig(head="emotions", teacher=str(teacher), teacher_weight=0.6)
    _, targets, note = training_targets(train_set, cfg, tiny_emotion_run["data"])
    labels = np.eye(7)[train_set.emotions]
    expected = 0.4 * labels + 0.6 * teacher_probs(teacher, train_set.images, 7)
    np.testing.assert_allclose(targets, expected, atol=1e-5)
    np.testing.assert_allclose(targets.sum(1), 1, atol=1e-5)
    assert "0.6 of the target from the teacher mood_mini_xception.keras" in note


def test_a_teacher_with_other_classes_than_the_student_is_refused(teacher, train_set, tiny_emotion_run):
    cfg = TrainConfig(head="moods", teacher=str(teacher), teacher_weight=0.5)
    with pytest.raises(InferenceError, match="the teacher has 7 classes, the student 4"):
        training_targets(train_set, cfg, tiny_emotion_run["data"])


def test_a_distilled_run_records_its_teacher_in_the_model_card(teacher, tiny_emotion_run, tmp_path):
    result = run_cli("train", "--data", str(tiny_emotion_run["data"]), "--out", str(tmp_path), "--epochs", "1",
                     "--head", "emotions", "--teacher", str(teacher), "--teacher-weight", "0.7", timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    card = json.loads((tmp_path / "model_card.json").read_text())
    assert card["hyperparameters"]["teacher"] == str(teacher)
    assert card["hyperparameters"]["teacher_weight"] == 0.7
    assert "0.7 of the target from the teacher" in card["data"]["targets"]


@pytest.mark.parametrize("weight", ["1.5", "-0.1", "nan", "inf", "1e308"])
def test_a_teacher_weight_outside_zero_to_one_is_refused_before_training(weight, teacher, tmp_path):
    result = run_cli("train", "--data", str(tmp_path), "--out", str(tmp_path / "out"), "--head", "emotions",
                     "--teacher", str(teacher), "--teacher-weight", weight)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "teacher_weight must be between 0 and 1" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("options", [["--teacher", "x.keras"], ["--teacher-weight", "0.5"]])
def test_a_teacher_and_its_weight_are_given_together_or_not_at_all(options, tmp_path):
    result = run_cli("train", "--data", str(tmp_path), "--out", str(tmp_path / "out"), *options)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "a teacher needs a teacher_weight above 0" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, content", [("nul.keras", b"PK\x00\x00not a zip"), ("notes.txt", b"a\x00b"),
                                           ("missing.keras", None)])
def test_a_teacher_that_is_not_a_served_keras_file_is_a_clear_error(name, content, tiny_emotion_run, tmp_path):
    teacher = tmp_path / name
    if content is not None:
        teacher.write_bytes(content)
    result = run_cli("train", "--data", str(tiny_emotion_run["data"]), "--out", str(tmp_path / "out"),
                     "--head", "emotions", "--teacher", str(teacher), "--teacher-weight", "0.5")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert f"error: {teacher}" in result.stderr or f"error: teacher {teacher}" in result.stderr
