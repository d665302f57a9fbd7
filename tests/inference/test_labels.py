import pytest

from inference.labels import EMOTION_TO_MOOD, MOODS, folder_to_mood


def test_the_four_moods_are_positive_negative_neutral_and_other_in_model_output_order():
    assert MOODS == ("positive", "negative", "neutral", "other")


@pytest.mark.parametrize("emotion, mood", [
    ("happy", "positive"), ("angry", "negative"), ("disgust", "negative"), ("fear", "negative"),
    ("sad", "negative"), ("neutral", "neutral"), ("surprise", "other"),
])
def test_each_fer2013_emotion_maps_to_its_mood(emotion, mood):
    assert EMOTION_TO_MOOD[emotion] == mood
    assert folder_to_mood(emotion) == mood


def test_every_fer2013_emotion_has_a_mapping():
    assert set(EMOTION_TO_MOOD) == {"angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"}


@pytest.mark.parametrize("name", ["positive", "negative", "neutral", "other", "Happy", " SAD "])
def test_mood_names_and_emotions_are_accepted_as_folder_names_in_any_case(name):
    assert folder_to_mood(name) in MOODS


def test_an_unknown_folder_name_is_an_error_listing_the_known_ones():
    with pytest.raises(ValueError, match="unknown class folder 'hapy'.*happy"):
        folder_to_mood("hapy")
