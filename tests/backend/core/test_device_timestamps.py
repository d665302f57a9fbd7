"""The one rule for a timestamp a device sends (backend.core.timestamps): frames and self-reports."""
from datetime import UTC, datetime, timedelta

import pytest

from backend.core.timestamps import device_timestamp_parse

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def parse(raw):
    return device_timestamp_parse(raw, field="t", now=NOW, index=3)


def test_an_offset_timestamp_in_the_window_is_accepted_as_its_instant():
    when, problem = parse("2026-12-05T09:15:02+01:00")
    assert problem is None and when == NOW + timedelta(minutes=15, seconds=2) - timedelta(hours=1)


@pytest.mark.parametrize(("raw", "code"), [
    ("2026-12-05T08:15:02\x00+01:00", "invalid_timestamp"),  # Python's own parser accepts this one
    ("2026-12-05\x0008:15:02+01:00", "invalid_timestamp"),
    ("2026-12-05T08:15:02+01:00\u200b", "invalid_timestamp"),
    ("2026-12-05T08:15:02", "timestamp_without_offset"),
    ("0001-01-01T00:00:00+14:00", "timestamp_too_old"),
    ("9999-12-31T23:59:59-14:00", "timestamp_in_future"),
    ("2026-12-05T09:10:01+00:00", "timestamp_in_future"),  # > 5 minutes ahead
    ("2026-11-01T00:00:00+00:00", "timestamp_too_old"),  # older than MAX_FRAME_AGE (7 days)
    (17, "invalid_timestamp"),
    (None, "invalid_timestamp"),
])
def test_what_is_refused(raw, code):
    _, problem = parse(raw)
    assert problem is not None and (problem.field, problem.code, problem.index) == ("t", code, 3)
