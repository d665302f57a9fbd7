"""Reads of alerts and of the thresholds in force for a patient."""
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db.models import QuerySet

from backend.patients.models import Patient

from .models import Alert, AlertThresholds


@dataclass(frozen=True)
class Thresholds:
    window_days: int
    negative_share: float
    min_records: int
    no_data_days: int

    def as_dict(self) -> dict:
        return asdict(self)


def alert_thresholds_default() -> Thresholds:
    defaults = settings.MOODWATCH_ALERTS
    return Thresholds(
        window_days=defaults["WINDOW_DAYS"],
        negative_share=defaults["NEGATIVE_SHARE"],
        min_records=defaults["MIN_RECORDS"],
        no_data_days=defaults["NO_DATA_DAYS"],
    )


def alert_thresholds_for(*, patient: Patient) -> Thresholds:
    """The patient's overrides where set, the settings defaults elsewhere."""
    default = alert_thresholds_default()
    override = AlertThresholds.objects.filter(patient=patient).first()
    if override is None:
        return default
    return Thresholds(**{
        name: getattr(override, name) if getattr(override, name) is not None else value
        for name, value in default.as_dict().items()
    })


def alert_list_for_patient(*, patient: Patient) -> QuerySet[Alert]:
    return Alert.objects.filter(patient=patient).select_related("acknowledged_by")


def alert_list_open(*, patient: Patient) -> QuerySet[Alert]:
    return alert_list_for_patient(patient=patient).filter(resolved_at__isnull=True)


def alert_get_for_patient(*, patient: Patient, alert_id: int) -> Alert:
    return alert_list_for_patient(patient=patient).get(pk=alert_id)
