"""Parity is a test (issue 28): on real frames, the browser's pipeline (LiteRT.js in headless
Chromium, pipeline.js) finds the server's faces within 2 px, gives its probabilities within 1e-3 and
the same mood on every frame, and counts the same bystanders. The page gets everything from the live
server: the manifest with a device token, the model files by hash, LiteRT.js from static files,
under the patient app's Content-Security-Policy."""
import pytest

from benchmarks.browser_runtime import browser_result, open_runtime_page, python_result, real_frames
from tests.backend.factories import DeviceFactory, PatientFactory

BOX_PX = 2
PROBABILITY = 1e-3


@pytest.fixture(scope="module")
def estimator():
    from inference import MoodEstimator

    return MoodEstimator.load()


def test_the_browser_pipeline_matches_the_server_on_real_frames(live_server, page, sample_images_dir, estimator):
    device = DeviceFactory(patient=PatientFactory(reference="P-PARITY"))
    frames = real_frames(sample_images_dir)
    manifest = open_runtime_page(page, live_server.url, frames, device.token)
    assert manifest["version"] == estimator.version and manifest["mode"] == "on_device"
    compared = with_face = with_bystanders = 0
    worst_box = worst_probability = 0.0
    for frame in frames:
        got = browser_result(page, live_server.url, frame)["result"]
        want = python_result(estimator, frame)
        h, w = frame.bgr.shape[:2]
        assert got["frame_size"] == [w, h]
        assert got["bystanders"] == want["bystanders"], frame.name
        assert (got["face"] is None) == (want["face"] is None), frame.name
        compared += 1
        with_bystanders += want["bystanders"] > 0
        if want["face"] is None:
            continue
        with_face += 1
        box_error = max(abs(a - b) for a, b in zip(got["face"]["box"], want["face"]["box"]))
        p_got, p_want = got["face"]["probabilities"], want["face"]["probabilities"]
        assert sorted(p_got) == sorted(p_want)
        probability_error = max(abs(p_got[m] - p_want[m]) for m in p_want)
        assert box_error <= BOX_PX, (frame.name, got["face"]["box"], want["face"]["box"])
        assert probability_error <= PROBABILITY, (frame.name, p_got, p_want)
        assert max(p_got, key=p_got.get) == want["face"]["mood"], frame.name
        assert got["face"]["detection_score"] == pytest.approx(want["face"]["detection_score"], abs=1e-4)
        worst_box, worst_probability = max(worst_box, box_error), max(worst_probability, probability_error)
    assert compared == len(frames) == 20 and with_face >= 16
    assert with_bystanders >= 2  # two_people.jpg's frames
    print(f"parity on {compared} frames ({with_face} with a face, {with_bystanders} with bystanders): "
          f"largest box difference {worst_box} px, "
          f"largest probability difference {worst_probability:.2e}")
