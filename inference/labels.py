"""The four moods and how the seven FER2013 emotions map onto them."""

MOODS: tuple[str, ...] = ("positive", "negative", "neutral", "other")

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
