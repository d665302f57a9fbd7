"""Clinician actions on a patient: each calls the core service and writes the audit entry with it."""
from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest

from backend.alerts.models import Alert
from backend.audit.models import AuditAction
from backend.audit.services import audit_record
from backend.core.errors import ApplicationError
from backend.devices.models import Device, EnrollmentCode
from backend.devices.services import device_revoke, enrollment_code_issue
from backend.ingest.models import FrameBatch
from backend.moods.models import MoodRecord
from backend.patients.models import Patient
from backend.patients.services import patient_consent_record, patient_consent_withdraw, patient_create

from backend.rollups.models import MoodSlotCount, UploadSlotCount


@transaction.atomic
def patient_register(
    *,
    user: AbstractBaseUser,
    reference: str,
    display_name: str,
    timezone_name: str,
    consent: bool,
    clinicians: Iterable[AbstractBaseUser] = (),
    request: HttpRequest | None = None,
) -> Patient:
    """Create a patient assigned to `user` (and any other clinicians), recording consent if given."""
    team = {user.pk: user, **{c.pk: c for c in clinicians}}
    patient = patient_create(
        reference=reference, display_name=display_name, timezone_name=timezone_name,
        clinicians=team.values(), consent_recorded_by=user if consent else None,
    )
    audit_record(action=AuditAction.PATIENT_CREATE, actor=user, patient=patient, request=request,
                 detail={"timezone": timezone_name, "clinicians": sorted(c.get_username() for c in team.values())})
    if consent:
        audit_record(action=AuditAction.CONSENT_RECORD, actor=user, patient=patient, request=request)
    return patient


@transaction.atomic
def patient_consent_set(*, patient: Patient, given: bool, user: AbstractBaseUser, request: HttpRequest | None = None) -> Patient:
    if given:
        patient_consent_record(patient=patient, recorded_by=user)
        audit_record(action=AuditAction.CONSENT_RECORD, actor=user, patient=patient, request=request)
    else:
        patient_consent_withdraw(patient=patient)
        audit_record(action=AuditAction.CONSENT_WITHDRAW, actor=user, patient=patient, request=request)
    return patient


@transaction.atomic
def patient_active_set(*, patient: Patient, active: bool, user: AbstractBaseUser, request: HttpRequest | None = None) -> Patient:
    """A deactivated patient's devices can no longer upload or enroll; records are kept."""
    patient.is_active = active
    patient.save(update_fields=["is_active"])
    action = AuditAction.PATIENT_REACTIVATE if active else AuditAction.PATIENT_DEACTIVATE
    audit_record(action=action, actor=user, patient=patient, request=request)
    return patient


@transaction.atomic
def patient_enrollment_code_issue(
    *, patient: Patient, user: AbstractBaseUser, request: HttpRequest | None = None
) -> tuple[EnrollmentCode, str]:
    if not patient.is_active:
        raise ApplicationError("This patient is deactivated; reactivate them first.", code="patient_inactive")
    row, code = enrollment_code_issue(patient=patient, issued_by=user)
    audit_record(action=AuditAction.ENROLLMENT_CODE_ISSUE, actor=user, patient=patient, request=request,
                 detail={"enrollment_code_id": row.pk, "expires_at": row.expires_at.isoformat()})
    return row, code


@transaction.atomic
def patient_device_revoke(*, device: Device, user: AbstractBaseUser, request: HttpRequest | None = None) -> Device:
    already = device.is_revoked
    device_revoke(device=device)
    if not already:
        audit_record(action=AuditAction.DEVICE_REVOKE, actor=user, patient=device.patient, request=request,
                     detail={"device_id": str(device.pk), "label": device.label})
    return device


@dataclass(frozen=True)
class DeletionReport:
    records: int
    batches: int
    alerts: int


@transaction.atomic
def patient_data_delete(*, patient: Patient, user: AbstractBaseUser, request: HttpRequest | None = None) -> DeletionReport:
    """Delete, on the patient's request, every mood record and frame batch (with any frames left) and
    everything derived from them (rollup counts, alerts). The patient, devices and audit trail remain."""
    records = MoodRecord.objects.filter(patient=patient).count()
    batches = FrameBatch.objects.filter(patient=patient).count()
    MoodRecord.objects.filter(patient=patient).delete()  # one DELETE: nothing references a record
    FrameBatch.objects.filter(patient=patient).delete()  # cascades to frames and rollup claims
    MoodSlotCount.objects.filter(patient=patient).delete()
    UploadSlotCount.objects.filter(patient=patient).delete()
    alerts, _ = Alert.objects.filter(patient=patient).delete()
    report = DeletionReport(records=records, batches=batches, alerts=alerts)
    audit_record(action=AuditAction.DATA_DELETE, actor=user, patient=patient, request=request,
                 detail={"records": records, "batches": batches, "alerts": alerts})
    return report
