"""Workflows that span apps: each calls one service per app that owns the data it touches.

- `patient_data_delete`: a patient's data deleted on request (moods, ingest, roll-ups, alerts);
- `batch_landing_follow`: what follows a batch landing (roll-ups, then alerts after the commit).
"""
import logging
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from backend.alerts.services import alerts_after_landing, alerts_delete
from backend.audit.models import AuditAction
from backend.audit.services import AuditContext, audit_record
from backend.core import metrics
from backend.core.errors import ApplicationError
from backend.ingest.models import FrameBatch
from backend.ingest.services import batches_delete, batches_lock
from backend.moods.models import RecordSource
from backend.moods.services import mood_records_delete, self_reports_delete
from backend.patients.models import Patient
from backend.patients.selectors import patient_data_deletions
from backend.patients.services import patient_lock
from backend.rollups.services import (
    capture_slots_add,
    rollup_batches_fold,
    rollup_fold_after_landing,
    slot_counts_delete,
)
from profiling.stages import stage

from .selectors import patient_data_counts

logger = logging.getLogger(__name__)

CONFIRMATION_USED = ("This confirmation was already used: the patient's data were deleted since it was given. "
                     "Nothing more was deleted. Start again to delete what was stored since.")


@dataclass(frozen=True)
class DeletionReport:
    records: int
    batches: int
    alerts: int
    self_reports: int = 0


@transaction.atomic
def patient_data_delete(
    *, patient: Patient, actor: AbstractBaseUser | None, context: AuditContext | None = None,
    deletions_seen: int | None = None,
) -> DeletionReport:
    """Delete, on the patient's request, every mood record, self-report and frame batch (with any frames left) and
    everything derived from them (rollup counts, alerts). The patient, devices and audit trail remain.

    Deletion wins over a batch landing at the same moment: with the patient locked (see
    `patients.services.patient_lock`) a landing has either committed, and is deleted here, or waits
    and then finds its batch gone. The batches are locked too, in id order, because the periodic
    roll-up refresh locks batches (not patients) before claiming them: it either finished, and its
    counts are deleted here, or skips the batches deleted here.

    `deletions_seen`, from a confirmation: how many deletions there had been when it was given. Any
    deletion since (this very confirmation replayed, or another) refuses it with `confirmation_used`
    (409): a confirmation deletes once, never data stored after it was given. Checked under the lock,
    so two submissions of one confirmation at the same moment delete once."""
    patient_lock(patient_id=patient.pk, exclusive=True)
    if deletions_seen is not None and patient_data_deletions(patient=patient) != deletions_seen:
        raise ApplicationError(CONFIRMATION_USED, code="confirmation_used", status_code=409)
    batches_lock(patient_id=patient.pk)
    counts = patient_data_counts(patient=patient)
    records, batches = counts["records"], counts["batches"]
    mood_records_delete(patient=patient)
    self_reports = self_reports_delete(patient=patient)
    batches_delete(patient_id=patient.pk)
    slot_counts_delete(patient_id=patient.pk)
    alerts = alerts_delete(patient_id=patient.pk)
    report = DeletionReport(records=records, batches=batches, alerts=alerts, self_reports=self_reports)
    audit_record(action=AuditAction.DATA_DELETE, actor=actor, patient=patient, context=context,
                 detail={"records": records, "batches": batches, "alerts": alerts, "self_reports": self_reports})
    return report


def batch_landing_follow(sender, *, batch: FrameBatch, frames: list, settled: bool = False, **_kwargs) -> None:
    """Receiver of ingest's `batch_landing`, inside the landing transaction: count the batch's frames
    by capture time now (each batch lands once, so each frame is counted once); fold the batch into
    the dashboard's rollup now if it is `settled` (its row already says done: a mood batch, whose
    roll-up then commits with its records, at no extra transaction), else once the transaction
    commits; after the commit, count and log the landing (backend.core.metrics: every batch, frames
    from the workers or mood records from a device, lands here), then have the patient's alert rules
    evaluated (a failure there must not undo or fail the landing: robust)."""
    capture_slots_add(patient_id=batch.patient_id, frames=frames)
    patient_pk, batch_pk = batch.patient_id, batch.pk
    if settled:  # the landing holds the patient's lock (patients.services.patient_lock) already
        rollup_batches_fold(batch_ids=[batch_pk])

    def counted() -> None:
        # Read at commit: the landing service sets the batch's status and record count after announcing it.
        source = RecordSource.DEVICE if batch.kind == FrameBatch.Kind.MOODS else RecordSource.SERVER
        latency = (timezone.now() - batch.received_at).total_seconds() if batch.received_at else None
        metrics.batch_landed(status=batch.status, records=batch.record_count, source=source, latency_seconds=latency)
        logger.info("batch %s landed %s: %d records (%s)", batch_pk, batch.status, batch.record_count, source,
                    extra={"batch": batch_pk, "status": batch.status, "records": batch.record_count})

    def fold() -> None:
        with stage("roll-up upkeep"):
            rollup_fold_after_landing(batch_id=batch_pk, patient_id=patient_pk)

    def alerts() -> None:
        with stage("alert evaluation"):
            alerts_after_landing(patient_pk=patient_pk)

    transaction.on_commit(counted, robust=True)
    if not settled:
        transaction.on_commit(fold)
    transaction.on_commit(alerts, robust=True)
