"""The baseline rule's statistics (alerts.rules) at their edges, on counts alone: no baseline yet, a
patient with one mood only, a day with one record, local days across daylight-saving changes, the
multiple-testing line, the minimum effect and the hysteresis of an open alert."""
import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.alerts.definitions import BASELINE_DAYS, BASELINE_MIN_DAYS, BASELINE_MIN_RECORDS, GUARD_DAYS, MIN_EFFECT
from backend.alerts.rules import (
    Z_KEEP,
    Z_RAISE,
    DayCount,
    absolute_breached,
    baseline_estimate,
    between_day_variance,
    deviation_of_days,
    deviation_test,
    local_midnight,
    split_days,
    windows_at,
)

PARIS = ZoneInfo("Europe/Paris")
DAY0 = date(2026, 3, 1)


def days(n: int, records: int, negative: int, *, first: date = DAY0) -> list[DayCount]:
    return [DayCount(first + timedelta(days=i), records, negative) for i in range(n)]


def finite(*values) -> bool:
    return all(v is not None and math.isfinite(v) for v in values)


def test_the_thresholds_follow_from_the_false_alarm_budget():
    assert Z_RAISE == pytest.approx(2.935, abs=0.01)
    assert Z_KEEP == pytest.approx(1.645, abs=0.01)


def test_no_baseline_at_all_is_building_and_never_breaches():
    baseline = baseline_estimate([])
    assert (baseline.records, baseline.days, baseline.share, baseline.ready) == (0, 0, None, False)
    result = deviation_test(baseline=baseline, recent=days(3, 100, 100), min_records=50, window_days=3)
    assert (result.status, result.breached, result.change, result.z) == ("building", False, None, None)
    assert result.recent_share == 1.0 and result.recent_records == 300


def test_the_baseline_counts_at_exactly_its_minimum_of_records_and_days():
    per_day = -(-BASELINE_MIN_RECORDS // BASELINE_MIN_DAYS)
    assert baseline_estimate(days(BASELINE_MIN_DAYS, per_day, 1)).ready
    assert not baseline_estimate(days(BASELINE_MIN_DAYS - 1, 1000, 1)).ready, "enough records, too few days"
    short = BASELINE_MIN_RECORDS - 1
    assert not baseline_estimate([DayCount(DAY0 + timedelta(days=i), 1 if i else short - 19, 0)
                                  for i in range(20)]).ready, "enough days, one record short"


def test_a_patient_with_one_mood_only_gets_finite_figures_whatever_the_mood():
    never_negative = baseline_estimate(days(14, 20, 0))
    assert never_negative.share == 0.0 and 0 < never_negative.rate < 0.01 and never_negative.variance > 0
    calm = deviation_test(baseline=never_negative, recent=days(3, 20, 0, first=date(2026, 3, 15)),
                          min_records=50, window_days=3)
    assert calm.status == "tested" and finite(calm.z, calm.change, calm.half_width)
    assert calm.change == 0.0 and not calm.breached
    dark = deviation_test(baseline=never_negative, recent=days(3, 20, 20, first=date(2026, 3, 15)),
                          min_records=50, window_days=3)
    assert finite(dark.z, dark.half_width) and dark.change == 1.0 and dark.breached

    always_negative = baseline_estimate(days(14, 20, 20))
    assert always_negative.share == 1.0 and always_negative.variance > 0
    same = deviation_test(baseline=always_negative, recent=days(3, 20, 20, first=date(2026, 3, 15)),
                          min_records=50, window_days=3)
    assert finite(same.z, same.half_width) and same.change == 0.0 and not same.breached


def test_a_day_with_one_record_barely_moves_the_estimate():
    baseline = baseline_estimate(days(14, 40, 12))  # 30% negative, the same every day
    assert baseline.tau2 == 0.0
    recent = [DayCount(date(2026, 3, 15), 60, 18), DayCount(date(2026, 3, 16), 1, 1)]
    result = deviation_test(baseline=baseline, recent=recent, min_records=50, window_days=3)
    assert result.status == "tested" and result.recent_share == pytest.approx(19 / 61)
    assert not result.breached and result.z < 1
    only_one = deviation_test(baseline=baseline, recent=recent[1:], min_records=1, window_days=3)
    assert only_one.status == "too_few", "one day with data is not a sustained change"


def test_between_day_variance_is_zero_for_one_day_or_identical_days_and_positive_when_days_differ():
    assert between_day_variance(days(1, 50, 10), rate=0.2) == 0.0
    assert between_day_variance(days(10, 50, 10), rate=0.2) == 0.0
    wobbly = [DayCount(DAY0 + timedelta(days=i), 200, 20 if i % 2 else 100) for i in range(10)]
    assert between_day_variance(wobbly, rate=0.3) > 0.01


def test_days_that_wobble_widen_the_test_so_the_same_counts_are_not_significant():
    steady = baseline_estimate(days(28, 200, 60))
    wobbly = baseline_estimate([DayCount(DAY0 + timedelta(days=i), 200, 30 if i % 2 else 90) for i in range(28)])
    assert steady.share == pytest.approx(wobbly.share) == pytest.approx(0.3)
    recent = days(3, 200, 84, first=date(2026, 3, 29))  # 42%: +12 points
    assert deviation_test(baseline=steady, recent=recent, min_records=50, window_days=3).breached
    loose = deviation_test(baseline=wobbly, recent=recent, min_records=50, window_days=3)
    assert not loose.breached and loose.z < Z_RAISE


def test_a_significant_change_smaller_than_the_minimum_effect_does_not_alert():
    baseline = baseline_estimate(days(28, 5000, 1500))  # 30%
    small = round(5000 * (0.30 + MIN_EFFECT - 0.02))
    result = deviation_test(baseline=baseline, recent=days(3, 5000, small, first=date(2026, 3, 29)),
                            min_records=50, window_days=3)
    assert result.z > 10 and not result.breached


def test_an_open_alert_stays_open_on_the_lower_thresholds():
    baseline = baseline_estimate(days(28, 100, 30))
    recent = days(3, 100, 38, first=date(2026, 3, 29))  # +8 points
    fresh = deviation_test(baseline=baseline, recent=recent, min_records=50, window_days=3)
    kept = deviation_test(baseline=baseline, recent=recent, min_records=50, window_days=3, alert_open=True)
    assert Z_KEEP < fresh.z < Z_RAISE
    assert (fresh.breached, kept.breached) == (False, True)


def test_the_interval_holds_the_change_and_is_about_two_standard_errors():
    baseline = baseline_estimate(days(28, 100, 30))
    result = deviation_test(baseline=baseline, recent=days(3, 100, 45, first=date(2026, 3, 29)),
                            min_records=50, window_days=3)
    low, high = result.interval
    assert low < result.change < high and 0.03 < result.half_width < 0.15


def test_too_few_recent_records_is_said_not_tested():
    baseline = baseline_estimate(days(28, 100, 30))
    result = deviation_test(baseline=baseline, recent=days(3, 16, 16, first=date(2026, 3, 29)),
                            min_records=50, window_days=3)
    assert (result.status, result.breached, result.z) == ("too_few", False, None)


def test_the_absolute_rule_edges():
    assert absolute_breached(records=50, negative=30, negative_share=0.6, min_records=50)
    assert not absolute_breached(records=49, negative=49, negative_share=0.6, min_records=50)
    assert not absolute_breached(records=0, negative=0, negative_share=0.0, min_records=0)


@pytest.mark.parametrize(("now", "hours"), [
    (datetime(2026, 3, 29, 12, tzinfo=PARIS), 23),  # spring forward: the recent window's first day is short
    (datetime(2026, 10, 25, 12, tzinfo=PARIS), 25),  # fall back: long
])
def test_windows_are_local_days_across_daylight_saving_changes(now, hours):
    windows = windows_at(now=now, tz=PARIS, window_days=1)
    assert windows.recent_first == windows.today == now.date()
    start = windows.recent_start(PARIS)
    assert (start.hour, start.minute, start.date()) == (0, 0, now.date())
    next_midnight = local_midnight(now.date() + timedelta(days=1), PARIS)
    utc = ZoneInfo("UTC")
    assert next_midnight.astimezone(utc) - start.astimezone(utc) == timedelta(hours=hours)
    assert windows.baseline_end == now.date() - timedelta(days=GUARD_DAYS)
    assert windows.baseline_first == now.date() - timedelta(days=GUARD_DAYS + BASELINE_DAYS)


def test_split_days_puts_each_local_day_in_one_window_the_guard_band_in_none_and_drops_empty_days():
    now = datetime(2026, 3, 31, 9, tzinfo=PARIS)
    windows = windows_at(now=now, tz=PARIS, window_days=3)
    assert GUARD_DAYS == 2
    assert (windows.baseline_first, windows.baseline_end, windows.recent_first) == (
        date(2026, 2, 27), date(2026, 3, 27), date(2026, 3, 29))
    counts = {date(2026, 3, 28): (10, 1), date(2026, 3, 27): (4, 4), date(2026, 3, 26): (3, 0),
              date(2026, 3, 29): (10, 2), date(2026, 3, 31): (5, 5), date(2026, 4, 1): (6, 6),
              date(2026, 2, 27): (7, 0), date(2026, 2, 26): (9, 9), date(2026, 3, 2): (0, 0)}
    baseline, recent = split_days(counts, windows)
    assert [d.day for d in baseline] == [date(2026, 2, 27), date(2026, 3, 26)]
    assert [d.day for d in recent] == [date(2026, 3, 29), date(2026, 3, 31)]


def test_the_whole_rule_from_day_counts_raises_on_a_sustained_rise():
    now = datetime(2026, 3, 31, 20, tzinfo=PARIS)
    counts = {date(2026, 3, 1) + timedelta(days=i): (30, 6) for i in range(26)}  # 20%
    counts |= {date(2026, 3, 27): (30, 25), date(2026, 3, 28): (30, 25)}  # the guard band: a change beginning
    counts |= {date(2026, 3, 29): (30, 18), date(2026, 3, 30): (30, 20), date(2026, 3, 31): (30, 17)}
    result = deviation_of_days(days=counts, now=now, tz=PARIS, window_days=3, min_records=50)
    assert result.status == "tested" and result.breached
    assert result.baseline.share == pytest.approx(0.2) and result.recent_share == pytest.approx(55 / 90)
    assert result.baseline.days == 26, "the guard band's dark days are in neither window"


def test_the_usual_day_range_is_finite_and_inside_0_1_even_for_one_mood_only():
    assert baseline_estimate([]).day_range() is None
    for negative in (0, 20):
        low, high = baseline_estimate(days(14, 20, negative)).day_range()
        assert 0.0 <= low <= high <= 1.0 and finite(low, high)
    low, high = baseline_estimate(days(14, 100, 30)).day_range()
    assert low < 0.3 < high and high - low == pytest.approx(2 * 1.96 * math.sqrt(0.3 * 0.7 / 100), rel=0.02)
