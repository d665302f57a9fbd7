"""The four moods, the seven FER2013 emotions, and how the emotions map onto the moods."""

MOODS: tuple[str, ...] = ("positive", "negative", "neutral", "other")

# FER2013's own order (its label numbers 0..6).
EMOTIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise")

EMOTION_TO_MOOD: dict[str, str] = {
    "happy": "positive",
    "angry": "negative",
    "disgust": "negative",
    "fear": "negative",
    "sad": "negative",
    "neutral": "neutral",
    "surprise": "other",
}

MOOD_INDEX: dict[str, int] = {mood: i for i, mood in enumerate(MOODS)}
EMOTION_INDEX: dict[str, int] = {emotion: i for i, emotion in enumerate(EMOTIONS)}


def emotion_to_mood_matrix():
    """(7, 4) 0/1 matrix M: emotion probabilities @ M are mood probabilities."""
    import numpy as np

    matrix = np.zeros((len(EMOTIONS), len(MOODS)), dtype="float32")
    for emotion, mood in EMOTION_TO_MOOD.items():
        matrix[EMOTION_INDEX[emotion], MOOD_INDEX[mood]] = 1.0
    return matrix


def folder_to_mood(name: str) -> str:
    """Map a class folder name (a FER2013 emotion or one of the moods) to its mood.

    Raises ValueError for anything else: a misspelt folder must not be silently skipped.
    """
    key = name.strip().lower()
    if key in EMOTION_TO_MOOD:
        return EMOTION_TO_MOOD[key]
    if key in MOOD_INDEX:
        return key
    known = sorted(set(EMOTION_TO_MOOD) | set(MOODS))
    raise ValueError(f"unknown class folder {name!r}; expected one of {', '.join(known)}")


def folder_to_emotion(name: str) -> str | None:
    """The FER2013 emotion a class folder names, or None for a mood folder."""
    key = name.strip().lower()
    return key if key in EMOTION_INDEX else None
