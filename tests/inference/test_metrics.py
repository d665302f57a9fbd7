import numpy as np

from inference.metrics import classification_report


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
