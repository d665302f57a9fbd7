"""The rule for a timestamp a device sends (a frame's capture time, a self-report's time), defined once.

ISO 8601 with a UTC offset; inside the calendar window (core.bounds), checked before any arithmetic;
at most MAX_FUTURE_SKEW_SECONDS ahead of the server clock (phones' clocks drift a little); and no
older than MAX_FRAME_AGE_HOURS (a phone that was offline for a week still delivers; older data is a
bug or a replay). Used by the frame-batch upload (backend.ingest.uploads) and the self-report
(backend.moods.self_reports).
"""
from datetime import datetime, timedelta

from django.conf import settings

from .bounds import EARLIEST_DATE, OUT_OF_RANGE_MESSAGE, date_in_bounds
from .errors import FieldError


def device_timestamp_parse(
    raw: object, *, field: str, now: datetime, index: int | None = None
) -> tuple[datetime | None, FieldError | None]:
    """(the aware datetime, None), or (None or the parsed value, the FieldError naming the problem)."""
    limits = settings.MOODWATCH
    if not isinstance(raw, str):
        return None, FieldError(field, "invalid_timestamp",
                                f"{field} must be an ISO-8601 string, not {type(raw).__name__}.", index)
    text = raw.strip()
    # Python's parser takes any character as the date-time separator and skips a NUL before the
    # offset ("2026-12-05T09:15:02\x00+01:00" parses): only printable ASCII is a timestamp.
    if not (text.isascii() and text.isprintable()):
        return None, FieldError(field, "invalid_timestamp", f"{raw[:64]!r} is not ISO-8601.", index)
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None, FieldError(field, "invalid_timestamp", f"{raw[:64]!r} is not ISO-8601.", index)
    if not date_in_bounds(when):  # before comparing: a UTC conversion overflows at the calendar's edges
        code = "timestamp_too_old" if when.date() < EARLIEST_DATE else "timestamp_in_future"
        return None, FieldError(field, code, f"{raw[:64]!r}: {OUT_OF_RANGE_MESSAGE}", index)
    if when.tzinfo is None or when.utcoffset() is None:
        return None, FieldError(
            field, "timestamp_without_offset",
            f"{raw[:64]!r} has no UTC offset; send e.g. 2026-01-31T14:05:00+01:00.", index,
        )
    if when.utcoffset() % timedelta(minutes=1):  # "+01:00:00.5": Python reads it, PostgreSQL refuses it
        return None, FieldError(
            field, "invalid_timestamp", f"{raw[:64]!r}: a UTC offset is whole minutes (+hh:mm).", index)
    if when > now + limits["MAX_FUTURE_SKEW"]:
        return when, FieldError(
            field, "timestamp_in_future",
            f"{raw[:64]!r} is more than {limits['MAX_FUTURE_SKEW']} ahead of the server clock.", index,
        )
    if when < now - limits["MAX_FRAME_AGE"]:
        return when, FieldError(
            field, "timestamp_too_old",
            f"{raw[:64]!r} is older than the maximum age of {limits['MAX_FRAME_AGE']}.", index,
        )
    return when, None
