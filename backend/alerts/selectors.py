"""Reads of alerts, of the thresholds in force for a patient, and of the patient's change from their
own baseline (alerts.rules on the roll-ups' per-day counts)."""
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When

from backend.patients.models import Patient
from backend.patients.selectors import patient_list_visible_to
from backend.rollups.selectors import mood_negative_by_day

from .definitions import BASELINE_DAYS, GUARD_DAYS, RULES, THRESHOLD_NAMES, Thresholds
from .models import Alert, AlertThresholds
from .rules import Deviation, deviation_of_days

F_ACK_NULLS_FIRST = F("acknowledged_at").desc(nulls_first=True)


def alert_thresholds_default() -> Thresholds:
    defaults = settings.MOODWATCH_ALERTS
    return Thresholds(**{name: defaults[name.upper()] for name in THRESHOLD_NAMES})


def alert_thresholds_override(*, patient: Patient) -> AlertThresholds | None:
    """The patient's own thresholds row, if any (a None field in it means the default)."""
    return AlertThresholds.objects.filter(patient=patient).first()


def alert_thresholds_for(*, patient: Patient) -> Thresholds:
    """The patient's overrides where set, the settings defaults elsewhere."""
    return _thresholds_merged(alert_thresholds_default(), alert_thresholds_override(patient=patient))


def _thresholds_merged(default: Thresholds, override: AlertThresholds | None) -> Thresholds:
    if override is None:
        return default
    return Thresholds(**{
        name: getattr(override, name) if getattr(override, name) is not None else value
        for name, value in default.as_dict().items()
    })


def alert_rule_default() -> str:
    """ALERT_RULE (definitions.RULES)."""
    rule = settings.MOODWATCH_ALERTS.get("RULE")
    return rule if rule in RULES else RULES[0]


def alert_rule_for(*, patient: Patient) -> str:
    """The patient's negative-mood rule (definitions.RULES): their own choice, else ALERT_RULE."""
    override = alert_thresholds_override(patient=patient)
    if override is not None and override.rule in RULES:
        return override.rule
    return alert_rule_default()


def baseline_deviations(*, patients: list[Patient], now: datetime, open_alert_ids: frozenset = frozenset()) -> dict:
    """patient pk -> alerts.rules.Deviation: each patient's recent window against their own baseline,
    under their own thresholds (window_days, min_records), whatever rule alerts them. Patients in
    `open_alert_ids` are judged by the thresholds that keep an open alert open."""
    if not patients:
        return {}
    default = alert_thresholds_default()
    overrides = {row.patient_id: row for row in AlertThresholds.objects.filter(patient__in=patients)}
    thresholds = {p.pk: _thresholds_merged(default, overrides.get(p.pk)) for p in patients}
    longest = max(t.window_days for t in thresholds.values()) + GUARD_DAYS + BASELINE_DAYS
    counts = mood_negative_by_day(patients=patients, now=now, days=longest)
    return {
        p.pk: deviation_of_days(days=counts[p.pk], now=now, tz=ZoneInfo(p.timezone),
                                window_days=thresholds[p.pk].window_days, min_records=thresholds[p.pk].min_records,
                                alert_open=p.pk in open_alert_ids)
        for p in patients
    }


def baseline_deviation_for(*, patient: Patient, now: datetime, alert_open: bool = False) -> Deviation:
    return baseline_deviations(patients=[patient], now=now,
                               open_alert_ids=frozenset([patient.pk]) if alert_open else frozenset())[patient.pk]


def alert_list_for_patient(*, patient: Patient) -> QuerySet[Alert]:
    return Alert.objects.filter(patient=patient).select_related("acknowledged_by")


def alert_get_for_patient(*, patient: Patient, alert_id: int) -> Alert:
    return alert_list_for_patient(patient=patient).get(pk=alert_id)


def alert_counts_unresolved(*, patient_ids: list) -> QuerySet:
    """Per patient: `open` (unresolved, not acknowledged) and `acknowledged` (unresolved) alert counts."""
    return (
        Alert.objects.filter(patient_id__in=patient_ids, resolved_at__isnull=True)
        .values("patient_id")
        .annotate(open=Count("id", filter=Q(acknowledged_at__isnull=True)),
                  acknowledged=Count("id", filter=Q(acknowledged_at__isnull=False)))
    )


def alert_inbox_for(*, user: AbstractBaseUser) -> QuerySet[Alert]:
    """Every open alert of the user's active patients: not yet acknowledged first, then the most
    severe, then the newest."""
    severity = Case(*(When(kind=kind, then=Value(level)) for kind, level in Alert.SEVERITY.items()),
                    default=Value(0), output_field=IntegerField())
    return (
        Alert.objects.filter(resolved_at__isnull=True,
                             patient__in=patient_list_visible_to(user=user).filter(is_active=True))
        .annotate(severity_rank=severity)
        .order_by(F_ACK_NULLS_FIRST, "-severity_rank", "-raised_at", "-id")
        .select_related("patient", "acknowledged_by")
    )


def alert_attention_count(*, user: AbstractBaseUser) -> int:
    """Open, unacknowledged alerts of the user's active patients (the header badge)."""
    return alert_inbox_for(user=user).filter(acknowledged_at__isnull=True).order_by().count()
