"""Hypothesis strategies for hostile values, and a counter of the requests the fuzz layer sends."""
import time

from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EDGE_STRINGS = [
    "", " ", "0", "-1", "1e309", "NaN", "inf", "true", "null", "[]", "{}", "%00", "\x00", "a\x00b", "\x1b[2J",
    "\r\n", "\u202e", "\ud7ff", "💥", "' OR 1=1 --", "<script>alert(1)</script>", "../../etc/passwd",
    "9" * 400, "-" + "9" * 40, str(2**63), str(-(2**63) - 1), "0001-01-01", "9999-12-31", "9999-12-31T23:59:59+00:00",
    "0001-01-01T00:00:00+14:00", "2026-02-30", "2026-13-01", "2026-00-10", "2025-02-29", "2024-02-29", "20261201",
    "2026-12-01T25:00:00Z", "2026-12-01T10:00:00", "2026-12-01T10:00:00+99:00", "1970-01-01", "2100-01-01",
    "1999-12-31", "2000-01-01", "2099-12-31",
]

# What reaches a query parameter or a form field: edge values, arbitrary text (control characters
# and surrogates included where the codec allows), numbers at any size, and dates of any year.
hostile_text = st.one_of(
    st.sampled_from(EDGE_STRINGS),
    st.text(max_size=30),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes().map(lambda d: d.isoformat()),
)
DATE_EDGES = [s for s in EDGE_STRINGS if s[:1].isdigit() and "-" in s]
# Date parameters get dates of any year (the calendar's edges most of all), with and without
# offsets, invalid calendar dates, and the rest of the hostile text.
hostile_date = st.one_of(
    st.sampled_from(DATE_EDGES),
    st.dates().map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
    hostile_text,
)
DATE_NAMES = {"from", "to", "start", "end", "captured_at"}


def _values(name: str):
    """A parameter may be absent, present once, or repeated."""
    one = hostile_date if name in DATE_NAMES else hostile_text
    return st.lists(one, min_size=1, max_size=3).map(lambda v: v if len(v) > 1 else v[0])


def query(*names: str):
    """A query string (dict for Django's test client) over these names, any of them left out."""
    return st.fixed_dictionaries({}, optional={name: _values(name) for name in names})


def as_file(value: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("field.txt", value.encode("utf-8", "surrogatepass"), content_type="text/plain")


def form(*names: str):
    """Form fields over these names; each value text or, sometimes, a file part in its place."""
    field = st.one_of(hostile_text, hostile_text.map(as_file))
    return st.fixed_dictionaries({}, optional={name: field for name in names})


FUZZ = settings(max_examples=80, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


class RequestCounter:
    """Counts the fuzz layer's requests and their time, for the closing summary line."""

    requests = 0
    seconds = 0.0

    @classmethod
    def send(cls, method, *args, **kwargs):
        started = time.perf_counter()
        try:
            return method(*args, **kwargs)
        finally:
            cls.requests += 1
            cls.seconds += time.perf_counter() - started
