"""Reads of alerts and of the thresholds in force for a patient."""
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When

from backend.patients.models import Patient
from backend.patients.selectors import patient_list_visible_to

from .definitions import THRESHOLD_NAMES, Thresholds
from .models import Alert, AlertThresholds

F_ACK_NULLS_FIRST = F("acknowledged_at").desc(nulls_first=True)


def alert_thresholds_default() -> Thresholds:
    defaults = settings.MOODWATCH_ALERTS
    return Thresholds(**{name: defaults[name.upper()] for name in THRESHOLD_NAMES})


def alert_thresholds_override(*, patient: Patient) -> AlertThresholds | None:
    """The patient's own thresholds row, if any (a None field in it means the default)."""
    return AlertThresholds.objects.filter(patient=patient).first()


def alert_thresholds_for(*, patient: Patient) -> Thresholds:
    """The patient's overrides where set, the settings defaults elsewhere."""
    default = alert_thresholds_default()
    override = alert_thresholds_override(patient=patient)
    if override is None:
        return default
    return Thresholds(**{
        name: getattr(override, name) if getattr(override, name) is not None else value
        for name, value in default.as_dict().items()
    })


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
