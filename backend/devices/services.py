"""Writes for devices: issuing enrollment codes, enrolling, authenticating, revoking."""
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from backend.audit.models import AuditAction, AuditChannel
from backend.audit.services import AuditContext, audit_record
from backend.core.errors import ApplicationError
from backend.patients.models import Patient
from backend.patients.services import patient_lock

from . import tokens
from .models import Device, EnrollmentCode
from .selectors import device_for_lookup_id


@transaction.atomic
def enrollment_code_issue(
    *,
    patient: Patient,
    actor: AbstractBaseUser | None,
    ttl: timedelta | None = None,
    context: AuditContext | None = None,
) -> tuple[EnrollmentCode, str]:
    """Create a one-time code for the patient. Returns the row and the code (shown once, never stored).

    One code is valid at a time: the patient's earlier unused codes are cancelled (their ids are in
    the audit row; enrolling with one answers `enrollment_code_cancelled`). Refused for a deactivated
    patient (409 `patient_inactive`: their devices could not enroll anyway) and for a patient without
    recorded consent (403 `consent_missing`: the phone would film someone who has not agreed, and
    could not upload; consent is recorded first, on the same page)."""
    ttl = ttl if ttl is not None else settings.MOODWATCH["ENROLLMENT_CODE_TTL"]
    if ttl <= timedelta(0):
        raise ApplicationError("An enrollment code must live for a positive time.", code="ttl_invalid")
    # One issuer at a time per patient (two at once would both leave a valid code), and consent and
    # activity read under that lock.
    patient_lock(patient_id=patient.pk, exclusive=True)
    patient.refresh_from_db(fields=["is_active", "consent_recorded_at"])
    if not patient.is_active:
        raise ApplicationError("This patient is deactivated; reactivate them first.", code="patient_inactive",
                               status_code=409)
    if not patient.has_consent:
        raise ApplicationError(
            "No consent to camera-based monitoring is recorded for this patient; record it before enrolling "
            "a phone.", code="consent_missing", status_code=403,
        )
    now = timezone.now()
    earlier = EnrollmentCode.objects.filter(patient=patient, used_at__isnull=True, cancelled_at__isnull=True,
                                            expires_at__gt=now)
    cancelled = sorted(earlier.values_list("pk", flat=True))
    EnrollmentCode.objects.filter(pk__in=cancelled).update(cancelled_at=now)
    code = tokens.enrollment_code_generate()
    row = EnrollmentCode.objects.create(
        patient=patient,
        code_digest=tokens.enrollment_code_digest(code),
        issued_by=actor if actor is not None and actor.is_authenticated else None,
        expires_at=now + ttl,
    )
    audit_record(action=AuditAction.ENROLLMENT_CODE_ISSUE, actor=actor, patient=patient, context=context,
                 detail={"enrollment_code_id": row.pk, "expires_at": row.expires_at.isoformat(),
                         "cancelled_enrollment_code_ids": cancelled})
    return row, code


@transaction.atomic
def device_enroll(*, code: str, label: str = "", context: AuditContext | None = None) -> tuple[Device, str]:
    """Consume an enrollment code and create a device. Returns the device and its bearer token."""
    row = (
        EnrollmentCode.objects.select_for_update()
        .select_related("patient")
        .filter(code_digest=tokens.enrollment_code_digest(code))
        .first()
    )
    if row is None:
        raise ApplicationError("Unknown enrollment code.", code="enrollment_code_invalid")
    if row.used_at is not None:
        raise ApplicationError("This enrollment code was already used.", code="enrollment_code_used")
    if row.cancelled_at is not None:
        raise ApplicationError("A newer enrollment code replaced this one; enter the latest code.",
                               code="enrollment_code_cancelled")
    if row.expires_at <= timezone.now():
        raise ApplicationError("This enrollment code has expired.", code="enrollment_code_expired")
    if not row.patient.is_active:
        raise ApplicationError("This patient is not active.", code="patient_inactive")
    lookup_id, token = tokens.device_token_generate()
    device = Device.objects.create(
        patient=row.patient,
        label=label,
        token_lookup_id=lookup_id,
        token_digest=tokens.device_token_digest(token),
        last_seen=timezone.now(),
    )
    row.used_at = timezone.now()
    row.device = device
    row.save(update_fields=["used_at", "device"])
    audit_record(action=AuditAction.DEVICE_ENROLL, actor=None, patient=row.patient,
                 context=context or AuditContext(channel=AuditChannel.DEVICE),
                 detail={"device_id": str(device.pk), "label": label, "enrollment_code_id": row.pk})
    return device, token


def device_authenticate(*, token: str) -> Device:
    """Return the live device for a bearer token, refreshing `last_seen` at most once a minute."""
    lookup_id = tokens.device_token_lookup_id(token)
    device = None
    if lookup_id is not None:
        device = device_for_lookup_id(lookup_id=lookup_id)  # one query, its SQL built once per process
    if device is None or not tokens.digests_match(device.token_digest, tokens.device_token_digest(token)):
        raise ApplicationError("Unknown device token.", code="device_token_invalid", status_code=401)
    if device.is_revoked:
        raise ApplicationError("This device was revoked; enroll it again.", code="device_revoked", status_code=401)
    now = timezone.now()
    resolution = settings.MOODWATCH["DEVICE_LAST_SEEN_RESOLUTION"]
    if device.last_seen is None or now - device.last_seen >= resolution:
        Device.objects.filter(pk=device.pk).update(last_seen=now)
        device.last_seen = now
    return device


@transaction.atomic
def device_revoke(*, device: Device, actor: AbstractBaseUser | None, context: AuditContext | None = None) -> Device:
    """The device can no longer upload. Revoking a revoked device changes nothing and is not audited again."""
    revoked = Device.objects.filter(pk=device.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    device.refresh_from_db(fields=["revoked_at"])
    if revoked:
        audit_record(action=AuditAction.DEVICE_REVOKE, actor=actor, patient=device.patient, context=context,
                     detail={"device_id": str(device.pk), "label": device.label})
    return device
