"""The negative-mood rules as pure functions on counts: no Django, no database, so the service
(alerts.services), the dashboard and the simulation (benchmarks/alert_rules.py) run the same code.

Absolute rule: at least `min_records` records in the window and a negative share of at least
`negative_share`.

Baseline rule: the recent window (`window_days` local days, today included) against the patient's
own baseline (the BASELINE_DAYS local days that end GUARD_DAYS before it), on per-day counts in the
patient's zone.

Why days are the unit: records are not independent draws. A session is a run of frames of the same
face in the same light, seconds apart, so its records mostly agree; and a day's light, place and
mood move every record of that day together. A binomial test that treats 600 records as 600 draws
calls every such wobble significant. So each day is one observation of the patient's negative
share, with its binomial variance p(1-p)/n plus a between-day variance tau^2 estimated from the
baseline's own days (DerSimonian-Laird, the random-effects estimator of meta-analysis; it absorbs
the session clustering within days too). Both levels are the weighted means of their days'
shares (weights 1/(p(1-p)/n + tau^2), so a day with one record barely counts and no day outweighs
tau^2), and the one-sided test is

    z = (recent - baseline) / sqrt(var(recent) + var(baseline))

with the variances under the baseline's rate (the null hypothesis). It raises when z reaches the
multiple-testing threshold (definitions.ALPHA_RAISE) and the change is at least MIN_EFFECT, on at
least RECENT_MIN_DAYS days with data; it keeps an open alert while z and the change stay above the
lower KEEP thresholds. Rates are smoothed, (negative + 0.5) / (records + 1), wherever they enter a
variance, so a patient with one mood only (share 0 or 1) gets a finite, positive variance.
"""
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from math import isfinite, sqrt
from statistics import NormalDist
from zoneinfo import ZoneInfo

from .definitions import (
    ALPHA_KEEP,
    ALPHA_RAISE,
    BASELINE_DAYS,
    BASELINE_MIN_DAYS,
    BASELINE_MIN_RECORDS,
    GUARD_DAYS,
    INTERVAL_LEVEL,
    KEEP_EFFECT,
    MIN_EFFECT,
    RECENT_MIN_DAYS,
)

_NORMAL = NormalDist()
Z_RAISE = _NORMAL.inv_cdf(1 - ALPHA_RAISE)  # 2.94
Z_KEEP = _NORMAL.inv_cdf(1 - ALPHA_KEEP)  # 1.64
Z_INTERVAL = _NORMAL.inv_cdf(0.5 + INTERVAL_LEVEL / 2)  # 1.96


@dataclass(frozen=True)
class DayCount:
    """One local day of the patient: records, and how many of them read negative."""

    day: date
    records: int
    negative: int


def absolute_breached(*, records: int, negative: int, negative_share: float, min_records: int) -> bool:
    """The absolute rule."""
    return records >= min_records and records > 0 and negative / records >= negative_share


# --- windows in the patient's zone -------------------------------------------------------------------

@dataclass(frozen=True)
class Windows:
    """Local days: the baseline is [baseline_first, baseline_end), the recent window [recent_first,
    today]; the guard band [baseline_end, recent_first) counts in neither."""

    baseline_first: date
    baseline_end: date
    recent_first: date
    today: date

    def start(self, tz: ZoneInfo) -> datetime:
        return local_midnight(self.baseline_first, tz)

    def recent_start(self, tz: ZoneInfo) -> datetime:
        return local_midnight(self.recent_first, tz)


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The start of a local day (a DST change at midnight gives the first existing moment's offset)."""
    return datetime.combine(day, time.min, tzinfo=tz)


def windows_at(*, now: datetime, tz: ZoneInfo, window_days: int, baseline_days: int = BASELINE_DAYS,
               guard_days: int = GUARD_DAYS) -> Windows:
    today = now.astimezone(tz).date()
    recent_first = today - timedelta(days=max(1, window_days) - 1)
    baseline_end = recent_first - timedelta(days=guard_days)
    return Windows(baseline_first=baseline_end - timedelta(days=baseline_days), baseline_end=baseline_end,
                   recent_first=recent_first, today=today)


def split_days(days: Mapping[date, tuple[int, int]], windows: Windows) -> tuple[list[DayCount], list[DayCount]]:
    """Per-day (records, negative) -> (baseline days, recent days), empty days left out."""
    baseline, recent = [], []
    for day, (records, negative) in sorted(days.items()):
        if records <= 0:
            continue
        if windows.baseline_first <= day < windows.baseline_end:
            baseline.append(DayCount(day, records, negative))
        elif windows.recent_first <= day <= windows.today:
            recent.append(DayCount(day, records, negative))
    return baseline, recent


# --- the estimates -----------------------------------------------------------------------------------

def smoothed_rate(*, negative: int, records: int) -> float:
    """Strictly inside (0, 1) whatever the counts: (negative + 0.5) / (records + 1)."""
    return (negative + 0.5) / (records + 1.0)


def between_day_variance(days: list[DayCount], *, rate: float) -> float:
    """DerSimonian-Laird tau^2 of the days' shares around their common mean (0 with fewer than 2 days)."""
    if len(days) < 2:
        return 0.0
    weights = [d.records / (rate * (1 - rate)) for d in days]
    shares = [d.negative / d.records for d in days]
    total = sum(weights)
    mean = sum(w * s for w, s in zip(weights, shares)) / total
    q = sum(w * (s - mean) ** 2 for w, s in zip(weights, shares))
    c = total - sum(w * w for w in weights) / total
    return max(0.0, (q - (len(days) - 1)) / c) if c > 0 else 0.0


def weighted_level(days: list[DayCount], *, rate: float, tau2: float) -> tuple[float, float]:
    """(mean share, its variance) of the days, each weighted by 1 / (rate(1-rate)/n + tau^2)."""
    weights = [1.0 / (rate * (1 - rate) / d.records + tau2) for d in days]
    total = sum(weights)
    return sum(w * d.negative / d.records for w, d in zip(weights, days)) / total, 1.0 / total


@dataclass(frozen=True)
class Baseline:
    records: int
    negative: int
    days: int
    share: float | None  # the weighted mean of the days' negative shares; None without records
    variance: float  # of `share`
    tau2: float  # between-day variance of the daily share
    rate: float  # smoothed pooled rate, the null hypothesis's

    @property
    def ready(self) -> bool:
        return self.records >= BASELINE_MIN_RECORDS and self.days >= BASELINE_MIN_DAYS

    def day_range(self) -> tuple[float, float] | None:
        """Where INTERVAL_LEVEL of the baseline's days fall: the share +- z * sqrt(tau^2 + p(1-p)/n),
        n the baseline's mean records a day, clipped to [0, 1] (the band on the mood-share chart)."""
        if self.share is None:
            return None
        spread = Z_INTERVAL * sqrt(self.tau2 + self.rate * (1 - self.rate) / (self.records / self.days))
        return max(0.0, self.share - spread), min(1.0, self.share + spread)


def baseline_estimate(days: Iterable[DayCount]) -> Baseline:
    used = [d for d in days if d.records > 0]
    records = sum(d.records for d in used)
    negative = sum(d.negative for d in used)
    rate = smoothed_rate(negative=negative, records=records)
    if not used:
        return Baseline(records=0, negative=0, days=0, share=None, variance=0.0, tau2=0.0, rate=rate)
    tau2 = between_day_variance(used, rate=rate)
    share, variance = weighted_level(used, rate=rate, tau2=tau2)
    return Baseline(records=records, negative=negative, days=len(used), share=share, variance=variance, tau2=tau2,
                    rate=rate)


@dataclass(frozen=True)
class Deviation:
    """The baseline rule's verdict on one patient, and the figures shown beside it."""

    status: str  # "building" (no baseline yet), "too_few" (recent window too thin), "tested"
    baseline: Baseline
    recent_records: int
    recent_days: int
    recent_share: float | None  # weighted mean of the recent days' shares
    change: float | None  # recent_share - baseline.share
    half_width: float | None  # of the INTERVAL_LEVEL interval of `change`
    z: float | None
    breached: bool

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.change is None:
            return None
        return self.change - self.half_width, self.change + self.half_width


def deviation_test(*, baseline: Baseline, recent: Iterable[DayCount], min_records: int, window_days: int,
                   alert_open: bool = False) -> Deviation:
    """The baseline rule: is the recent window's negative share significantly and materially above
    the baseline's? `alert_open` applies the lower thresholds that keep an open alert open."""
    days = [d for d in recent if d.records > 0]
    records = sum(d.records for d in days)
    negative = sum(d.negative for d in days)
    blank = {"recent_records": records, "recent_days": len(days),
             "recent_share": negative / records if records else None,
             "change": None, "half_width": None, "z": None, "breached": False}
    if not baseline.ready:
        return Deviation(status="building", baseline=baseline, **blank)
    if records < max(1, min_records) or len(days) < min(RECENT_MIN_DAYS, max(1, window_days)):
        return Deviation(status="too_few", baseline=baseline, **blank)
    share, null_variance = weighted_level(days, rate=baseline.rate, tau2=baseline.tau2)
    change = share - baseline.share
    z = change / sqrt(null_variance + baseline.variance)
    # The interval: each level's variance at its own (smoothed) rate.
    own_rate = smoothed_rate(negative=negative, records=records)
    own_variance = weighted_level(days, rate=own_rate, tau2=baseline.tau2)[1]
    half_width = Z_INTERVAL * sqrt(own_variance + baseline.variance)
    z_line, effect_line = (Z_KEEP, KEEP_EFFECT) if alert_open else (Z_RAISE, MIN_EFFECT)
    breached = isfinite(z) and z >= z_line and change >= effect_line
    return Deviation(status="tested", baseline=baseline, recent_records=records, recent_days=len(days),
                     recent_share=share, change=change, half_width=half_width, z=z, breached=breached)


def deviation_of_days(*, days: Mapping[date, tuple[int, int]], now: datetime, tz: ZoneInfo, window_days: int,
                      min_records: int, alert_open: bool = False) -> Deviation:
    """The whole rule from per-local-day (records, negative) counts."""
    baseline_days, recent_days = split_days(days, windows_at(now=now, tz=tz, window_days=window_days))
    return deviation_test(baseline=baseline_estimate(baseline_days), recent=recent_days, min_records=min_records,
                          window_days=window_days, alert_open=alert_open)
