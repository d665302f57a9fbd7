"""Issue 29 part 3: the coverage chart uses the range's own buckets (hours in the 24-hour view, not
day-wide bars on an hourly axis), and the current bucket is shown whole (the axis ends where the
last bucket ends, not at "now"), in every range and in a zone with daylight-saving time."""
import json
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backend.moods.definitions import BUCKET_STEPS, bucket_end, bucket_starts
from backend.rollups.selectors import capture_coverage
from tests.backend.factories import add_records

pytestmark = pytest.mark.django_db


def figures(response) -> dict:
    html = response.content.decode()
    found = re.findall(r'<script id="figure-([a-z-]+)" type="application/json">(.*?)</script>', html, re.S)
    return {key: json.loads(body) for key, body in found}


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.fixture
def recent_records(patient):
    now = timezone.now()
    for hours_ago, mood in [(0.2, "positive"), (3, "negative"), (20, "neutral"), (30, "neutral"), (24 * 40, "other")]:
        add_records(patient, now - timedelta(hours=hours_ago), mood, 2, frame_count=3)
    return now


@pytest.mark.parametrize("preset, bucket", [("24h", "hour"), ("7d", "day"), ("30d", "day"), ("90d", "day"),
                                            ("90d", "week")])
def test_every_bar_of_every_chart_lies_inside_the_axis_and_the_last_bucket_is_whole(
        clinician_web, patient, recent_records, preset, bucket):
    response = clinician_web.get(f"/patients/{patient.pk}/", {"range": preset, "bucket": bucket})
    assert response.status_code == 200
    charts = figures(response)
    coverage = charts["coverage"]
    assert coverage["layout"]["title"]["text"] == f"Coverage per {bucket} (by capture time)"
    for key in ("coverage", "mood-share"):
        figure = charts[key]
        low, high = (parse(t) for t in figure["layout"]["xaxis"]["range"])
        for trace in figure["data"]:
            for x in trace["x"]:
                left = parse(x) + timedelta(milliseconds=trace["offset"])
                right = left + timedelta(milliseconds=trace["width"])
                assert low <= left and right <= high, (key, x, figure["layout"]["xaxis"]["range"])
    # the bucket holding "now" ends exactly where the axis ends
    tz = ZoneInfo(patient.timezone)
    starts = [parse(x) for x in coverage["data"][0]["x"]]
    last = starts[-1].replace(tzinfo=tz)
    assert parse(coverage["layout"]["xaxis"]["range"][1]).replace(tzinfo=tz) == bucket_end(last, bucket=bucket,
                                                                                             tz=tz)
    assert last <= recent_records.astimezone(tz) < bucket_end(last, bucket=bucket, tz=tz)
    # the frames are all there, in the range's buckets
    frames = sum(coverage["data"][0]["y"])
    assert frames == {"24h": 9, "7d": 12, "30d": 12, "90d": 15}[preset]


def test_the_24_hour_coverage_is_hourly(clinician_web, patient, recent_records):
    coverage = figures(clinician_web.get(f"/patients/{patient.pk}/", {"range": "24h"}))["coverage"]
    xs = [parse(x) for x in coverage["data"][0]["x"]]
    assert len(xs) in (24, 25) and all(b - a == timedelta(hours=1) for a, b in zip(xs, xs[1:]))
    assert coverage["data"][0]["width"] < BUCKET_STEPS["hour"].total_seconds() * 1000


def test_capture_coverage_cuts_hours_and_weeks_as_the_mood_buckets_do(patient):
    patient.timezone = "Europe/Paris"  # summer time from 2026-03-29 02:00 local (01:00 UTC)
    patient.save()
    tz = ZoneInfo("Europe/Paris")
    add_records(patient, datetime(2026, 3, 29, 0, 30, tzinfo=UTC), "neutral", 1)  # 01:30 CET
    add_records(patient, datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "neutral", 2)  # 03:30 CEST
    add_records(patient, datetime(2026, 3, 22, 23, 30, tzinfo=UTC), "neutral", 3)  # Mon 23 Mar 00:30 CET
    start, end = datetime(2026, 3, 22, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC)
    hours = capture_coverage(patient=patient, start=start, end=end, bucket="hour")
    assert [(r["bucket_start"].isoformat(), r["frames"]) for r in hours] == [
        ("2026-03-23T00:00:00+01:00", 3), ("2026-03-29T01:00:00+01:00", 1), ("2026-03-29T03:00:00+02:00", 2),
    ]
    hour_starts = set(bucket_starts(start=start, end=end, bucket="hour", tz=tz))
    assert {r["bucket_start"] for r in hours} <= hour_starts
    weeks = capture_coverage(patient=patient, start=start, end=end, bucket="week")
    assert [(r["bucket_start"].isoformat(), r["frames"]) for r in weeks] == [("2026-03-23T00:00:00+01:00", 6)]


@pytest.mark.parametrize("bucket, start, expected", [
    ("hour", datetime(2026, 3, 29, 1, 0, tzinfo=ZoneInfo("Europe/Paris")), "2026-03-29T03:00:00+02:00"),
    ("day", datetime(2026, 3, 29, tzinfo=ZoneInfo("Europe/Paris")), "2026-03-30T00:00:00+02:00"),  # 23 h
    ("day", datetime(2026, 10, 25, tzinfo=ZoneInfo("Europe/Paris")), "2026-10-26T00:00:00+01:00"),  # 25 h
    ("week", datetime(2026, 3, 23, tzinfo=ZoneInfo("Europe/Paris")), "2026-03-30T00:00:00+02:00"),
    ("day", datetime(9999, 12, 30, tzinfo=ZoneInfo("UTC")), "9999-12-31T00:00:00+00:00"),
])
def test_a_bucket_ends_where_the_next_one_starts_across_daylight_saving(bucket, start, expected):
    tz = start.tzinfo
    assert bucket_end(start, bucket=bucket, tz=tz).isoformat() == expected
    if start.year < 9999:
        following = bucket_starts(start=start, end=start + timedelta(days=8), bucket=bucket, tz=tz)
        assert following[1] == bucket_end(start, bucket=bucket, tz=tz)
