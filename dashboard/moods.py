"""One colour per mood, used by every chart, bar and legend (Okabe-Ito palette: safe for colour blindness)."""
MOOD_ORDER = ["positive", "neutral", "other", "negative"]
MOOD_COLORS = {
    "positive": "#009E73",  # bluish green
    "neutral": "#56B4E9",  # sky blue
    "other": "#A0A0A0",  # grey
    "negative": "#D55E00",  # vermillion
}
MOOD_LABELS = {"positive": "Positive", "neutral": "Neutral", "other": "Other", "negative": "Negative"}
