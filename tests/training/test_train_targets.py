"""Training targets: FER2013 labels, FER+ vote mixing and dropping, and random erasing."""

import numpy as np
import pytest

from inference.labels import EMOTION_INDEX, MOOD_INDEX
from training.data import Dataset, read_ferplus_votes
from training.train import TrainConfig, random_erasing, training_targets

HEADER = "file,neutral,happiness,surprise,sadness,anger,disgust,fear,contempt,unknown,NF\n"


@pytest.fixture
def tiny(tmp_path):
    files = {"train/happy/Training_1.png": "happy", "train/sad/Training_2.png": "sad",
             "train/angry/Training_3.png": "angry", "train/neutral/Training_4.png": "neutral"}
    (tmp_path / "ferplus_votes.csv").write_text(HEADER + "".join([
        "train/happy/Training_1.png,0,10,0,0,0,0,0,0,0,0\n",
        "train/sad/Training_2.png,5,0,0,5,0,0,0,0,0,0\n",
        "train/angry/Training_3.png,0,0,0,0,2,0,0,0,6,2\n",  # mostly unusable
    ]))  # Training_4 has no row
    paths = tuple(str(tmp_path / f) for f in files)
    emotions = np.array([EMOTION_INDEX[e] for e in files.values()])
    labels = np.array([MOOD_INDEX[m] for m in ("positive", "negative", "negative", "neutral")])
    return tmp_path, Dataset(np.zeros((4, 48, 48, 1), "uint8"), labels, paths, emotions)


def test_votes_are_read_as_emotion_shares_with_contempt_counted_as_disgust(tmp_path):
    (tmp_path / "ferplus_votes.csv").write_text(HEADER + "train/angry/Training_9.png,0,0,0,0,4,2,0,4,0,0\n")
    votes = read_ferplus_votes(tmp_path, (str(tmp_path / "train/angry/Training_9.png"),))
    expected = np.zeros(7)
    expected[EMOTION_INDEX["angry"]], expected[EMOTION_INDEX["disgust"]] = 0.4, 0.6
    np.testing.assert_allclose(votes.distributions[0], expected)
    assert not votes.unusable[0]
    assert read_ferplus_votes(tmp_path / "elsewhere", ()) is None


def test_without_fer_plus_the_targets_are_the_fer2013_labels(tiny):
    root, data = tiny
    train, targets, note = training_targets(data, TrainConfig(head="emotions"), root)
    assert len(train) == 4 and note == "FER2013 labels"
    np.testing.assert_array_equal(targets.argmax(1), data.emotions)
    np.testing.assert_array_equal(targets.sum(1), 1)


def test_fer_plus_votes_are_mixed_into_the_targets_of_images_that_have_them(tiny):
    root, data = tiny
    _, targets, note = training_targets(data, TrainConfig(head="emotions", ferplus_weight=0.3), root)
    sad = np.zeros(7)
    sad[EMOTION_INDEX["sad"]] = 0.7 + 0.3 * 0.5
    sad[EMOTION_INDEX["neutral"]] = 0.3 * 0.5
    np.testing.assert_allclose(targets[1], sad, atol=1e-6)
    assert targets[3][EMOTION_INDEX["neutral"]] == 1.0  # no votes: the label alone
    assert "0.3 of the target from FER+ votes (3 images)" in note


def test_a_mood_head_gets_the_votes_summed_into_moods(tiny):
    root, data = tiny
    _, targets, _ = training_targets(data, TrainConfig(head="moods", ferplus_weight=0.5), root)
    assert targets.shape == (4, 4)
    np.testing.assert_allclose(targets[1], [0, 0.5 + 0.25, 0.25, 0], atol=1e-6)


def test_images_most_annotators_call_unusable_can_be_left_out(tiny):
    root, data = tiny
    train, targets, note = training_targets(data, TrainConfig(head="emotions", ferplus_drop_unusable=True), root)
    assert len(train) == len(targets) == 3
    assert not any("Training_3" in p for p in train.paths)
    assert "1 images most FER+ annotators call unusable left out" in note


def test_an_emotion_head_refuses_mood_folders(tiny):
    root, data = tiny
    moods_only = Dataset(data.images, data.labels, data.paths, np.full(4, -1))
    with pytest.raises(ValueError, match="seven FER2013 emotions"):
        training_targets(moods_only, TrainConfig(head="emotions"), root)


def test_random_erasing_replaces_one_rectangle_of_two_to_twenty_percent_of_the_face():
    images = np.full((200, 48, 48, 1), 128.0, dtype="float32")
    erased = np.asarray(random_erasing(images, 1.0))
    changed = (erased != 128.0).mean(axis=(1, 2, 3))
    assert (changed > 0.005).all() and (changed <= 0.21).all()
    assert changed.mean() == pytest.approx(0.11, abs=0.03)
    untouched = np.asarray(random_erasing(images, 0.0))
    np.testing.assert_array_equal(untouched, images)
    assert erased.min() >= 0 and erased.max() <= 255
