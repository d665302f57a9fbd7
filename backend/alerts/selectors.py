"""Reads of alerts (with their workflow status), of the thresholds in force for a patient, and of the
patient's change from their own baseline (alerts.rules on the roll-ups' per-day counts)."""
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, CharField, Count, F, IntegerField, Prefetch, Q, QuerySet, Value, When
from django.utils import timezone

from backend.patients.models import Patient
from backend.patients.selectors import clinician_list_assignable, patient_list_visible_to
from backend.rollups.selectors import mood_negative_by_day

from .definitions import BASELINE_DAYS, GUARD_DAYS, RULES, STATUS_SNOOZED, THRESHOLD_NAMES, Thresholds
from .models import Alert, AlertNote, AlertThresholds
from .rules import Deviation, deviation_of_days


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


# --- the care team's workflow ------------------------------------------------------------------------
# What a person sees and filters by (definitions.STATUSES), written once as SQL: resolved (by the
# team, or because the condition cleared), else snoozed while `snoozed_until` is ahead of `now`,
# else the stored state. Computed at each read, so a snooze ends by itself.

def _resolved_q() -> Q:
    return Q(state=Alert.State.RESOLVED) | Q(resolved_at__isnull=False)


def _snoozed_q(now: datetime) -> Q:
    return ~_resolved_q() & Q(snoozed_until__gt=now)


def alert_open_q(*, now: datetime) -> Q:
    """Open: not resolved and not snoozed now. An open alert keeps its patient at the top of the list."""
    return ~_resolved_q() & (Q(snoozed_until__isnull=True) | Q(snoozed_until__lte=now))


def alert_status_expression(*, now: datetime) -> Case:
    return Case(
        When(_resolved_q(), then=Value(Alert.State.RESOLVED.value)),
        When(snoozed_until__gt=now, then=Value(STATUS_SNOOZED)),
        default=F("state"), output_field=CharField(),
    )


def alert_status_q(*, status: str, now: datetime) -> Q:
    """The alerts a person sees in `status` (definitions.STATUS_LABELS, or "open")."""
    if status == "open":
        return alert_open_q(now=now)
    if status == Alert.State.RESOLVED:
        return _resolved_q()
    if status == STATUS_SNOOZED:
        return _snoozed_q(now)
    return alert_open_q(now=now) & Q(state=status)


def _with_workflow(alerts: QuerySet[Alert], *, now: datetime) -> QuerySet[Alert]:
    notes = Prefetch("notes", queryset=AlertNote.objects.select_related("author"))
    return (alerts.annotate(status=alert_status_expression(now=now))
            .select_related("patient", "acknowledged_by", "assigned_to", "resolution_by")
            # the assign form offers the patient's care team
            .prefetch_related(notes, Prefetch("patient__clinicians", queryset=clinician_list_assignable())))


def alert_list_for_patient(*, patient: Patient, now: datetime) -> QuerySet[Alert]:
    return _with_workflow(Alert.objects.filter(patient=patient), now=now)


def alert_get_for_patient(*, patient: Patient, alert_id: int) -> Alert:
    return Alert.objects.filter(patient=patient).get(pk=alert_id)


def alert_counts_unresolved(*, patient_ids: list, now: datetime) -> QuerySet:
    """Per patient: `open` (not resolved, not snoozed) and `snoozed` alert counts."""
    return (
        Alert.objects.filter(patient_id__in=patient_ids)
        .values("patient_id")
        .annotate(open=Count("id", filter=alert_open_q(now=now)), snoozed=Count("id", filter=_snoozed_q(now)))
    )


@dataclass(frozen=True)
class InboxFilter:
    """The inbox's choice: a status (definitions.STATUS_LABELS, "open", or "" for every alert) and an
    assignee ("" anyone, "me", "none" nobody, else a username)."""

    status: str = "open"
    assignee: str = ""


def alert_inbox_for(*, user: AbstractBaseUser, now: datetime, filters: InboxFilter = InboxFilter()) -> QuerySet[Alert]:
    """The alerts of the user's active patients in the filter's status and assignee: new first, then
    the most severe, then the newest (resolved ones: the most recently resolved first)."""
    severity = Case(*(When(kind=kind, then=Value(level)) for kind, level in Alert.SEVERITY.items()),
                    default=Value(0), output_field=IntegerField())
    alerts = Alert.objects.filter(patient__in=patient_list_visible_to(user=user).filter(is_active=True))
    if filters.status:
        alerts = alerts.filter(alert_status_q(status=filters.status, now=now))
    if filters.assignee == "me":
        alerts = alerts.filter(assigned_to=user)
    elif filters.assignee == "none":
        alerts = alerts.filter(assigned_to__isnull=True)
    elif filters.assignee:
        alerts = alerts.filter(assigned_to__username=filters.assignee)
    order = (["-state_changed_at"] if filters.status == Alert.State.RESOLVED
             else [F("status_rank").asc(), "-severity_rank", "-raised_at"])
    return (
        _with_workflow(alerts, now=now)
        .annotate(severity_rank=severity, status_rank=_status_rank())
        .order_by(*order, "-id")
    )


def _status_rank() -> Case:
    # new before in triage before snoozed before resolved
    ranks = {Alert.State.NEW.value: 0, Alert.State.ACKNOWLEDGED.value: 1, Alert.State.ASSIGNED.value: 1,
             STATUS_SNOOZED: 2, Alert.State.RESOLVED.value: 3}
    return Case(*(When(status=status, then=Value(rank)) for status, rank in ranks.items()),
                default=Value(4), output_field=IntegerField())


def alert_inbox_assignees(*, user: AbstractBaseUser) -> QuerySet:
    """The accounts the inbox can filter by: the active clinicians of the user's patients."""
    return clinician_list_assignable().filter(
        patients__in=patient_list_visible_to(user=user).filter(is_active=True)).distinct()


def alert_attention_count(*, user: AbstractBaseUser) -> int:
    """The header badge: open alerts of the user's active patients that are new or assigned to them."""
    return Alert.objects.filter(
        alert_open_q(now=timezone.now()), Q(state=Alert.State.NEW) | Q(assigned_to=user),
        patient__in=patient_list_visible_to(user=user).filter(is_active=True),
    ).count()
