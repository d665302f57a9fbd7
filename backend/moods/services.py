"""Writes of mood records and self-reports. Records are written by the ingest service as a batch lands;
this module holds the other writes: self-reports from a device, and the deletions called by the
workflows layer (backend.workflows)."""
import uuid
from datetime import datetime

from django.db import IntegrityError, transaction

from backend.core.errors import ApplicationError
from backend.patients.models import Patient
from backend.patients.services import patient_lock

from .models import MoodRecord, SelfReport


def mood_records_delete(*, patient: Patient) -> int:
    """Delete every mood record of the patient in one DELETE (nothing references a record); how many."""
    deleted, _ = MoodRecord.objects.filter(patient=patient).delete()
    return deleted


def self_report_record(
    *, patient_id: uuid.UUID, device_id: uuid.UUID, report_id: uuid.UUID, reported_at: datetime, mood: str
) -> tuple[SelfReport, bool]:
    """Store a validated self-report of the device's patient. Returns (report, created).

    Idempotent on (device, report_id): the same id with the same time (the same instant, whatever its
    offset) and mood returns the stored report (created=False); with another time or mood it is a 409
    `report_id_conflict`. Not audited, as a frame batch is not: the row is the record of what the
    device sent (docs/security.md, the audit log covers people's reads and changes)."""
    existing = _self_report_find(device_id=device_id, report_id=report_id)
    if existing is None:
        try:
            with transaction.atomic():
                # A deletion of the patient's data in progress finishes first; this report is then new data.
                patient_lock(patient_id=patient_id)
                return SelfReport.objects.create(patient_id=patient_id, device_id=device_id, report_id=report_id,
                                                 reported_at=reported_at, mood=mood), True
        except IntegrityError:  # two copies of the same report raced; the other one committed first
            existing = _self_report_find(device_id=device_id, report_id=report_id)
            if existing is None:
                raise
    if existing.reported_at != reported_at or existing.mood != mood:
        raise ApplicationError(
            f"report_id {report_id} was already used for a different time or mood.",
            code="report_id_conflict", status_code=409,
        )
    return existing, False


def _self_report_find(*, device_id: uuid.UUID, report_id: uuid.UUID) -> SelfReport | None:
    return next(iter(SelfReport.objects.filter(device_id=device_id, report_id=report_id)[:1]), None)


def self_reports_delete(*, patient: Patient) -> int:
    """Delete every self-report of the patient in one DELETE; how many."""
    deleted, _ = SelfReport.objects.filter(patient=patient).delete()
    return deleted
