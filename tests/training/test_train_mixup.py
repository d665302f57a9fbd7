"""Mixup: each training image blended with another of its batch, its target and weight alike."""

import json

import numpy as np
import pytest

from training.train import mixup

from .conftest import run_cli

BATCH = 256


def blended(alpha: float):
    """A batch whose image i is the constant i and whose target is one-hot on i, mixed; with the
    share each image kept of its own (read from its target) and the index of its partner."""
    import tensorflow as tf

    tf.random.set_seed(2018)
    images = np.broadcast_to(np.arange(BATCH, dtype="float32")[:, None, None, None], (BATCH, 48, 48, 1)).copy()
    targets = np.eye(BATCH, dtype="float32")
    weights = 1 + np.arange(BATCH, dtype="float32") / BATCH
    x, y, w = (np.asarray(t) for t in mixup(images, targets, weights, alpha))
    own = y[np.arange(BATCH), np.arange(BATCH)]
    rest = y.copy()
    rest[np.arange(BATCH), np.arange(BATCH)] = 0
    partner = np.where(rest.max(1) > 0, rest.argmax(1), np.arange(BATCH))
    return weights, x, y, w, own, partner


def test_mixup_blends_each_image_its_target_and_its_weight_with_one_partner_in_the_same_share():
    weights, x, y, w, own, partner = blended(0.4)
    np.testing.assert_allclose(y.sum(1), 1, atol=1e-6)
    assert ((y > 0).sum(1) <= 2).all()  # the own target and at most one partner's
    expected = own * np.arange(BATCH) + (1 - own) * partner
    np.testing.assert_allclose(x[:, 0, 0, 0], expected, rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(x, x[:, :1, :1, :1] * np.ones_like(x), rtol=1e-6)  # one share per image
    np.testing.assert_allclose(w, own * weights + (1 - own) * weights[partner], rtol=1e-5)
    assert (partner != np.arange(BATCH)).mean() > 0.9  # a permutation: few images meet themselves
    assert set(np.unique(partner)) <= set(range(BATCH))


def test_each_image_keeps_at_least_half_of_itself_and_alpha_sets_how_much_more():
    gentle = blended(0.2)[4]
    strong = blended(10.0)[4]
    assert gentle.min() >= 0.5 - 1e-6 and strong.min() >= 0.5 - 1e-6
    assert gentle.mean() > 0.8  # Beta(0.2, 0.2) sits near 0 and 1: mostly the own face
    assert strong.mean() < 0.62  # Beta(10, 10) sits near 0.5: near half and half


def test_a_run_with_mixup_records_it_in_its_model_card(tiny_emotion_run):
    card = json.loads((tiny_emotion_run["out"] / "model_card.json").read_text())
    assert card["hyperparameters"]["mixup"] == 0.4


@pytest.mark.parametrize("alpha", ["-1", "0.05", "10.5", "nan", "inf", "1e308"])
def test_a_mixup_alpha_outside_its_range_is_refused_before_training(alpha, tmp_path):
    result = run_cli("train", "--data", str(tmp_path), "--out", str(tmp_path / "out"), "--mixup", alpha)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "mixup must be 0 (off) or between 0.1 and 10" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()
