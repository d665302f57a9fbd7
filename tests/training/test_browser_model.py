"""The browser's classifier (inference/models/*_b1.tflite, run by LiteRT.js in the patient app) is a
fixed-batch copy of the served model: written by `export` from the same file, it gives the served
model's probabilities on real face crops, and the files the phone downloads stay small."""

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from inference.detection import MODELS, model_dir
from inference.estimator import DEFAULT_MODEL, browser_model_path
from training.export import write_fixed_batch_copy

BROWSER_MODEL = browser_model_path(DEFAULT_MODEL)
TOLERANCE = 1e-5
DOWNLOAD_LIMIT = 1_500_000  # bytes: both model files together (issue 28)


def run_one_at_a_time(path, crops: np.ndarray) -> np.ndarray:
    it = Interpreter(model_path=str(path), num_threads=1)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    rows = []
    for crop in crops:
        it.set_tensor(inp["index"], crop[None, :, :, None].astype(np.float32))
        it.invoke()
        rows.append(it.get_tensor(out["index"])[0].copy())
    return np.array(rows)


@pytest.fixture(scope="module")
def face_crops(estimator, photo):
    """Real face crops as the server cuts them (every face of the sample photos, and their mirrors)."""
    crops = []
    for name in ("obama1.jpg", "obama-480p.jpg", "obama-720p.jpg", "two_people.jpg"):
        image = photo(name)
        crops.extend(estimator.crops(image, estimator.detect(image)))
    crops = np.array(crops)
    assert len(crops) >= 5
    return np.concatenate([crops, crops[:, :, ::-1]])


def test_the_browser_copy_has_a_fixed_batch_of_one_and_the_served_model_keeps_its_dynamic_batch():
    browser = Interpreter(model_path=str(BROWSER_MODEL))
    served = Interpreter(model_path=str(DEFAULT_MODEL))
    for detail in browser.get_input_details() + browser.get_output_details():
        assert detail["shape"][0] == 1 and -1 not in detail["shape_signature"].tolist(), detail
    assert served.get_input_details()[0]["shape_signature"][0] == -1


def test_its_probabilities_equal_the_served_models_on_real_face_crops(face_crops, estimator):
    browser = run_one_at_a_time(BROWSER_MODEL, face_crops)
    served = run_one_at_a_time(DEFAULT_MODEL, face_crops)
    assert np.abs(browser - served).max() <= TOLERANCE
    # and the served path (batched, through MoodEstimator's classifier) agrees with it too
    n = len(face_crops) // 2
    averaged = (browser[:n] + browser[n:]) / 2
    assert np.abs(averaged - estimator.classify(face_crops[:n])).max() <= TOLERANCE
    assert len(set(averaged.argmax(1))) >= 2, "the crops should not all have one mood"


def test_export_writes_the_committed_copy_byte_for_byte_from_the_served_file(tmp_path):
    written = write_fixed_batch_copy(DEFAULT_MODEL, tmp_path / "copy.tflite")
    assert written.read_bytes() == BROWSER_MODEL.read_bytes()


def test_both_files_the_phone_downloads_stay_under_one_and_a_half_megabytes():
    detector = model_dir() / MODELS["short"].filename
    total = BROWSER_MODEL.stat().st_size + detector.stat().st_size
    assert total < DOWNLOAD_LIMIT, total
