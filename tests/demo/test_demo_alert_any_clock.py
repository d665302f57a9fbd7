"""The `make run` demo raises its alert whatever the hour it starts: DEMO-002 trips the default
(baseline) rule and DEMO-001 trips nothing, at clock times before and after midday UTC, around the
hour story_end_day turns in each patient's zone, in winter, summer and across a DST change.

The demo's own frames (backend.demo.replay, seeded) are built at each clock time and read by the
real model, as the demo's phones and server read them; the rule is the service's
(alerts.rules.deviation_of_days with the default thresholds) evaluated once everything has landed.
The same story always draws the same frames, so each distinct frame is classified once.
"""
import hashlib
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings

from backend.alerts.rules import deviation_of_days
from backend.alerts.selectors import alert_thresholds_default
from backend.demo.replay import replay_frames_write
from backend.demo.services import DEMO_PATIENTS
from inference.estimator import MoodEstimator

CLOCKS = [
    # winter (New York UTC-5, Paris UTC+1): story_end_day turns at 15:00 local = 20:00 / 14:00 UTC
    *(datetime(2026, 12, 3, h, m, tzinfo=UTC) for h, m in [
        (0, 30), (3, 0), (5, 30), (7, 0), (9, 0), (11, 59), (12, 0), (13, 59), (14, 0), (16, 30),
        (19, 59), (20, 0), (22, 30), (23, 59)]),
    # summer
    *(datetime(2026, 7, 15, h, 0, tzinfo=UTC) for h in (3, 11, 13, 19, 23)),
    # the 14 days cross a DST change (New York 1 Nov, Paris 25 Oct; both in March)
    datetime(2026, 11, 6, 10, 0, tzinfo=UTC), datetime(2026, 10, 30, 18, 0, tzinfo=UTC),
    datetime(2026, 3, 12, 10, 0, tzinfo=UTC), datetime(2026, 4, 2, 21, 0, tzinfo=UTC),
]
EXPECTED = {"DEMO-001": False, "DEMO-002": True}  # is a negative-mood alert open once the demo landed


@pytest.fixture(scope="module")
def read_mood():
    """frame bytes -> "negative" / another mood / None (no face), by the shipped model, cached."""
    estimator = MoodEstimator.load()
    cache: dict[str, str | None] = {}

    def read(data: bytes) -> str | None:
        key = hashlib.sha256(data).hexdigest()
        if key not in cache:
            face = estimator.estimate_patient_batch([data])[0].face
            cache[key] = face.mood if face else None
        return cache[key]

    return read


def day_counts(frames: list[tuple[datetime, bytes]], tz: ZoneInfo, read_mood) -> dict:
    records, negative = Counter(), Counter()
    for moment, data in frames:
        mood = read_mood(data)
        if mood is None:
            continue
        day = moment.astimezone(tz).date()
        records[day] += 1
        negative[day] += mood == "negative"
    return {day: (records[day], negative[day]) for day in records}


@pytest.mark.slow
@pytest.mark.parametrize("now", CLOCKS, ids=lambda t: t.strftime("%Y-%m-%dT%H:%MZ"))
def test_demo_patient_b_and_only_b_is_in_alert_whatever_the_clock(now, read_mood, tmp_path, sample_images_dir):
    thresholds = alert_thresholds_default()
    verdicts = {}
    for spec in DEMO_PATIENTS:
        target = tmp_path / spec.reference
        replay_frames_write(reference=spec.reference, timezone=spec.timezone,
                            faces_dir=Path(settings.MOODWATCH["DEMO_FACES_DIR"]), target_dir=target, now=now)
        frames = [(datetime.fromtimestamp(p.stat().st_mtime, tz=UTC), p.read_bytes()) for p in target.glob("*.jpg")]
        # the sample photos the demo phone also sends, taken as the demo starts
        frames += [(now, (sample_images_dir / name).read_bytes()) for name in spec.photos]
        tz = ZoneInfo(spec.timezone)
        deviation = deviation_of_days(days=day_counts(frames, tz, read_mood), now=now, tz=tz,
                                      window_days=thresholds.window_days, min_records=thresholds.min_records)
        verdicts[spec.reference] = (deviation.breached, deviation)
    assert {reference: breached for reference, (breached, _) in verdicts.items()} == EXPECTED, verdicts
