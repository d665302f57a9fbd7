"""What every aggregate of mood records shares, defined once: the moods' display order, labels and
colours; the buckets and their lengths; the ranges a summary may cover; the valence cutoff.

The selectors, the clinician API, the dashboard's forms, charts and tables, and the FHIR export all
read these names; none keeps a copy.
"""
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from .models import Mood

# Display order: the pleasant end first, "negative" last, in every chart, bar, table and export.
MOOD_ORDER = [Mood.POSITIVE.value, Mood.NEUTRAL.value, Mood.OTHER.value, Mood.NEGATIVE.value]
MOOD_LABELS = {"positive": "Positive", "neutral": "Neutral", "other": "Other", "negative": "Negative"}
# Okabe-Ito palette (safe for colour blindness), neutral and other darkened so every mood reaches 3:1
# contrast against the white page (WCAG 1.4.11). dashboard.css repeats them as CSS variables (a test
# checks that the two agree).
MOOD_COLORS = {
    "positive": "#009E73",  # bluish green
    "neutral": "#3A8FC7",  # sky blue, darkened to 3.5:1 on white
    "other": "#858585",  # grey, 3.7:1 on white
    "negative": "#D55E00",  # vermillion
}



# The classifier's order (Mood.values), read once: Mood.values builds a new list at every call, and
# mood_of runs once per record (60 times per mood batch).
CLASSIFIER_ORDER = tuple(Mood.values)


def mood_of(probabilities: Mapping[str, float]) -> str:
    """The most probable of the four moods; a tie goes to the first in the classifier's order
    (Mood.values), as numpy's argmax over its output picks it. A record's mood, wherever it was computed."""
    return max(CLASSIFIER_ORDER, key=probabilities.__getitem__)


# Buckets of a summary, by name: their nominal length (a local day is 23 or 25 hours across a DST
# change; summaries truncate in the patient's time zone, see moods.selectors).
BUCKET_STEPS = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(weeks=1)}
BUCKET_LABELS = {"hour": "Hour", "day": "Day", "week": "Week"}
DEFAULT_BUCKET = "day"



def bucket_floor(moment: datetime, *, bucket: str, tz: ZoneInfo) -> datetime:
    """The start of the bucket holding `moment`, cut in the patient's zone as the summaries cut it
    (hours at local :00, days at local midnight, weeks at Monday's local midnight)."""
    local = moment.astimezone(tz)
    if bucket == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date() - timedelta(days=local.weekday() if bucket == "week" else 0)
    return datetime.combine(day, time.min, tzinfo=tz)


def bucket_end(bucket_start: datetime, *, bucket: str, tz: ZoneInfo) -> datetime:
    """Where the bucket that starts at `bucket_start` ends: the next bucket's start (an hour of
    absolute time; the next local midnight, or the one a week on)."""
    if bucket == "hour":
        return (bucket_start.astimezone(UTC) + timedelta(hours=1)).astimezone(tz)
    day = bucket_start.astimezone(tz).date() + timedelta(days=7 if bucket == "week" else 1)
    return datetime.combine(day, time.min, tzinfo=tz)


def bucket_back(bucket_start: datetime, *, count: int, bucket: str, tz: ZoneInfo) -> datetime:
    """The start of the bucket `count` buckets before the one that starts at `bucket_start`, on the
    same grid as bucket_starts (hours of absolute time; local midnights, a DST change included)."""
    if bucket == "hour":
        return (bucket_start.astimezone(UTC) - timedelta(hours=count)).astimezone(tz)
    day = bucket_start.astimezone(tz).date() - timedelta(days=count * (7 if bucket == "week" else 1))
    return datetime.combine(day, time.min, tzinfo=tz)


def bucket_starts(*, start: datetime, end: datetime, bucket: str, tz: ZoneInfo) -> list[datetime]:
    """Every bucket that overlaps [start, end), empty or not, in order (local wall-clock steps, so a
    DST change makes a 23- or 25-hour day, not a shifted midnight)."""
    first = bucket_floor(start, bucket=bucket, tz=tz)
    if bucket == "hour":  # whole hours in absolute (UTC) time: Python adds wall-clock time within one zone
        first_utc, end_utc = first.astimezone(UTC), end.astimezone(UTC)
        count = max(0, -(-(end_utc - first_utc) // timedelta(hours=1)))
        return [(first_utc + timedelta(hours=i)).astimezone(tz) for i in range(count)]
    step = 7 if bucket == "week" else 1
    starts, day = [], first.date()
    while (moment := datetime.combine(day, time.min, tzinfo=tz)) < end:
        starts.append(moment)
        day += timedelta(days=step)
    return starts


# Decimals a model probability (and the face detector's score) is given with in exports: the shipped
# model's expected calibration error is 0.045 (docs/model-card.md), so a third decimal would claim a
# precision it does not have.
PROBABILITY_DECIMALS = 2

# The longest range a summary may cover, by bucket: about 744 hourly, 731 daily or 523 weekly
# buckets, which a chart can still draw and a request can still sum quickly.
MAX_RANGE = {"hour": timedelta(days=31), "day": timedelta(days=731), "week": timedelta(days=3660)}
# A range that is not given ends now and starts this long before.
DEFAULT_RANGE = timedelta(days=7)

# The patients list's window, in days: today and the days before it in the patient's time zone,
# compared with as many days before that (rollups.selectors.mood_overview and upload_overview).
OVERVIEW_DAYS = 7

# Valence = positive share minus negative share, in [-1, 1]. Within +-VALENCE_FLAT of 0 (or of no
# change) it reads as flat: the noise of a few records either way.
VALENCE_FLAT = 0.05
# The patients list compares the last 7 days with the 7 before only when each holds this many
# records: a change computed from a handful of faces is noise, not a trend.
VALENCE_CHANGE_MIN_RECORDS = 20


def valence(positive_share, negative_share):
    """Valence, the one formula: the positive share minus the negative share. Works on numbers and
    on ORM expressions alike (F("share_positive"), ...), so the SQL and Python paths agree bit for bit."""
    return positive_share - negative_share


def valence_of_counts(*, positive: int, negative: int, records: int) -> float | None:
    """Valence of counts over `records` records; None when there are none."""
    return valence(positive / records, negative / records) if records else None


def valence_direction(value: float | None) -> str:
    """"pos", "neg" or "flat" for a valence or a change of valence; "" for no value."""
    if value is None:
        return ""
    return "pos" if value > VALENCE_FLAT else "neg" if value < -VALENCE_FLAT else "flat"


VALENCE_ARROWS = {"pos": "▲", "neg": "▼", "flat": "▶", "": ""}
