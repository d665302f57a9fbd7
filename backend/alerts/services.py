"""The alert rule and its periodic evaluation, and acknowledging an alert.

Rule (thresholds per patient, defaults in settings.MOODWATCH_ALERTS):
- negative mood: over the last `window_days`, at least `min_records` records and a negative share
  of at least `negative_share`;
- no data: no upload (frame batch) received for `no_data_days` (counted from consent when the
  patient never uploaded).
One open alert per patient and kind (a unique constraint): while the condition holds the alert is
refreshed; when it stops holding the alert is resolved, and a later breach raises a new one.
"""
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from backend.audit.models import AuditAction
from backend.audit.services import AuditContext, audit_record
from backend.core.errors import ApplicationError
from backend.ingest.models import FrameBatch
from backend.moods.models import Mood
from backend.moods.selectors import mood_record_list
from backend.patients.models import Patient

from .models import Alert, AlertThresholds
from .selectors import Thresholds, alert_thresholds_for

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    kind: str
    breached: bool
    values: dict


def negative_mood_check(*, patient: Patient, thresholds: Thresholds, now: datetime) -> Finding:
    start = now - timedelta(days=thresholds.window_days)
    counts = mood_record_list(patient=patient, start=start, end=now).order_by().aggregate(
        records=Count("id"), negative=Count("id", filter=Q(mood=Mood.NEGATIVE))
    )
    records = counts["records"]
    share = counts["negative"] / records if records else 0.0
    breached = records >= thresholds.min_records and share >= thresholds.negative_share
    return Finding(
        kind=Alert.Kind.NEGATIVE_MOOD,
        breached=breached,
        values={"window_start": start, "window_end": now, "records": records, "negative_share": share},
    )


def no_data_check(*, patient: Patient, thresholds: Thresholds, now: datetime) -> Finding:
    last_upload = FrameBatch.objects.filter(patient=patient).aggregate(last=Max("received_at"))["last"]
    since = last_upload or patient.consent_recorded_at
    breached = since is not None and now - since >= timedelta(days=thresholds.no_data_days)
    return Finding(kind=Alert.Kind.NO_DATA, breached=breached, values={"last_data_at": last_upload})


def _alert_raise_or_refresh(*, patient: Patient, finding: Finding, thresholds: Thresholds, now: datetime) -> bool:
    """Returns True when a new alert was raised."""
    updated = Alert.objects.filter(patient=patient, kind=finding.kind, resolved_at__isnull=True).update(
        evaluated_at=now, **finding.values
    )
    if updated:
        return False
    try:
        with transaction.atomic():
            Alert.objects.create(
                patient=patient, kind=finding.kind, raised_at=now, evaluated_at=now,
                thresholds=thresholds.as_dict(), **finding.values,
            )
    except IntegrityError:
        return False  # a concurrent evaluation raised it first
    return True


def alerts_evaluate_patient(*, patient: Patient, now: datetime | None = None) -> list[str]:
    """Evaluate both rules for one patient; returns the kinds newly raised."""
    now = now or timezone.now()
    thresholds = alert_thresholds_for(patient=patient)
    raised = []
    for check in (negative_mood_check, no_data_check):
        finding = check(patient=patient, thresholds=thresholds, now=now)
        if finding.breached:
            if _alert_raise_or_refresh(patient=patient, finding=finding, thresholds=thresholds, now=now):
                raised.append(finding.kind)
        else:
            Alert.objects.filter(patient=patient, kind=finding.kind, resolved_at__isnull=True).update(
                resolved_at=now, evaluated_at=now
            )
    return raised


@dataclass(frozen=True)
class EvaluationReport:
    patients: int
    raised: int


def alerts_evaluate(*, now: datetime | None = None) -> EvaluationReport:
    """Evaluate every active patient who consented to monitoring; patients without consent send no data."""
    now = now or timezone.now()
    patients = Patient.objects.filter(is_active=True, consent_recorded_at__isnull=False)
    raised = 0
    count = 0
    for patient in patients.iterator():
        raised += len(alerts_evaluate_patient(patient=patient, now=now))
        count += 1
    # Alerts of patients no longer monitored are closed, so they stop showing as needing attention.
    Alert.objects.filter(resolved_at__isnull=True).filter(
        Q(patient__is_active=False) | Q(patient__consent_recorded_at__isnull=True)
    ).update(resolved_at=now)
    logger.info("alerts evaluated for %d patients, %d raised", count, raised)
    return EvaluationReport(patients=count, raised=raised)


def alert_acknowledge(
    *, alert: Alert, actor: AbstractBaseUser, note: str, context: AuditContext | None = None
) -> Alert:
    note = note.strip()
    if not note:
        raise ApplicationError("Write a note saying what was done about this alert.", code="note_required")
    if alert.is_acknowledged:
        raise ApplicationError("This alert was already acknowledged.", code="already_acknowledged")
    with transaction.atomic():
        alert.acknowledged_at = timezone.now()
        alert.acknowledged_by = actor
        alert.acknowledgement_note = note
        alert.save(update_fields=["acknowledged_at", "acknowledged_by", "acknowledgement_note"])
        audit_record(
            action=AuditAction.ALERT_ACKNOWLEDGE, actor=actor, patient=alert.patient, context=context,
            detail={"alert_id": alert.pk, "kind": alert.kind, "note": note},
        )
    return alert


@transaction.atomic
def alert_thresholds_set(
    *, patient: Patient, actor: AbstractBaseUser, values: dict, context: AuditContext | None = None
) -> AlertThresholds:
    """Store the patient's overrides (None = the settings default) and audit the change."""
    row, _ = AlertThresholds.objects.get_or_create(patient=patient)
    before = {name: getattr(row, name) for name in values}
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_by = actor
    row.full_clean()
    row.save()
    audit_record(action=AuditAction.ALERT_THRESHOLDS_CHANGE, actor=actor, patient=patient, context=context,
                 detail={"before": before, "after": values})
    return row
