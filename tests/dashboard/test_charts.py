"""The charts tell the truth: empty buckets are gaps, thin buckets look thin, ticks follow the range."""
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.moods.definitions import MOOD_ORDER, bucket_starts
from dashboard import charts

PARIS = ZoneInfo("Europe/Paris")


def row(day: int, **counts) -> dict:
    counts = {m: counts.get(m, 0) for m in MOOD_ORDER}
    records = sum(counts.values())
    shares = {f"share_{m}": counts[m] / records for m in MOOD_ORDER}
    return {"bucket_start": datetime(2026, 3, day, tzinfo=PARIS), "records": records,
            **{f"count_{m}": counts[m] for m in MOOD_ORDER}, **shares,
            "valence": shares["share_positive"] - shares["share_negative"]}


def week_of_march(first=2, days=7):
    return bucket_starts(start=datetime(2026, 3, first, tzinfo=PARIS),
                         end=datetime(2026, 3, first + days, tzinfo=PARIS), bucket="day", tz=PARIS)


def test_every_bucket_of_the_range_is_on_the_axis_and_empty_ones_are_gaps():
    rows = [row(2, positive=10), row(5, negative=4)]
    figure = charts.valence_figure(rows=rows, starts=week_of_march(), tz_name="Europe/Paris", bucket="day")
    per_bucket, rolling = figure["data"]
    assert len(per_bucket["x"]) == 7
    assert per_bucket["y"] == [1.0, None, None, -1.0, None, None, None]
    assert per_bucket["connectgaps"] is False and rolling["connectgaps"] is False


def test_the_rolling_valence_pools_the_records_of_its_window_and_breaks_when_the_window_is_empty():
    cells = [row(2, positive=9, negative=1), None, row(4, negative=10), None, None, None, None, None, None]
    # window of 7 buckets: day 2 alone (0.8); days 2-4 pooled: (9 - 11) / 20 = -0.1; ... then empty
    assert charts.rolling_valence(cells, 7) == pytest.approx(
        [0.8, 0.8, -0.1, -0.1, -0.1, -0.1, -0.1, -1.0, -1.0])
    assert charts.rolling_valence(cells, 2)[5:] == [None, None, None, None]


def test_a_bucket_with_few_records_is_drawn_fainter_and_smaller_than_a_full_one():
    rows = [row(2, positive=100), row(3, positive=1)]
    share = charts.mood_share_figure(rows=rows, starts=week_of_march(), tz_name="Europe/Paris", bucket="day")
    opacity = share["data"][0]["marker"]["opacity"]
    assert opacity[0] == 1.0 and 0.3 < opacity[1] < 0.4 and opacity[2] == 0
    valence = charts.valence_figure(rows=rows, starts=week_of_march(), tz_name="Europe/Paris", bucket="day")
    sizes = valence["data"][0]["marker"]["size"]
    assert sizes[0] == 14 and sizes[1] == 5
    assert share["data"][0]["customdata"][1] == [1, 1]  # "1 of 1 records" on hover


@pytest.mark.parametrize("days, dtick, most_ticks", [
    (1, 3 * 3600_000, 9), (7, 86_400_000, 8), (30, 7 * 86_400_000, 6), (90, 14 * 86_400_000, 8), (365, "M1", 13),
])
def test_ticks_follow_the_length_of_the_range_not_the_days_with_data(days, dtick, most_ticks):
    end = datetime(2026, 6, 30, 12, 0)
    span = [(end - timedelta(days=days)).isoformat(), end.isoformat()]
    ticks = charts.time_ticks(span)
    assert ticks["dtick"] == dtick
    if isinstance(dtick, int):
        assert days * 86_400_000 / dtick <= most_ticks


def test_weekly_ticks_start_on_a_monday():
    ticks = charts.time_ticks(["2026-06-03T09:00:00", "2026-07-01T09:00:00"])
    assert datetime.fromisoformat(ticks["tick0"]).weekday() == 0


def test_bucket_starts_cut_days_at_local_midnight_across_a_dst_change():
    starts = bucket_starts(start=datetime(2026, 3, 28, 12, tzinfo=UTC), end=datetime(2026, 3, 31, tzinfo=UTC),
                           bucket="day", tz=PARIS)
    assert [s.isoformat() for s in starts] == [
        "2026-03-28T00:00:00+01:00", "2026-03-29T00:00:00+01:00", "2026-03-30T00:00:00+02:00",
        "2026-03-31T00:00:00+02:00",
    ]
    hours = bucket_starts(start=datetime(2026, 3, 29, 0, tzinfo=PARIS), end=datetime(2026, 3, 30, 0, tzinfo=PARIS),
                          bucket="hour", tz=PARIS)
    assert len(hours) == 23  # the short day


def test_week_buckets_start_on_the_monday_before_the_range():
    starts = bucket_starts(start=datetime(2026, 3, 4, tzinfo=PARIS), end=datetime(2026, 3, 20, tzinfo=PARIS),
                           bucket="week", tz=PARIS)
    assert [s.date().isoformat() for s in starts] == ["2026-03-02", "2026-03-09", "2026-03-16"]


def test_the_data_table_has_one_row_per_bucket_with_dashes_for_empty_ones():
    rows = [row(2, positive=3, negative=1)]
    figure = charts.valence_figure(rows=rows, starts=week_of_march(days=2), tz_name="Europe/Paris", bucket="day")
    table = charts.figure_table(figure, value_format="{:+.2f}")
    assert table["columns"] == ["valence per bucket (dot size: records)", "7-day rolling valence"]
    assert table["rows"] == [["2026-03-02 00:00", "+0.50", "+0.50"], ["2026-03-03 00:00", "—", "+0.50"]]


def test_the_timeline_says_where_each_mood_was_computed():
    def record(source):
        return {"local_time": "2026-03-02T09:15:02", "mood": "positive", "p_positive": 0.7, "p_negative": 0.1,
                "p_neutral": 0.15, "p_other": 0.05, "source": source}

    figure = charts.timeline_figure(records=[record("device"), record("server")], tz_name="Europe/Paris",
                                    span=["2026-03-02T00:00:00", "2026-03-03T00:00:00"])
    positive = next(trace for trace in figure["data"] if trace["name"] == "Positive")
    assert [point[4] for point in positive["customdata"]] == [
        "Device (computed on the phone)", "Server (from an uploaded frame)"]
    assert "%{customdata[4]}" in positive["hovertemplate"]
