"""The calendar window that every date and timestamp from outside must fall in.

Checked on the value as parsed, before any arithmetic: a day added to 9999-12-31, or a UTC
conversion of 0001-01-01T00:00+14:00, overflows Python's datetime. MoodWatch holds no data from
before 2000, and a date after 2099 is a typo or an attack.
"""
from datetime import date, datetime

EARLIEST_DATE = date(2000, 1, 1)
LATEST_DATE = date(2099, 12, 31)
OUT_OF_RANGE_CODE = "out_of_range"
OUT_OF_RANGE_MESSAGE = f"Dates must fall between {EARLIEST_DATE.isoformat()} and {LATEST_DATE.isoformat()}."


def date_in_bounds(value: date | datetime) -> bool:
    """Whether the value's own calendar date (no time-zone conversion) is inside the window."""
    day = value.date() if isinstance(value, datetime) else value
    return EARLIEST_DATE <= day <= LATEST_DATE


def validate_date_in_bounds(value: date | datetime) -> None:
    """A Django validator (forms and models): ValidationError outside the window."""
    from django.core.exceptions import ValidationError

    if value is not None and not date_in_bounds(value):
        raise ValidationError(OUT_OF_RANGE_MESSAGE, code=OUT_OF_RANGE_CODE)
