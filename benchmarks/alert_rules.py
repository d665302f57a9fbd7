"""False alarms and time to detection of the two negative-mood rules, on a simulated cohort and on
the demo's stories.

    .venv/bin/python benchmarks/alert_rules.py                  # 200 patients x 60 days, ~1 minute
    .venv/bin/python benchmarks/alert_rules.py --patients 50    # quicker

Runs the real rule functions (backend.alerts.rules: absolute_breached, baseline_estimate,
deviation_test) on simulated per-day counts: no database, no Django settings.

Cohort. Each patient has a mood mix of their own (a Dirichlet draw around one of the demo's mixes:
steady, sliding or low) that never changes in the stable cohort. A day has sessions (Poisson, a
patient-specific rate; 8% of days none at all), a session has records (geometric, mean 12), and
the mix wobbles by day (Dirichlet, concentration 60) and by session (concentration 4): records of
a session mostly agree, as frames of one face in one light do. Each record's true expression goes
through the model's confusion (rows below): neutral faces read negative at a per-patient rate
between 30% and 55% (235 of 626 = 38% on FER2013 PrivateTest, worse on real phone photos), varying
by session (light). The shift cohort is the same, except that from day --shift-day the true
negative share rises so that the negative share the model reads (what the rules see) rises by --shift: the true
negative share rises more (about 1.6 times: the model reads many calm faces as negative already),
taken proportionally from the other moods.

Rules are evaluated once a day, at the day's end, with the settings' defaults (window 3 days,
minimum 50 records; the absolute rule at a negative share of 0.6), and keep their state (open or
not) as the service does. False alarms: alerts raised in the stable cohort from day 28 on (after a
full baseline), per patient-month (30.44 days). Days to detect: from the first shifted day to the
first evaluation that finds an alert open (1 = at the end of the first shifted day); patients who
were already in alert the day before the shift are left out of it and counted apart.

Demo: the two demo stories (backend.demo.replay.STORIES: 14 days, frames spread evenly over the
waking hours, faces drawn by the story's mix) through the same confusion at the FER2013 rate,
--demo-runs times with different seeds; it reports how often each rule alerts for each patient and
on which day.
"""
import argparse
import math
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from backend.alerts.definitions import BASELINE_DAYS, GUARD_DAYS  # noqa: E402
from backend.alerts.rules import (  # noqa: E402
    DayCount,
    absolute_breached,
    baseline_estimate,
    deviation_test,
)
from backend.demo.replay import LOW, SLIDING, STEADY, STORIES  # noqa: E402

MOODS = ["positive", "neutral", "other", "negative"]
NEG = MOODS.index("negative")
NEU = MOODS.index("neutral")
MIXES = {"steady": STEADY, "sliding": SLIDING, "low": LOW}
# The model's confusion, rows the true expression, columns the mood read (order of MOODS). The
# neutral row is set per patient and session (neutral -> negative rate); the others approximate the
# per-class F1 of docs/model-card.md (positive 0.87, negative 0.81, other 0.76).
CONFUSION = np.array([
    [0.90, 0.04, 0.02, 0.04],   # positive
    [0.03, 0.55, 0.04, 0.38],   # neutral (row replaced per session)
    [0.04, 0.05, 0.79, 0.12],   # other
    [0.03, 0.09, 0.03, 0.85],   # negative
])
FER_NEUTRAL_AS_NEGATIVE = 235 / 626
DAY0 = date(2026, 1, 1)
WINDOW_DAYS, MIN_RECORDS, NEGATIVE_SHARE = 3, 50, 0.6
BASELINE_SPAN = 28  # false alarms are counted from this day on


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=200, help="patients in each cohort (stable, shifted)")
    parser.add_argument("--days", type=int, default=60, help="simulated days per patient")
    parser.add_argument("--shift", type=float, default=0.15,
                        help="rise of the negative share as the model reads it (0-1), the share the rules see")
    parser.add_argument("--shift-day", type=int, default=35, help="first shifted day (after a full baseline)")
    parser.add_argument("--demo-runs", type=int, default=200, help="replications of the demo stories")
    parser.add_argument("--seed", type=int, default=29)
    return parser.parse_args(argv)


def confusion_for(rate: float) -> np.ndarray:
    matrix = CONFUSION.copy()
    rate = float(np.clip(rate, 0.05, 0.85))
    matrix[NEU] = [0.03, 0.93 - rate, 0.04, rate]
    return matrix


def shifted(mix: np.ndarray, shift: float) -> np.ndarray:
    if shift <= 0:
        return mix
    negative = min(1.0, mix[NEG] + shift)
    rest = np.delete(mix, NEG)
    rest = rest / rest.sum() * (1 - negative) if rest.sum() > 0 else rest
    return np.insert(rest, NEG, negative)


def simulate_patient(rng: np.random.Generator, *, days: int, shift: float, shift_day: int) -> tuple[list, str, float]:
    """Per-day (records, negative) of one patient; the mix's name; the rise of the true negative share
    that makes the read share rise by `shift` (capped where the mix runs out)."""
    name = rng.choice(list(MIXES))
    base = np.array([MIXES[name][m] for m in MOODS])
    mix = rng.dirichlet(60 * base)
    rate = rng.uniform(0.30, 0.55)
    sessions_per_day = rng.lognormal(math.log(6), 0.6)
    true_shift = true_shift_for(mix, rate, shift)
    counts = []
    for day in range(days):
        true_mix = shifted(mix, true_shift) if true_shift and day >= shift_day else mix
        if rng.random() < 0.08:
            counts.append((0, 0))
            continue
        day_mix = rng.dirichlet(60 * true_mix + 1e-3)
        records = negative = 0
        for _ in range(rng.poisson(sessions_per_day)):
            n = int(rng.geometric(1 / 12))
            session_mix = rng.dirichlet(4 * day_mix + 1e-3)
            read = session_mix @ confusion_for(rate + rng.normal(0, 0.08))
            read = np.clip(read, 0, None)
            records += n
            negative += int(rng.binomial(n, min(1.0, read[NEG] / read.sum())))
        counts.append((records, negative))
    return counts, name, true_shift


def true_shift_for(mix: np.ndarray, rate: float, read_shift: float) -> float:
    """The rise of the true negative share that the model reads as `read_shift` (the read share is
    linear in it: each point moved to negative faces adds C[neg, neg] minus what it read before)."""
    if read_shift <= 0:
        return 0.0
    matrix = confusion_for(rate)
    slope = (shifted(mix, 0.01) @ matrix)[NEG] - (mix @ matrix)[NEG]
    return min(1.0 - mix[NEG], read_shift * 0.01 / slope) if slope > 0 else 1.0 - mix[NEG]


def evaluate(counts: list[tuple[int, int]], *, first_day: int = 0) -> dict[str, list[bool]]:
    """Per rule, per day from first_day: is an alert open after that day's evaluation."""
    open_by_rule = {"absolute": [], "baseline": []}
    state = {"absolute": False, "baseline": False}
    for day in range(first_day, len(counts)):
        recent = [DayCount(DAY0 + timedelta(days=d), *counts[d]) for d in range(max(0, day - WINDOW_DAYS + 1), day + 1)]
        records = sum(d.records for d in recent)
        negative = sum(d.negative for d in recent)
        state["absolute"] = absolute_breached(records=records, negative=negative, negative_share=NEGATIVE_SHARE,
                                              min_records=MIN_RECORDS)
        baseline_end = max(0, day - WINDOW_DAYS + 1 - GUARD_DAYS)
        baseline = baseline_estimate(DayCount(DAY0 + timedelta(days=d), *counts[d])
                                     for d in range(max(0, baseline_end - BASELINE_DAYS), baseline_end))
        state["baseline"] = deviation_test(baseline=baseline, recent=recent, min_records=MIN_RECORDS,
                                           window_days=WINDOW_DAYS, alert_open=state["baseline"]).breached
        for rule in open_by_rule:
            open_by_rule[rule].append(state[rule])
    return open_by_rule


def raised(opens: list[bool], *, start: int) -> int:
    """Alerts raised (closed -> open) on days from `start` on."""
    return sum(1 for d in range(max(start, 0), len(opens)) if opens[d] and (d == 0 or not opens[d - 1]))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def fmt_days(value: float) -> str:
    return "n/a" if math.isnan(value) else ("not within the run" if math.isinf(value) else f"{value:.0f}")


def cohort(args, rng) -> list[str]:
    rules = ("absolute", "baseline")
    stable = [simulate_patient(rng, days=args.days, shift=0.0, shift_day=args.shift_day) for _ in range(args.patients)]
    moved = [simulate_patient(rng, days=args.days, shift=args.shift, shift_day=args.shift_day)
             for _ in range(args.patients)]
    months = args.patients * (args.days - BASELINE_SPAN) / 30.44
    false_alarms = {rule: 0 for rule in rules}
    with_alarm = {rule: 0 for rule in rules}
    by_mix = {(rule, name): [0, 0] for rule in rules for name in MIXES}
    records_per_day = []
    for counts, name, _ in stable:
        opens = evaluate(counts)
        records_per_day += [r for r, _ in counts]
        for rule in rules:
            n = raised(opens[rule], start=BASELINE_SPAN)
            false_alarms[rule] += n
            with_alarm[rule] += n > 0
            by_mix[rule, name][0] += n
            by_mix[rule, name][1] += 1
    delays = {rule: [] for rule in rules}
    already = {rule: 0 for rule in rules}
    rises = []
    for counts, _name, rise in moved:
        opens = evaluate(counts)
        rises.append(rise)
        for rule in rules:
            if opens[rule][args.shift_day - 1]:
                already[rule] += 1
                continue
            hit = next((d for d in range(args.shift_day, args.days) if opens[rule][d]), None)
            delays[rule].append(math.inf if hit is None else hit - args.shift_day + 1)
    horizon = args.days - args.shift_day
    lines = [
        f"Simulated cohort: {args.patients} stable + {args.patients} shifted patients x {args.days} days, "
        f"records per day median {percentile(records_per_day, 0.5):.0f} (95th percentile "
        f"{percentile(records_per_day, 0.95):.0f}); from day {args.shift_day} the negative share read by "
        f"the model rises by {args.shift:.0%} (the true share by {np.mean(rises):.1%} on average).",
        "",
        "| rule | false alarms per patient-month (stable) | stable patients with any alarm | "
        f"days to detect, median | 95th percentile | detected within {horizon} days | already in alert |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for rule in rules:
        done = delays[rule]
        detected = sum(1 for d in done if not math.isinf(d))
        lines.append(
            f"| {rule} | {false_alarms[rule] / months:.3f} | {with_alarm[rule]} of {len(stable)} | "
            f"{fmt_days(percentile(done, 0.5))} | {fmt_days(percentile(done, 0.95))} | "
            f"{detected} of {len(done)} | {already[rule]} |"
        )
    lines += ["", "False alarms per patient-month by the stable patient's mix:", "",
              "| rule | " + " | ".join(MIXES) + " |", "| --- |" + " --- |" * len(MIXES)]
    for rule in rules:
        cells = [f"{by_mix[rule, name][0] / max(1e-9, by_mix[rule, name][1] * (args.days - BASELINE_SPAN) / 30.44):.3f}"
                 f" ({by_mix[rule, name][1]})" for name in MIXES]
        lines.append(f"| {rule} | " + " | ".join(cells) + " |")
    return lines


def demo(args, rng) -> list[str]:
    matrix = confusion_for(FER_NEUTRAL_AS_NEGATIVE)
    lines = [f"Demo stories ({args.demo_runs} runs; 14 days; one evaluation at each day's end):", "",
             "| patient | rule | runs with an alert | alert open on the last day | first alert on day (median) "
             "| alert at a first evaluation the next morning |",
             "| --- | --- | --- | --- | --- | --- |"]
    for reference, story in STORIES.items():
        any_alert = {"absolute": 0, "baseline": 0}
        last_open = {"absolute": 0, "baseline": 0}
        first = {"absolute": [], "baseline": []}
        morning = {"absolute": 0, "baseline": 0}
        for _ in range(args.demo_runs):
            counts = []
            for plan in story.days:
                mix = np.array([plan.mix[m] for m in MOODS])
                faces = rng.multinomial(plan.frames, mix)  # faces drawn by the story's labels
                negative = sum(int(rng.binomial(n, matrix[i, NEG])) for i, n in enumerate(faces))
                counts.append((plan.frames, negative))
            opens = evaluate(counts)
            # `make run` before midday: the story ended yesterday, every frame lands at once, and the
            # first evaluation sees today empty (no earlier state: no hysteresis).
            fresh = {rule: evaluate(counts + [(0, 0)], first_day=len(counts))[rule][-1] for rule in morning}
            for rule in morning:
                morning[rule] += fresh[rule]
            for rule in any_alert:
                days_open = [d for d, is_open in enumerate(opens[rule]) if is_open]
                if days_open:
                    any_alert[rule] += 1
                    first[rule].append(days_open[0] + 1)
                last_open[rule] += opens[rule][-1]
        for rule in ("absolute", "baseline"):
            lines.append(f"| {reference} | {rule} | {any_alert[rule]} of {args.demo_runs} | "
                         f"{last_open[rule]} of {args.demo_runs} | {fmt_days(percentile(first[rule], 0.5))} | "
                         f"{morning[rule]} of {args.demo_runs} |")
    return lines


def main(argv=None) -> int:
    args = parse_args(argv)
    rng = np.random.default_rng(args.seed)
    print("\n".join(cohort(args, rng)))
    print()
    print("\n".join(demo(args, rng)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
