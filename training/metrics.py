"""Classification figures for the four moods: accuracy, F1 (weighted, macro, per class), confusion."""

from __future__ import annotations

import numpy as np

from inference.labels import MOODS


def classification_report(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    from sklearn.metrics import (
        accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
    )

    labels = list(range(len(MOODS)))
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=labels, zero_division=0
    )
    return {
        "n": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=labels, average="weighted", zero_division=0)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {
            mood: {"precision": float(precision[i]), "recall": float(recall[i]),
                   "f1": float(f1[i]), "support": int(support[i])}
            for i, mood in enumerate(MOODS)
        },
        "confusion": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
    }


ECE_BINS = 15


def expected_calibration_error(probs: np.ndarray, y_true: np.ndarray, *, bins: int = ECE_BINS) -> float:
    """Expected calibration error of the top-class confidence (Guo et al. 2017): the mean, over
    `bins` equal-width confidence bins weighted by their share of samples, of |accuracy - mean
    confidence| in the bin."""
    probs = np.asarray(probs, dtype="float64")
    y_true = np.asarray(y_true)
    if len(y_true) == 0:
        return 0.0
    confidence = probs.max(1)
    correct = probs.argmax(1) == y_true
    # bin i holds confidences in (i/bins, (i+1)/bins]; a confidence of exactly 0 joins the first
    index = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    total = 0.0
    for b in range(bins):
        in_bin = index == b
        if in_bin.any():
            total += in_bin.mean() * abs(correct[in_bin].mean() - confidence[in_bin].mean())
    return float(total)


def mood_nll(probs: np.ndarray, y_true: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class."""
    picked = np.asarray(probs, dtype="float64")[np.arange(len(y_true)), np.asarray(y_true)]
    return float(-np.log(np.clip(picked, 1e-12, 1.0)).mean())
