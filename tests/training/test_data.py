import cv2
import numpy as np
import pytest

from inference.errors import DatasetError, InferenceError
from inference.labels import MOOD_INDEX
from training.data import list_images, load_dataset


def write(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


def face_like(size=48, value=128):
    return np.full((size, size), value, dtype=np.uint8)


def test_the_loader_reads_emotion_folders_as_moods_and_resizes_images_of_any_size(tmp_path):
    write(tmp_path / "happy" / "a.jpg", face_like(48))
    write(tmp_path / "fear" / "b.png", face_like(100))
    write(tmp_path / "surprise" / "c.jpg", np.zeros((30, 40, 3), np.uint8))
    ds = load_dataset(tmp_path, size=48)
    assert ds.images.shape == (3, 48, 48, 1) and ds.images.dtype == np.uint8
    assert ds.counts() == {"positive": 1, "negative": 1, "neutral": 0, "other": 1}


def test_the_loader_accepts_four_mood_folder_names(tmp_path):
    for mood in ("positive", "negative", "neutral", "other"):
        write(tmp_path / mood / f"{mood}.jpg", face_like())
    ds = load_dataset(tmp_path, size=64)
    assert ds.images.shape == (4, 64, 64, 1)
    assert sorted(ds.labels.tolist()) == sorted(MOOD_INDEX.values())


def test_an_unknown_class_folder_is_an_error_not_a_silent_skip(tmp_path):
    write(tmp_path / "happy" / "a.jpg", face_like())
    write(tmp_path / "bored" / "b.jpg", face_like())
    with pytest.raises(DatasetError, match="bored"):
        list_images(tmp_path)


def test_a_corrupt_image_file_is_an_error_naming_the_file(tmp_path):
    write(tmp_path / "happy" / "ok.jpg", face_like())
    (tmp_path / "sad").mkdir()
    (tmp_path / "sad" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    with pytest.raises(DatasetError, match="broken.jpg"):
        load_dataset(tmp_path)


def test_a_missing_or_empty_data_folder_is_an_error(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        list_images(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no class folders"):
        list_images(tmp_path)


def test_dataset_errors_are_inference_errors_for_callers_catching_one_type():
    assert issubclass(DatasetError, InferenceError)


def test_the_split_filter_selects_fer2013_private_or_public_files(tmp_path):
    for name in ("PrivateTest_1.jpg", "PrivateTest_2.jpg", "PublicTest_1.jpg"):
        write(tmp_path / "neutral" / name, face_like())
    assert len(list_images(tmp_path, split="private")) == 2
    assert [p.name for p, _, _ in list_images(tmp_path, split="public")] == ["PublicTest_1.jpg"]
    assert len(list_images(tmp_path, split="all")) == 3


def test_the_split_filter_is_ignored_for_data_sets_without_fer_prefixes(tmp_path):
    write(tmp_path / "happy" / "selfie.jpg", face_like())
    assert len(list_images(tmp_path, split="private")) == 1


def test_an_unknown_split_is_an_error(tmp_path):
    write(tmp_path / "happy" / "a.jpg", face_like())
    with pytest.raises(DatasetError, match="split"):
        list_images(tmp_path, split="validation")


def test_the_real_fer2013_private_split_has_the_documented_size(fer_root):
    items = list_images(fer_root / "test", split="private")
    assert len(items) == 3589
    assert all(p.name.startswith("PrivateTest_") for p, _, _ in items)
