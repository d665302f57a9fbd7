"""The dashboard's page-level reads: what a page shows, gathered from the apps that own the data.

They live here, not in one app, because each spans several (rollups, moods, alerts, patients);
the views call one of them and render. Like every selector, they never write.

- patient_list_rows: the "My patients" table, one row per visible patient with 7-day mood figures,
  the change of the negative share from the patient's own baseline (alerts.rules), coverage (by
  capture time, as on the patient page) and alerts. Every figure is computed by the database (a
  few grouped queries for the whole list, whatever its size).
- patient_period_read: the patient page's buckets, coverage, timeline and summary for one period.
- monitoring_states: whether each patient is being monitored at all (deactivated, no consent, phone
  revoked, no phone, data deleted on request), so an empty stretch is not read as "the phone sent
  nothing".
"""
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet

from backend.alerts.definitions import BASELINE_MIN_DAYS, BASELINE_MIN_RECORDS, INTERVAL_LEVEL
from backend.alerts.rules import Deviation
from backend.alerts.selectors import alert_counts_unresolved, baseline_deviations
from backend.audit.models import AuditAction
from backend.devices.selectors import device_counts_by_patient
from backend.moods.definitions import MOOD_LABELS, MOOD_ORDER, VALENCE_ARROWS, valence_direction, valence_of_counts
from backend.moods.selectors import mood_timeline
from backend.patients.models import Patient
from backend.patients.selectors import patient_last_event_at
from backend.rollups.selectors import (
    MoodOverview,
    capture_coverage,
    capture_overview,
    mood_buckets,
    mood_overview,
    upload_overview,
)

# Each key returns a sortable value, or None for "no data": such rows go last in either direction.
SORT_KEYS = {
    "name": lambda r: str(r.patient).lower(),
    "reference": lambda r: r.patient.reference.lower(),
    "last_upload": lambda r: r.last_upload,
    "valence": lambda r: r.mood.valence,
    "change": lambda r: r.mood.valence_change,
    "negative": lambda r: r.mood.share("negative") if r.mood.records else None,
    "baseline": lambda r: r.baseline.change if r.baseline is not None else None,
    "coverage": lambda r: r.mood.days_without_data,
    "alerts": lambda r: -r.open_alerts,  # ascending = most open alerts first
}
DEFAULT_SORT = "alerts"


# Why a patient may send nothing, most decisive first: each stops uploads by itself. The words are
# the same on the list and the patient page (the manage page's "Deactivate" says it stops monitoring).
STATE_LABELS = {
    "stopped": "Monitoring stopped (deactivated)",
    "no_consent": "No consent: uploads refused",
    "revoked": "Phone revoked",
    "no_device": "No phone enrolled",
}


@dataclass(frozen=True)
class MonitoringState:
    """`code`: "monitoring", or why nothing can arrive (a key of STATE_LABELS); `since`: when that
    began where known (deactivation, the last revocation). `data_deleted_at`: when the patient's data
    were last deleted on request (records before it are gone), whatever the state."""

    code: str
    since: datetime | None = None
    data_deleted_at: datetime | None = None

    @property
    def monitored(self) -> bool:
        return self.code == "monitoring"

    @property
    def label(self) -> str:
        return STATE_LABELS.get(self.code, "")


def monitoring_states(*, patients: list[Patient]) -> dict:
    """patient pk -> MonitoringState, in three grouped queries whatever the number of patients."""
    ids = [p.pk for p in patients]
    devices = device_counts_by_patient(patient_ids=ids)
    deactivated = patient_last_event_at(patient_ids=ids, action=AuditAction.PATIENT_DEACTIVATE)
    deleted = patient_last_event_at(patient_ids=ids, action=AuditAction.DATA_DELETE)
    states = {}
    for p in patients:
        found = devices.get(p.pk)
        if not p.is_active:
            code, since = "stopped", deactivated.get(p.pk)
        elif not p.has_consent:
            code, since = "no_consent", None
        elif found is None:
            code, since = "no_device", None
        elif not found["active"]:
            code, since = "revoked", found["last_revoked_at"]
        else:
            code, since = "monitoring", None
        states[p.pk] = MonitoringState(code=code, since=since, data_deleted_at=deleted.get(p.pk))
    return states


@dataclass
class PatientRow:
    patient: Patient
    mood: MoodOverview
    last_upload: datetime | None
    frames: int
    frames_processed: int
    frames_with_face: int
    open_alerts: int
    snoozed_alerts: int
    baseline: Deviation | None = None
    state: MonitoringState = MonitoringState(code="monitoring")

    @property
    def face_share(self) -> float | None:
        return self.frames_with_face / self.frames_processed if self.frames_processed else None

    def __post_init__(self):
        # Display strings prepared once here: template filters per cell are slow on a 200-row table.
        records = self.mood.records
        self.records = records
        self.mood_bar = [
            (
                m,
                f"{self.mood.counts[m] * 100 / records:.2f}" if records else "0",
                f"{self.mood.counts[m] * 100 / records:.0f}" if records else "0",
            )
            for m in MOOD_ORDER
        ]
        self.mood_bar_label = ", ".join(f"{m} {pct}%" for m, _, pct in self.mood_bar)
        self.valence = self.mood.valence
        self.valence_change = self.mood.valence_change
        self.valence_text, self.valence_class = _signed(self.valence)
        self.change_text, self.change_class = _signed(self.valence_change)
        self.change_arrow = VALENCE_ARROWS[valence_direction(self.valence_change)]
        self.previous_valence_text, _ = _signed(self.mood.previous_valence)
        self.previous_records = self.mood.previous_records
        self.days_without_data = self.mood.days_without_data
        share = self.face_share
        self.face_share_text = "" if share is None else f"{share * 100:.0f}%"
        self.baseline_text, self.baseline_note, self.baseline_class = baseline_texts(self.baseline)
        # A deletion shows until something arrives after it: until then it explains the empty week.
        deleted = self.state.data_deleted_at
        self.data_deleted_at = deleted if deleted and (self.last_upload is None or self.last_upload < deleted) else None


def baseline_texts(deviation: Deviation | None) -> tuple[str, str, str]:
    """("negative 42% vs baseline 30%", "+12 points, 95% interval ±6", css class) and the like for
    "baseline building" and a recent window too thin to compare."""
    if deviation is None:
        return "", "", ""
    baseline = deviation.baseline
    if deviation.status == "building":
        # Each count stops at what is needed: "9 of 7 days" read as a wrong figure; "7 of 7" says it is met.
        records, days = min(baseline.records, BASELINE_MIN_RECORDS), min(baseline.days, BASELINE_MIN_DAYS)
        return ("baseline building", f"{records} of {BASELINE_MIN_RECORDS} records, {days} of {BASELINE_MIN_DAYS} days",
                "muted")
    if deviation.status == "too_few":
        return (f"baseline {baseline.share * 100:.0f}%", f"too few recent records ({deviation.recent_records})",
                "muted")
    change = deviation.change * 100
    direction = "neg" if deviation.breached else ("flat" if abs(change) < deviation.half_width * 100 else "")
    note = f"{change:+.0f} points (±{deviation.half_width * 100:.0f}, {INTERVAL_LEVEL:.0%} interval)"
    return (f"negative {deviation.recent_share * 100:.0f}% vs baseline {baseline.share * 100:.0f}%",
            note.replace("-", "−"), direction)


def _signed(value: float | None) -> tuple[str, str]:
    if value is None:
        return "—", ""
    return f"{value:+.2f}".replace("-", "−"), valence_direction(value)


def patient_list_rows(
    *, patients: QuerySet[Patient], now: datetime, sort: str = DEFAULT_SORT, descending: bool = False
) -> list[PatientRow]:
    patients = list(patients)
    ids = [p.pk for p in patients]
    moods = mood_overview(patients=patients, now=now)
    batches = upload_overview(patients=patients, now=now)  # the last upload only: coverage is by capture
    captured = capture_overview(patients=patients, now=now)
    alerts = {row["patient_id"]: row for row in alert_counts_unresolved(patient_ids=ids, now=now)}
    baselines = baseline_deviations(patients=patients, now=now)
    states = monitoring_states(patients=patients)
    rows = []
    for p in patients:
        a, c = alerts.get(p.pk, {}), captured[p.pk]
        rows.append(PatientRow(
            patient=p, mood=moods[p.pk], last_upload=batches.get(p.pk, {}).get("last_upload"),
            frames=c["frames"], frames_processed=c["frames_processed"], frames_with_face=c["frames_with_face"],
            open_alerts=a.get("open", 0), snoozed_alerts=a.get("snoozed", 0),
            baseline=baselines.get(p.pk), state=states[p.pk],
        ))
    key = SORT_KEYS.get(sort, SORT_KEYS[DEFAULT_SORT])
    rows.sort(key=lambda r: str(r.patient).lower())  # ties: by name
    present = sorted((r for r in rows if key(r) is not None), key=key, reverse=descending)
    return present + [r for r in rows if key(r) is None]


@dataclass(frozen=True)
class PatientPeriod:
    """One patient's figures over one period: the non-empty buckets (rollups.selectors.mood_buckets
    rows), coverage per bucket of capture, the most recent records, the summary of them all, and
    the non-empty buckets from `rolling_start` to the period's end (the rolling figures' windows,
    whole even for the first buckets of the period)."""

    rows: list[dict]
    coverage: list[dict]
    timeline: list[dict]
    summary: dict
    rolling_rows: list[dict]


def patient_period_read(
    *, patient: Patient, start: datetime, end: datetime, bucket: str, timeline_limit: int,
    rolling_start: datetime | None = None,
) -> PatientPeriod:
    rows = mood_buckets(patient=patient, start=start, end=end, bucket=bucket)
    coverage = capture_coverage(patient=patient, start=start, end=end, bucket=bucket)
    timeline = mood_timeline(patient=patient, start=start, end=end, limit=timeline_limit)
    rolling_rows = rows if rolling_start is None else mood_buckets(
        patient=patient, start=rolling_start, end=end, bucket=bucket)
    return PatientPeriod(rows=rows, coverage=coverage, timeline=timeline, summary=_period_summary(rows, coverage),
                         rolling_rows=rolling_rows)


def _period_summary(rows: list[dict], coverage: list[dict]) -> dict:
    records = sum(r["records"] for r in rows)
    counts = {m: sum(r[f"count_{m}"] for r in rows) for m in MOOD_ORDER}
    frames = sum(d["frames"] or 0 for d in coverage)
    processed = sum(d["frames_processed"] or 0 for d in coverage)
    with_face = sum(d["frames_with_face"] or 0 for d in coverage)
    bystanders = sum(d.get("bystanders") or 0 for d in coverage)
    return {
        "records": records,
        "shares": [(m, MOOD_LABELS[m], counts[m] / records * 100 if records else 0, counts[m]) for m in MOOD_ORDER],
        "valence": valence_of_counts(positive=counts["positive"], negative=counts["negative"], records=records),
        "buckets_with_data": len(rows),
        "frames": frames,
        "frames_without_face": processed - with_face,
        "face_share": with_face / processed if processed else None,
        "bystanders": bystanders,
    }
