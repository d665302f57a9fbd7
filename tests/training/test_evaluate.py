"""`python -m training evaluate` with the committed model."""

import json

import cv2
import numpy as np
import pytest

REPORT_KEYS = {"n", "accuracy", "weighted_f1", "macro_f1", "per_class", "confusion", "ece"}


@pytest.fixture(scope="module")
def small_private_set(tmp_path_factory, fer_root):
    """Ten PrivateTest_ and two PublicTest_ images per emotion folder, symlinked."""
    root = tmp_path_factory.mktemp("fer-small")
    for emotion in ("happy", "sad", "neutral", "surprise", "angry"):
        files = sorted((fer_root / "test" / emotion).glob("PrivateTest_*"))[:10]
        files += sorted((fer_root / "test" / emotion).glob("PublicTest_*"))[:2]
        (root / emotion).mkdir()
        for f in files:
            (root / emotion / f.name).symlink_to(f)
    return root


def test_evaluate_json_prints_exactly_the_documented_keys_for_the_chosen_split(cli, small_private_set):
    result = cli("evaluate", "--data", str(small_private_set), "--split", "private", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == REPORT_KEYS
    assert report["n"] == 50
    assert set(report["per_class"]) == {"positive", "negative", "neutral", "other"}
    assert sum(map(sum, report["confusion"])) == 50
    assert 0.0 <= report["macro_f1"] <= 1.0
    public = json.loads(cli("evaluate", "--data", str(small_private_set), "--split", "public", "--json").stdout)
    assert public["n"] == 10
    assert json.loads(cli("evaluate", "--data", str(small_private_set), "--split", "all", "--json").stdout)["n"] == 60


def test_evaluate_prints_a_readable_report_with_the_confusion_matrix(cli, small_private_set):
    result = cli("evaluate", "--data", str(small_private_set))
    assert result.returncode == 0, result.stderr
    for text in ("weighted F1", "macro F1", "precision", "recall", "confusion", "split private"):
        assert text in result.stdout


def test_evaluate_with_detect_counts_images_without_a_face_as_misses(cli, tmp_path, fer_root):
    happy = sorted((fer_root / "test" / "happy").glob("PrivateTest_*"))[:6]
    (tmp_path / "happy").mkdir()
    for f in happy:
        (tmp_path / "happy" / f.name).symlink_to(f)
    cv2.imwrite(str(tmp_path / "happy" / "PrivateTest_blank.jpg"), np.full((48, 48), 128, np.uint8))
    result = cli("evaluate", "--data", str(tmp_path), "--detect", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["n"] == 7
    assert report["no_face"] >= 1
    predicted = sum(report["confusion"][0])  # images that got a mood
    assert predicted == 7 - report["no_face"]
    assert report["per_class"]["positive"]["recall"] <= predicted / 7


def test_evaluate_reports_an_unknown_class_folder_as_an_error_not_a_traceback(cli, tmp_path):
    (tmp_path / "bored").mkdir()
    cv2.imwrite(str(tmp_path / "bored" / "a.jpg"), np.zeros((48, 48), np.uint8))
    result = cli("evaluate", "--data", str(tmp_path), "--json")
    assert result.returncode == 2
    assert "error:" in result.stderr and "bored" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["train", "evaluate", "bench"])
def test_every_command_has_help(cli, command):
    result = cli(command, "--help")
    assert result.returncode == 0 and "usage:" in result.stdout
