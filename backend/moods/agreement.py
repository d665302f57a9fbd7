"""Agreement between self-report and expression: the first live-data accuracy figure of the product.

For each self-report of the last AGREEMENT_DAYS days, the patient's expression records within
AGREEMENT_WINDOW either side of its time are counted by mood; their majority mood is compared with the
reported one. A report with no record in its window, or whose window has a tie for the most frequent
mood, is not compared (it is counted as such): a tie has no single expression mood to agree with,
and counting any of the tied moods as agreement would flatter the figure.

Why +-15 minutes: the patient app asks "How do you feel right now?" at the end of a check-in, so the
expressions of that check-in lie in the minutes just before the report (a check-in lasts a few
minutes), and the device clock may be up to MAX_FUTURE_SKEW_SECONDS (5 minutes) off. A wider window
mixes in other moments of the day; a narrower one loses the check-in's own frames. It also matches
the 15-minute slot of the roll-ups.

The interval is Wilson's score interval at 95%: right at small n and at 0% or 100%, where the normal
approximation gives impossible bounds (below 0, above 1) or zero width.
"""
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

AGREEMENT_WINDOW = timedelta(minutes=15)
AGREEMENT_DAYS = 30
Z_95 = 1.959963984540054  # the standard normal's 97.5th percentile


def wilson_interval(successes: int, n: int, *, z: float = Z_95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion, (low, high) in [0, 1]; None when n is 0."""
    if n <= 0:
        return None
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At 0 and n successes the bound is exactly 0 or 1 (the float sum can miss it by an ulp).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return low, high


def majority_mood(counts: dict[str, int]) -> str | None:
    """The most frequent mood of the records in a window; None when there are none or when two or more
    moods tie for the most."""
    most = max(counts.values(), default=0)
    if most == 0:
        return None
    leaders = [mood for mood, count in counts.items() if count == most]
    return leaders[0] if len(leaders) == 1 else None


@dataclass(frozen=True)
class Agreement:
    reports: int  # self-reports in the period
    compared: int  # those with a single majority expression mood in their window
    agreeing: int
    without_records: int  # no expression record within the window
    ties: int  # records, but a tie for the most frequent mood
    days: int = AGREEMENT_DAYS
    window_minutes: int = int(AGREEMENT_WINDOW.total_seconds() // 60)

    @property
    def share(self) -> float | None:
        return self.agreeing / self.compared if self.compared else None

    @property
    def interval(self) -> tuple[float, float] | None:
        return wilson_interval(self.agreeing, self.compared)

    def as_dict(self) -> dict:
        low, high = self.interval or (None, None)
        return {"days": self.days, "window_minutes": self.window_minutes, "reports": self.reports,
                "compared": self.compared, "agreeing": self.agreeing, "agreement": self.share,
                "ci95_low": low, "ci95_high": high, "without_records": self.without_records, "ties": self.ties}


def agreement_of(pairs: Iterable[tuple[str, dict[str, int]]]) -> Agreement:
    """Agreement from (reported mood, expression records per mood in its window), one pair a report."""
    reports = compared = agreeing = without = ties = 0
    for reported, counts in pairs:
        reports += 1
        majority = majority_mood(counts)
        if majority is None:
            if any(counts.values()):
                ties += 1
            else:
                without += 1
            continue
        compared += 1
        agreeing += majority == reported
    return Agreement(reports=reports, compared=compared, agreeing=agreeing, without_records=without, ties=ties)
