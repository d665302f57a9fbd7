"""Every bad-input path of MoodEstimator raises InferenceError with a clear message."""

import io
import struct

import cv2
import numpy as np
import pytest
from PIL import Image

from inference import InferenceError, MoodEstimator
from inference.estimator import MAX_PIXELS
from tests.support import png_declaring


def jpeg_declaring(data, width, height):
    """The same JPEG with its SOF0 header rewritten to claim another size."""
    sof = data.find(b"\xff\xc0")
    assert sof > 0
    return data[:sof + 5] + struct.pack(">HH", height, width) + data[sof + 9:]


@pytest.fixture
def no_pixel_decoding(monkeypatch):
    """Fail if any pixel data is decoded: size checks must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("cv2.imdecode was called before the size check")
    monkeypatch.setattr(cv2, "imdecode", refuse)


@pytest.mark.parametrize("frame, message", [
    (b"", "empty"),
    (b"hello, not an image", "not a decodable JPEG or PNG"),
    (bytearray(b"\x00" * 1000), "not a decodable JPEG or PNG"),
    ("obama.jpg", "not str"),
    (None, "not NoneType"),
    ([[0, 0, 0]], "not list"),
])
def test_bytes_that_are_not_an_image_and_other_types_are_refused(estimator, frame, message):
    with pytest.raises(InferenceError, match=message):
        estimator.estimate(frame)


def test_a_jpeg_truncated_after_its_header_is_refused(estimator, photos):
    data = (photos / "obama-480p.jpg").read_bytes()
    with pytest.raises(InferenceError, match="valid 853x480 header but its pixel data cannot be decoded"):
        estimator.estimate(data[: len(data) // 2])


def test_an_image_format_other_than_jpeg_or_png_is_refused(estimator):
    gif = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(gif, format="GIF")
    with pytest.raises(InferenceError, match="not a decodable JPEG or PNG"):
        estimator.estimate(gif.getvalue())


def test_a_one_pixel_image_is_refused(estimator):
    one = cv2.imencode(".png", np.zeros((1, 1, 3), np.uint8))[1].tobytes()
    with pytest.raises(InferenceError, match="1x1 pixels; at least 16x16"):
        estimator.estimate(one)
    with pytest.raises(InferenceError, match="1x1 pixels"):
        estimator.estimate(np.zeros((1, 1, 3), np.uint8))


def test_an_empty_array_is_refused(estimator):
    with pytest.raises(InferenceError, match="0x0 pixels"):
        estimator.estimate(np.zeros((0, 0, 3), np.uint8))


@pytest.mark.parametrize("frame, message", [
    (np.zeros((64, 64, 3), np.float32), "dtype uint8, not float32"),
    (np.zeros((64, 64, 3), np.int64), "dtype uint8, not int64"),
    (np.zeros((64, 64), np.uint8), r"shape \(height, width, 3\) BGR, not \(64, 64\)"),
    (np.zeros((64, 64, 4), np.uint8), r"not \(64, 64, 4\)"),
    (np.zeros((2, 64, 64, 3), np.uint8), r"not \(2, 64, 64, 3\)"),
])
def test_arrays_of_the_wrong_dtype_or_shape_are_refused(estimator, frame, message):
    with pytest.raises(InferenceError, match=message):
        estimator.estimate(frame)


def test_a_png_declaring_ten_billion_pixels_is_refused_before_decoding(estimator, no_pixel_decoding):
    with pytest.raises(InferenceError, match="decompression bomb|limit"):
        estimator.estimate(png_declaring(100_000, 100_000))


def test_a_jpeg_declaring_more_than_the_pixel_limit_is_refused_before_decoding(estimator, photos, no_pixel_decoding):
    bomb = jpeg_declaring((photos / "obama-480p.jpg").read_bytes(), 8000, 6000)
    with pytest.raises(InferenceError, match=f"8000x6000 = 48,000,000 pixels; the limit is {MAX_PIXELS:,}"):
        estimator.estimate(bomb)


def test_an_oversized_array_is_refused_without_touching_its_pixels(estimator):
    huge = np.broadcast_to(np.zeros((1, 1, 3), np.uint8), (7000, 7000, 3))  # no memory behind it
    with pytest.raises(InferenceError, match="49,000,000 pixels"):
        estimator.estimate(huge)


def test_the_pixel_limit_is_configurable(photos):
    strict = MoodEstimator.load(max_pixels=500_000)
    with pytest.raises(InferenceError, match="1280x720 = 921,600 pixels; the limit is 500,000"):
        strict.estimate((photos / "obama-720p.jpg").read_bytes())
    assert len(strict.estimate((photos / "obama-480p.jpg").read_bytes())) == 1


def test_a_bad_frame_in_a_batch_is_named_by_its_index(estimator, photos):
    good = (photos / "obama-480p.jpg").read_bytes()
    with pytest.raises(InferenceError, match="frame 1: frame is empty"):
        estimator.estimate_batch([good, b"", good])


def test_a_batch_can_return_errors_in_place_so_good_frames_are_not_lost(estimator, photos):
    good = (photos / "obama-480p.jpg").read_bytes()
    results = estimator.estimate_batch([good, b"junk", good], return_errors=True)
    assert len(results[0]) == 1 and len(results[2]) == 1
    assert isinstance(results[1], InferenceError) and "frame 1" in str(results[1])


def test_inference_errors_are_value_errors():
    assert issubclass(InferenceError, ValueError)


def test_randomly_corrupted_jpegs_never_crash_the_process(estimator, photos):
    data = (photos / "obama-480p.jpg").read_bytes()
    rng = np.random.default_rng(2026)
    outcomes = {"faces": 0, "refused": 0}
    for _ in range(40):
        mutated = bytearray(data[: int(rng.integers(10, len(data)))])
        for pos in rng.integers(0, len(mutated), int(rng.integers(1, 30))):
            mutated[pos] = int(rng.integers(0, 256))
        try:
            faces = estimator.estimate(bytes(mutated))
            assert isinstance(faces, list)
            outcomes["faces"] += 1
        except InferenceError:
            outcomes["refused"] += 1
    assert outcomes["faces"] + outcomes["refused"] == 40
    assert outcomes["refused"] > 0
