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
    "negative_share": "Negative share (0–1)",
    "min_records": "Minimum records",
    "no_data_days": "No data for (days)",
}
