"""The four alert thresholds, defined once: their names and types (the Thresholds dataclass) and
the labels the dashboard shows. No Django here: the settings module reads it too.

The rule check (alerts.services), the selectors, the dashboard's form and page, the admin, the
settings (MOODWATCH_ALERTS, ALERT_<NAME> variables) and the snapshot kept on each alert all take
their names from here.
"""
from dataclasses import asdict, dataclass, fields


@dataclass(frozen=True)
class Thresholds:
    window_days: int
    negative_share: float
    min_records: int
    no_data_days: int

    def as_dict(self) -> dict:
        return asdict(self)


THRESHOLD_NAMES: tuple[str, ...] = tuple(field.name for field in fields(Thresholds))

THRESHOLD_LABELS = {
    "window_days": "Window (days)",
    "negative_share": "Negative share",
    "min_records": "Minimum records",
    "no_data_days": "No data for (days)",
}

# The values that make sense, inclusive: the model's validators (so the admin and every service
# call), the dashboard's form (its limits, help and messages) and the settings' ALERT_<NAME>
# variables all take them from here.
# - window_days, no_data_days: a day at least (the rule counts local days); 90 days at most, the
#   longest range the charts show, and longer than any gap worth waiting for.
# - negative_share: a share of 0 would flag every patient with records, so at least 0.05; at most 1
#   (every record negative).
# - min_records: one record at least; at most 100,000 (a record a minute for 16 waking hours a day over
#   the longest window, 90 days, is 86,400: a larger minimum silences the rule for good, and
#   999999999999 overflows the column).
THRESHOLD_BOUNDS: dict[str, tuple[int | float, int | float]] = {
    "window_days": (1, 90),
    "negative_share": (0.05, 1.0),
    "min_records": (1, 100_000),
    "no_data_days": (1, 90),
}
# What each threshold is, in words, for the help beside its field and the message when a value is refused.
THRESHOLD_RULES = {
    "window_days": "a whole number of days from 1 to 90",
    "negative_share": "a share from 0.05 to 1 (0.6: 60 records in 100 negative)",
    "min_records": "a whole number of records from 1 to 100000",
    "no_data_days": "a whole number of days from 1 to 90",
}


def thresholds_problems(thresholds: Thresholds) -> list[str]:
    """Each threshold outside its bounds, in words (empty when all are fine)."""
    problems = []
    for name in THRESHOLD_NAMES:
        low, high = THRESHOLD_BOUNDS[name]
        value = getattr(thresholds, name)
        if not low <= value <= high:  # NaN fails this too
            problems.append(f"{name} must be {THRESHOLD_RULES[name]}, not {value!r}")
    return problems


# --- which negative-mood rule -----------------------------------------------------------------------
# "baseline": the recent window against the patient's own trailing baseline (alerts.rules, the
# default); "absolute": the negative share over the window against `negative_share` (the rule of
# old, kept for patients whose care team wants a fixed line). Settings default: ALERT_RULE.
RULE_BASELINE = "baseline"
RULE_ABSOLUTE = "absolute"
RULES = (RULE_BASELINE, RULE_ABSOLUTE)
RULE_LABELS = {
    RULE_BASELINE: "Change from the patient's own baseline",
    RULE_ABSOLUTE: "Fixed negative share",
}

# --- the patient's own baseline (alerts.rules) ------------------------------------------------------
# The baseline is the BASELINE_DAYS local days (the patient's time zone) that end GUARD_DAYS before
# the recent window (`window_days` local days, today included) begins. The guard band (two days, as
# in the CDC's EARS C2/C3 detectors) keeps the first days of a change out of the baseline it is
# compared with: a dark spell that began the day before the window still meets a baseline from
# before it. The baseline counts once it holds at least BASELINE_MIN_RECORDS records (10 a day on
# the minimum of days) on at least BASELINE_MIN_DAYS days; until then the rule says "baseline
# building" and raises nothing.
BASELINE_DAYS = 28
GUARD_DAYS = 2
BASELINE_MIN_RECORDS = 70
BASELINE_MIN_DAYS = 7
# "Sustained": the recent window must hold records on at least this many days (or on every day of a
# shorter window); one bad afternoon is not a change.
RECENT_MIN_DAYS = 2
# The smallest change worth an alert (negative share, recent minus baseline), and the smallest that
# keeps an open alert open: with thousands of records a clinically trivial change is "significant".
MIN_EFFECT = 0.10
KEEP_EFFECT = 0.05
# Significance, one-sided. The rule is looked at about once a day per patient with new data
# (windows overlap within a day), so a false-alarm budget of 5% per patient-month is shared
# (Bonferroni) among ~30 looks: alpha = 0.05 / 30 per look, z >= 2.94. An open alert stays open
# while z >= 1.64 (alpha 0.05): hysteresis, so an alert does not flap around the line.
FALSE_ALARMS_PER_MONTH = 0.05
LOOKS_PER_MONTH = 30
ALPHA_RAISE = FALSE_ALARMS_PER_MONTH / LOOKS_PER_MONTH
ALPHA_KEEP = 0.05
# Confidence of the interval shown beside the change ("negative 42% vs baseline 30% (±6)").
INTERVAL_LEVEL = 0.95

# --- the care team's workflow (alerts.services: alert_acknowledge, alert_assign, ...) ----------------
# Stored states. "Snoozed" is not stored: an alert is snoozed while `snoozed_until` is in the future,
# so it comes back by itself, in the state it had, the moment that time passes (no job has to wake
# it). STATUSES are what a person sees and filters by: the stored state, or "snoozed" over it.
STATE_NEW = "new"
STATE_ACKNOWLEDGED = "acknowledged"
STATE_ASSIGNED = "assigned"
STATE_RESOLVED = "resolved"
STATE_LABELS = {
    STATE_NEW: "New",
    STATE_ACKNOWLEDGED: "Acknowledged",
    STATE_ASSIGNED: "Assigned",
    STATE_RESOLVED: "Resolved",
}
STATUS_SNOOZED = "snoozed"
STATUS_LABELS = {**STATE_LABELS, STATUS_SNOOZED: "Snoozed"}
# "Open": not resolved and not snoozed now; it keeps its patient at the top of the list, with a badge.
OPEN_STATUSES = (STATE_NEW, STATE_ACKNOWLEDGED, STATE_ASSIGNED)

# Why an alert was resolved. A clinician picks one of CLINICIAN_RESOLUTIONS ("other" needs a note
# saying why); the rule check resolves with the automatic ones when the condition clears or the
# patient stops being monitored.
RESOLUTION_OTHER = "other"
RESOLUTION_CONDITION_CLEARED = "condition_cleared"
RESOLUTION_MONITORING_STOPPED = "monitoring_stopped"
CLINICIAN_RESOLUTIONS = {
    "patient_contacted": "Patient contacted, no further action",
    "care_adjusted": "Care plan adjusted",
    "technical": "Technical cause (phone, app, camera)",
    "not_relevant": "Not a real change (false alarm)",
    RESOLUTION_OTHER: "Other (say why in a note)",
}
RESOLUTION_LABELS = {
    **CLINICIAN_RESOLUTIONS,
    RESOLUTION_CONDITION_CLEARED: "Condition cleared (automatic)",
    RESOLUTION_MONITORING_STOPPED: "Monitoring stopped (automatic)",
}

# A note in an alert's thread: at most this many characters (a few paragraphs; longer belongs in
# the clinical record, not in an alert). A snooze lasts at most SNOOZE_MAX_DAYS: an alert put away
# for longer should be resolved.
NOTE_MAX_CHARS = 2000
SNOOZE_MAX_DAYS = 30
