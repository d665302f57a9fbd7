"""Issue 29 part 3: every rolling figure is computed over its whole window, whatever the range. The
same day shows the same 7-day rolling valence in the 24-hour, 7-, 30- and 90-day views (it was cut
at the range's start: -0.24 in one view, -0.08 in another); likewise the 24-hour rolling valence of
an hour and the 4-week one of a week. The expected values are pooled here from the records
themselves, not taken from the code under test."""
import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backend.moods.definitions import bucket_back, bucket_floor
from dashboard import charts
from tests.backend.factories import add_records

pytestmark = pytest.mark.django_db

DAYS = 100  # more than the 90-day view and its 6 days of lead-in; crosses October's DST change in Paris


def figures(response) -> dict:
    html = response.content.decode()
    found = re.findall(r'<script id="figure-([a-z-]+)" type="application/json">(.*?)</script>', html, re.S)
    return {key: json.loads(body) for key, body in found}


def rolling_at(response, x: str) -> float | None:
    valence = figures(response)["valence"]
    line = next(t for t in valence["data"] if t["name"].endswith("rolling valence"))
    return dict(zip(line["x"], line["y"]))[x]


@pytest.fixture
def history(patient):
    """A record mix that changes every day (and within the day) over DAYS days, so any window cut
    short gives another figure. Returns (now, [(moment, mood, n)])."""
    now = timezone.now()
    made = []
    for k in range(DAYS):
        for hours, mood, n in ((1, "positive", 1 + k % 5), (5, "negative", 1 + (k * 7) % 4), (9, "neutral", 2)):
            moment = now - timedelta(days=k, hours=hours)
            add_records(patient, moment, mood, n)
            made.append((moment, mood, n))
    return now, made


def pooled_valence(made, start: datetime, end: datetime) -> float:
    inside = [(mood, n) for moment, mood, n in made if start <= moment < end]
    records = sum(n for _, n in inside)
    positive = sum(n for mood, n in inside if mood == "positive")
    negative = sum(n for mood, n in inside if mood == "negative")
    return round((positive - negative) / records, 3)


def test_a_days_7_day_rolling_valence_is_the_same_in_every_range(clinician_web, patient, history):
    now, made = history
    tz = ZoneInfo(patient.timezone)
    yesterday = bucket_back(bucket_floor(now, bucket="day", tz=tz), count=1, bucket="day", tz=tz)
    expected = pooled_valence(made, bucket_back(yesterday, count=6, bucket="day", tz=tz),
                              bucket_back(yesterday, count=-1, bucket="day", tz=tz))
    x = yesterday.strftime("%Y-%m-%dT%H:%M:%S")
    seen = {}
    for preset in ("24h", "7d", "30d", "90d"):
        response = clinician_web.get(f"/patients/{patient.pk}/", {"range": preset, "bucket": "day"})
        assert response.status_code == 200
        seen[preset] = rolling_at(response, x)
    assert seen == {preset: expected for preset in seen}


def test_the_first_hour_of_the_24_hour_view_has_its_whole_24_hour_window(clinician_web, patient, history):
    now, made = history
    tz = ZoneInfo(patient.timezone)
    first = bucket_floor(now - timedelta(hours=24), bucket="hour", tz=tz)
    expected = pooled_valence(made, bucket_back(first, count=23, bucket="hour", tz=tz),
                              bucket_back(first, count=-1, bucket="hour", tz=tz))
    x = first.strftime("%Y-%m-%dT%H:%M:%S")
    for preset in ("24h", "7d"):
        response = clinician_web.get(f"/patients/{patient.pk}/", {"range": preset, "bucket": "hour"})
        assert rolling_at(response, x) == expected, preset


def test_the_first_week_of_the_90_day_view_has_its_whole_4_week_window(clinician_web, patient, history):
    now, made = history
    tz = ZoneInfo(patient.timezone)
    response = clinician_web.get(f"/patients/{patient.pk}/", {"range": "90d", "bucket": "week"})
    first = bucket_floor(now - timedelta(days=89), bucket="week", tz=tz)
    expected = pooled_valence(made, bucket_back(first, count=3, bucket="week", tz=tz),
                              bucket_back(first, count=-1, bucket="week", tz=tz))
    assert rolling_at(response, first.strftime("%Y-%m-%dT%H:%M:%S")) == expected


@pytest.mark.parametrize(("start", "bucket", "expected"), [
    # hours step in absolute time: 23 hours before 02:00 on the night Paris leaves summer time
    (datetime(2026, 10, 25, 4, 0, tzinfo=ZoneInfo("Europe/Paris")), "hour",
     datetime(2026, 10, 24, 6, 0, tzinfo=ZoneInfo("Europe/Paris"))),
    # days and weeks on local midnights, whatever the DST change in between
    (datetime(2026, 10, 27, 15, 30, tzinfo=ZoneInfo("Europe/Paris")), "day",
     datetime(2026, 10, 21, tzinfo=ZoneInfo("Europe/Paris"))),
    (datetime(2026, 10, 28, 9, 0, tzinfo=ZoneInfo("Europe/Paris")), "week",
     datetime(2026, 10, 5, tzinfo=ZoneInfo("Europe/Paris"))),
])
def test_the_rolling_lead_in_reaches_back_a_whole_window_less_one_bucket(start, bucket, expected):
    assert charts.rolling_start(start=start, bucket=bucket, tz_name="Europe/Paris") == expected
