"""What every aggregate of mood records shares, defined once: the moods' display order, labels and
colours; the buckets and their lengths; the ranges a summary may cover; the valence cutoff.

The selectors, the clinician API, the dashboard's forms, charts and tables, and the FHIR export all
read these names; none keeps a copy.
"""
from datetime import timedelta

from .models import Mood

# Display order: the pleasant end first, "negative" last, in every chart, bar, table and export.
MOOD_ORDER = [Mood.POSITIVE.value, Mood.NEUTRAL.value, Mood.OTHER.value, Mood.NEGATIVE.value]
MOOD_LABELS = {"positive": "Positive", "neutral": "Neutral", "other": "Other", "negative": "Negative"}
# Okabe-Ito palette: safe for colour blindness. dashboard.css repeats them as CSS variables (a test
# checks that the two agree).
MOOD_COLORS = {
    "positive": "#009E73",  # bluish green
    "neutral": "#56B4E9",  # sky blue
    "other": "#A0A0A0",  # grey
    "negative": "#D55E00",  # vermillion
}

# Buckets of a summary, by name: their nominal length (a local day is 23 or 25 hours across a DST
# change; summaries truncate in the patient's time zone, see moods.selectors).
BUCKET_STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
BUCKET_LABELS = {"hour": "Hour", "day": "Day", "week": "Week"}
DEFAULT_BUCKET = "day"

# The longest range a summary may cover, by bucket: about 744 hourly, 731 daily or 523 weekly
# buckets, which a chart can still draw and a request can still sum quickly.
MAX_RANGE = {"hour": timedelta(days=31), "day": timedelta(days=731), "week": timedelta(days=3660)}
# A range that is not given ends now and starts this long before.
DEFAULT_RANGE = timedelta(days=7)

# Valence = positive share minus negative share, in [-1, 1]. Within +-VALENCE_FLAT of 0 (or of no
# change) it reads as flat: the noise of a few records either way.
VALENCE_FLAT = 0.05


def valence_direction(value: float | None) -> str:
    """"pos", "neg" or "flat" for a valence or a change of valence; "" for no value."""
    if value is None:
        return ""
    return "pos" if value > VALENCE_FLAT else "neg" if value < -VALENCE_FLAT else "flat"


VALENCE_ARROWS = {"pos": "▲", "neg": "▼", "flat": "▶", "": ""}
