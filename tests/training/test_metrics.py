import numpy as np
import pytest

from training.metrics import classification_report


def test_the_report_has_accuracy_f1_per_class_and_a_confusion_matrix():
    y_true = np.array([0, 0, 1, 1, 2, 3])
    y_pred = np.array([0, 1, 1, 1, 2, 0])
    report = classification_report(y_true, y_pred)
    assert set(report) == {"n", "accuracy", "weighted_f1", "macro_f1", "per_class", "confusion"}
    assert report["n"] == 6
    assert report["accuracy"] == 4 / 6
    assert report["confusion"] == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 1, 0], [1, 0, 0, 0]]
    assert report["per_class"]["neutral"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert report["per_class"]["other"]["f1"] == 0.0


def test_a_missed_face_counts_against_accuracy_and_recall_but_not_precision():
    report = classification_report(np.array([0, 0, 1]), np.array([0, -1, 1]))
    assert report["accuracy"] == 2 / 3
    assert report["per_class"]["positive"]["recall"] == 0.5
    assert report["per_class"]["positive"]["precision"] == 1.0


def test_a_calibrated_forecaster_has_an_expected_calibration_error_near_zero():
    from training.metrics import expected_calibration_error

    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.3, 1.0, 20000)
    correct = rng.uniform(size=confidence.size) < confidence  # right as often as it says
    probs = np.zeros((confidence.size, 4))
    probs[:, 0] = confidence
    probs[:, 1:] = ((1 - confidence) / 3)[:, None]
    labels = np.where(correct, 0, 1)
    assert expected_calibration_error(probs, labels) < 0.02


def test_an_overconfident_forecaster_has_an_error_equal_to_its_overconfidence():
    from training.metrics import expected_calibration_error

    probs = np.tile([0.9, 0.1 / 3, 0.1 / 3, 0.1 / 3], (1000, 1))
    labels = np.array([0] * 600 + [1] * 400)  # 90% sure, 60% right
    assert expected_calibration_error(probs, labels) == pytest.approx(0.3)
    assert expected_calibration_error(probs, np.zeros(1000, dtype=int)) == pytest.approx(0.1)


def test_the_expected_calibration_error_weights_each_of_fifteen_bins_by_its_share_of_samples():
    from training.metrics import expected_calibration_error

    # 0.95 confidence, all right (bin 15: error 0.05, 3/4 of samples); 0.5, all wrong (bin 8: 0.5, 1/4)
    probs = np.array([[0.95, 0.05, 0, 0]] * 3 + [[0.5, 0.5, 0, 0]])
    labels = np.array([0, 0, 0, 2])
    assert expected_calibration_error(probs, labels) == pytest.approx(0.75 * 0.05 + 0.25 * 0.5)
    assert expected_calibration_error(np.zeros((0, 4)), np.zeros(0, dtype=int)) == 0.0


def test_the_negative_log_likelihood_is_that_of_the_true_class():
    from training.metrics import mood_nll

    probs = np.array([[0.5, 0.25, 0.25, 0], [0.1, 0.9, 0, 0]])
    assert mood_nll(probs, np.array([0, 1])) == pytest.approx(-(np.log(0.5) + np.log(0.9)) / 2)
    assert np.isfinite(mood_nll(probs, np.array([3, 3])))  # a zero probability is clipped, not -inf
