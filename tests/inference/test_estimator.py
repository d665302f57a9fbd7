"""MoodEstimator end to end on real photos, batching, flip averaging and threads."""

import json
import threading

import cv2
import numpy as np
import pytest

from inference import FaceMood, InferenceError, MoodEstimator
from inference.detection import Detection
from inference.estimator import DEFAULT_MODEL, MAX_CLASSIFY_BATCH
from inference.labels import MOODS


def jpeg(image, quality=92):
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def test_the_committed_model_is_under_one_megabyte_and_has_a_model_card():
    assert DEFAULT_MODEL.stat().st_size < 1024 * 1024
    card = json.loads(DEFAULT_MODEL.with_name("model_card.json").read_text())
    assert card["version"] and card["input"]["size"] in (48, 64) and card["classes"] == list(MOODS)


def test_load_exposes_the_model_card_version_and_input_size(estimator):
    card = json.loads(DEFAULT_MODEL.with_name("model_card.json").read_text())
    assert estimator.version == card["version"]
    assert estimator.input_size == card["input"]["size"]
    assert len(estimator.model_sha256) == 64


def test_estimate_finds_one_face_with_a_mood_and_probabilities_in_a_real_photo(estimator, photos):
    faces = estimator.estimate((photos / "obama-480p.jpg").read_bytes())
    assert len(faces) == 1
    face = faces[0]
    assert isinstance(face, FaceMood)
    assert face.mood in MOODS
    assert list(face.probabilities) == list(MOODS)
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-4)
    assert face.mood == max(face.probabilities, key=face.probabilities.get)
    assert face.detection_score > 0.9
    x, y, w, h = face.box
    assert all(isinstance(v, int) for v in face.box)
    assert 330 < x + w / 2 < 550 and 60 < y + h / 2 < 200 and 90 < w < 150  # his face in 853x480


def test_an_array_and_its_lossless_encoding_give_the_same_faces(estimator, photo):
    image = photo("two_people.jpg")
    from_array = estimator.estimate(image)
    from_png = estimator.estimate(cv2.imencode(".png", image)[1].tobytes())
    assert len(from_array) == len(from_png) == 2
    by_x = lambda faces: sorted(faces, key=lambda f: f.box[0])  # noqa: E731 - near-equal scores
    for a, b in zip(by_x(from_array), by_x(from_png)):
        np.testing.assert_allclose(a.box, b.box, atol=0.04 * a.box[2])  # png decoded at reduced scale
        # A slightly different crop moves the probabilities a little, never far; the mood must
        # agree wherever the array's answer is not a near tie.
        assert max(abs(a.probabilities[m] - b.probabilities[m]) for m in a.probabilities) < 0.2
        top, second = sorted(a.probabilities.values(), reverse=True)[:2]
        if top - second > 0.2:
            assert a.mood == b.mood


def test_faces_come_most_confident_first(estimator, photo):
    faces = estimator.estimate(photo("two_people.jpg"))
    assert [f.detection_score for f in faces] == sorted((f.detection_score for f in faces), reverse=True)


def test_large_frames_are_decoded_at_reduced_scale_but_boxes_are_in_full_frame_pixels(estimator, photo):
    image = photo("obama1.jpg")  # 1480x832: decoded at 1/4 scale
    decoded, scale = estimator.decode(jpeg(image))
    assert scale == 4 and decoded.shape[:2] == (208, 370)
    from_bytes = estimator.estimate(jpeg(image))[0].box
    from_array = estimator.estimate(image)[0].box
    np.testing.assert_allclose(from_bytes, from_array, atol=0.05 * from_array[2])


def test_a_face_too_small_in_a_reduced_decode_is_cropped_from_a_sharper_decode(estimator, photo):
    data = jpeg(photo("obama-720p.jpg"))  # 1280x720: decoded at 1/4 scale, 320x180
    decoded, scale = estimator.decode(data)
    assert scale == 4
    tiny = Detection(100.0, 50.0, 110.0, 60.0, 0.9)  # 10 px: a 40 px face in the frame
    sharper, finer, moved = estimator.refine(data, decoded, scale, [tiny])
    assert finer == 1 and sharper.shape[:2] == (720, 1280)
    assert (moved[0].x0, moved[0].y0, moved[0].x1, moved[0].y1) == (400.0, 200.0, 440.0, 240.0)
    large = Detection(100.0, 50.0, 160.0, 110.0, 0.9)  # 60 px: already enough detail
    assert estimator.refine(data, decoded, scale, [large])[1] == 4


def test_a_frame_without_a_face_gives_an_empty_list(estimator):
    assert estimator.estimate(np.full((360, 640, 3), 90, np.uint8)) == []


def test_boxes_are_clipped_to_the_frame(estimator, photo):
    image = photo("obama-480p.jpg")
    cut = np.ascontiguousarray(image[:, 80:480])  # the face's right side runs past the edge
    faces = estimator.estimate(cut)
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    assert x >= 0 and y >= 0 and x + w <= cut.shape[1] and y + h <= cut.shape[0]


def test_estimate_batch_classifies_all_faces_of_all_frames_in_one_interpreter_call(estimator, photo, monkeypatch):
    frames = [photo("obama-480p.jpg"), jpeg(photo("two_people.jpg")), np.full((100, 100, 3), 0, np.uint8)]
    one_by_one = [estimator.estimate(f) for f in frames]
    calls = []
    real_run = estimator.classifier._run
    monkeypatch.setattr(estimator.classifier, "_run", lambda batch: calls.append(len(batch)) or real_run(batch))
    batched = estimator.estimate_batch(frames)
    assert calls == [2 * 3]  # three faces and their mirror images, one call
    assert [len(r) for r in batched] == [1, 2, 0]
    for single, batch in zip(one_by_one, batched):
        for a, b in zip(single, batch):
            assert a.box == b.box and a.mood == b.mood
            np.testing.assert_allclose(list(a.probabilities.values()), list(b.probabilities.values()), atol=1e-5)


def test_very_large_batches_are_split_into_bounded_interpreter_calls(estimator, monkeypatch):
    calls = []
    real_run = estimator.classifier._run
    monkeypatch.setattr(estimator.classifier, "_run", lambda batch: calls.append(len(batch)) or real_run(batch))
    crops = np.random.default_rng(0).integers(0, 255, (MAX_CLASSIFY_BATCH // 2 + 10, 48, 48), dtype=np.uint8)
    probs = estimator.classify(crops)
    assert probs.shape == (len(crops), 4)
    assert calls == [MAX_CLASSIFY_BATCH, 20]


def test_probabilities_average_the_crop_and_its_mirror_image(estimator, photo):
    crop = cv2.resize(cv2.cvtColor(photo("obama-480p.jpg")[63:180, 383:500], cv2.COLOR_BGR2GRAY), (48, 48))
    x = crop[None, :, :, None].astype(np.float32)
    plain = estimator.classifier._run(x)[0]
    mirrored = estimator.classifier._run(x[:, :, ::-1].copy())[0]
    served = estimator.classify(crop[None])[0]
    np.testing.assert_allclose(served, (plain + mirrored) / 2, atol=1e-5)
    np.testing.assert_allclose(estimator.classify(crop[None, :, ::-1])[0], served, atol=1e-5)


def test_one_estimator_serves_many_threads_with_the_same_results(estimator, photos):
    frames = [(photos / name).read_bytes() for name in ("obama-480p.jpg", "two_people.jpg", "obama1.jpg")]
    expected = [estimator.estimate(f) for f in frames]
    results, errors = {}, []

    def work(worker):
        try:
            results[worker] = [estimator.estimate(f) for f in frames for _ in range(3)][::3]
        except Exception as exc:  # noqa: BLE001 - any failure fails the test below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert all(r == expected for r in results.values())


def test_load_refuses_a_missing_or_broken_model_file(tmp_path):
    with pytest.raises(InferenceError, match="not found"):
        MoodEstimator.load(tmp_path / "missing.tflite")
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"not a flatbuffer" * 10)
    with pytest.raises(InferenceError, match="cannot load the mood model"):
        MoodEstimator.load(broken)


def test_load_refuses_a_model_card_that_disagrees_with_the_model(tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(DEFAULT_MODEL.read_bytes())
    (tmp_path / "model_card.json").write_text(json.dumps({"version": "x", "input": {"size": 64}}))
    with pytest.raises(InferenceError, match="input size 64"):
        MoodEstimator.load(model)


def test_a_model_without_a_card_gets_a_version_from_its_hash(tmp_path):
    model = tmp_path / "model.tflite"
    model.write_bytes(DEFAULT_MODEL.read_bytes())
    est = MoodEstimator.load(model)
    assert est.version == f"unversioned-{est.model_sha256[:12]}"


def test_a_phone_jpeg_with_exif_orientation_is_turned_upright_and_boxed_in_the_upright_frame(estimator, photos):
    import io

    from PIL import Image

    upright = Image.open(photos / "obama-480p.jpg")
    sideways = upright.transpose(Image.Transpose.ROTATE_90)  # stored as the sensor saw it
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to display"
    data = io.BytesIO()
    sideways.save(data, format="JPEG", exif=exif.tobytes())
    faces = estimator.estimate(data.getvalue())
    assert len(faces) == 1
    reference = estimator.estimate((photos / "obama-480p.jpg").read_bytes())[0]
    np.testing.assert_allclose(faces[0].box, reference.box, atol=6)


def test_the_patient_path_classifies_only_the_largest_face_and_counts_the_others(estimator, photo, monkeypatch):
    """Issue 29: the largest face is the patient's; the others are counted as bystanders and are
    never cropped nor classified (cheaper, and no mood of a bystander is ever computed)."""
    frames = [photo("obama-480p.jpg"), jpeg(photo("two_people.jpg")), np.full((100, 100, 3), 0, np.uint8)]
    every_face = estimator.estimate_batch(frames)
    calls = []
    real_run = estimator.classifier._run
    monkeypatch.setattr(estimator.classifier, "_run", lambda batch: calls.append(len(batch)) or real_run(batch))
    patient = estimator.estimate_patient_batch(frames)
    assert calls == [2 * 2], "two faces (one a frame with a face) and their mirrors: the bystander is not classified"
    assert [p.bystanders for p in patient] == [0, 1, 0]
    assert patient[2].face is None
    for faces, found in zip(every_face[:2], patient[:2]):
        largest = max(faces, key=lambda f: f.box[2] * f.box[3])
        assert found.face.box == largest.box


def test_largest_face_keeps_the_most_confident_on_equal_areas():
    from inference.detection import Detection
    from inference.estimator import largest_face

    assert largest_face([]) == ([], 0)
    first, same_size, small = Detection(0, 0, 10, 10, 0.9), Detection(50, 50, 60, 60, 0.8), Detection(0, 0, 5, 5, 0.99)
    assert largest_face([small, first, same_size]) == ([first], 2)
