"""Writes for patients. Each service records its own audit event."""
from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection, transaction
from django.utils import timezone

from backend.audit.models import AuditAction
from backend.audit.services import AuditContext, audit_record
from backend.core.errors import ApplicationError

from .models import ClinicianPreferences, InferenceMode, Patient
from .references import reference_key, reference_normalize

# Only ever about the new patient's own care team: a reference held by patients nobody on the team
# can see is free for this team (references are unique per clinician, not hospital-wide), so a
# create never tells a clinician that another team's reference exists.
REFERENCE_UNAVAILABLE = ("A patient of this care team already has this reference (compared without regard to "
                         "case, spaces or invisible characters). Open that patient, or choose another reference.")


@transaction.atomic
def patient_create(
    *,
    actor: AbstractBaseUser | None,
    reference: str,
    clinicians: Iterable[AbstractBaseUser] = (),
    display_name: str = "",
    timezone_name: str = "UTC",
    consent: bool = False,
    inference_mode: str = InferenceMode.ON_DEVICE,
    context: AuditContext | None = None,
) -> Patient:
    """A patient assigned to `clinicians`, with consent recorded by `actor` when `consent`, whose
    phone runs the mood model (`inference_mode` on_device, the default) or uploads frames (`frames`).

    The reference is stored normalised (references.reference_normalize). Raises ApplicationError
    `reference_unavailable` (409) when a patient of one of `clinicians` (or, with none, an unassigned
    patient) has the same reference_key; concurrent creates of one key are serialised by a lock."""
    reference = reference_normalize(reference)
    key = reference_key(reference)
    team = list({c.pk: c for c in clinicians}.values())
    patient = Patient(reference=reference, reference_key=key, display_name=display_name, timezone=timezone_name,
                      inference_mode=inference_mode)
    patient.full_clean(validate_unique=False)
    _reference_lock(key)
    holders = Patient.objects.filter(reference_key=key)
    holders = holders.filter(clinicians__in=team) if team else holders.filter(clinicians=None)
    if holders.exists():
        raise ApplicationError(REFERENCE_UNAVAILABLE, code="reference_unavailable", status_code=409)
    patient.save()
    patient.clinicians.set(team)
    audit_record(action=AuditAction.PATIENT_CREATE, actor=actor, patient=patient, context=context,
                 detail={"timezone": timezone_name, "clinicians": sorted(c.get_username() for c in team),
                         "inference_mode": str(inference_mode)})
    if consent:
        patient_consent_record(patient=patient, actor=actor, context=context)
    return patient


def _reference_lock(key: str) -> None:
    """Until the transaction ends, no other create of this reference key runs its check (PostgreSQL;
    SQLite runs one write transaction at a time anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ["patient-reference:" + key])


@transaction.atomic
def patient_consent_record(
    *, patient: Patient, actor: AbstractBaseUser | None, context: AuditContext | None = None
) -> Patient:
    """Record that the patient consented to camera-based monitoring (who recorded it, and when)."""
    patient.consent_recorded_at = timezone.now()
    patient.consent_recorded_by = actor if actor is not None and actor.is_authenticated else None
    patient.save(update_fields=["consent_recorded_at", "consent_recorded_by"])
    audit_record(action=AuditAction.CONSENT_RECORD, actor=actor, patient=patient, context=context)
    return patient


@transaction.atomic
def patient_consent_withdraw(
    *, patient: Patient, actor: AbstractBaseUser | None, context: AuditContext | None = None
) -> Patient:
    """Consent withdrawn: uploads are refused from now on (existing records are kept)."""
    patient.consent_recorded_at = None
    patient.consent_recorded_by = None
    patient.save(update_fields=["consent_recorded_at", "consent_recorded_by"])
    audit_record(action=AuditAction.CONSENT_WITHDRAW, actor=actor, patient=patient, context=context)
    return patient


@transaction.atomic
def patient_active_set(
    *, patient: Patient, active: bool, actor: AbstractBaseUser | None, context: AuditContext | None = None
) -> Patient:
    """A deactivated patient's devices can no longer upload or enroll; records are kept."""
    patient.is_active = active
    patient.save(update_fields=["is_active"])
    action = AuditAction.PATIENT_REACTIVATE if active else AuditAction.PATIENT_DEACTIVATE
    audit_record(action=action, actor=actor, patient=patient, context=context)
    return patient


# A keyword not passed to patient_device_settings_set: that setting is left as it is.
UNCHANGED = object()


def patient_inference_mode_set(
    *, patient: Patient, inference_mode: str, actor: AbstractBaseUser | None, context: AuditContext | None = None
) -> Patient:
    """Switch where the patient's mood model runs: `on_device` (the phone sends mood records only) or
    `frames` (the phone uploads frames). patient_device_settings_set with the mode alone."""
    return patient_device_settings_set(patient=patient, inference_mode=inference_mode, actor=actor, context=context)


@transaction.atomic
def patient_device_settings_set(
    *,
    patient: Patient,
    actor: AbstractBaseUser | None,
    context: AuditContext | None = None,
    inference_mode: str | object = UNCHANGED,
    sampling_seconds: int | None | object = UNCHANGED,
) -> Patient:
    """Change what the patient's phone does: the inference mode (`on_device` or `frames`) and the
    sampling rate (`sampling_seconds`, whole seconds within the bounds, or None for the clinic's
    default). Every door (dashboard, clinician API, admin) comes here, and every change is audited
    (patient.update, with the values before and after); values the patient already has change and
    record nothing. Raises ApplicationError `invalid_inference_mode` or `invalid_sampling_seconds`
    (400) for another value, before anything is changed.

    The row is taken FOR UPDATE: an upload in flight holds it shared (patient_lock) and checks the
    mode under it, so it either committed under the old mode or waits and sees the new one."""
    wanted = {name: value for name, value in
              (("inference_mode", inference_mode), ("sampling_seconds", sampling_seconds)) if value is not UNCHANGED}
    if "inference_mode" in wanted:
        _inference_mode_check(inference_mode)
    if "sampling_seconds" in wanted:
        _sampling_seconds_check(sampling_seconds)
    before = Patient.objects.select_for_update().filter(pk=patient.pk).values(*wanted).get()
    changed = {name: value for name, value in wanted.items() if before[name] != value}
    for name, value in wanted.items():
        setattr(patient, name, value)
    if not changed:
        return patient
    patient.save(update_fields=list(changed))
    audit_record(action=AuditAction.PATIENT_UPDATE, actor=actor, patient=patient, context=context,
                 detail={"fields": changed, "before": {name: before[name] for name in changed}})
    return patient


def _inference_mode_check(value) -> None:
    if value not in InferenceMode.values:
        raise ApplicationError(
            f"{str(value)[:40]!r} is not an inference mode; use one of {', '.join(InferenceMode.values)}.",
            code="invalid_inference_mode")


def _sampling_seconds_check(value) -> None:
    """None (the clinic's default) or a whole number of seconds within the bounds; a bool is not one."""
    low, high = settings.MOODWATCH["MIN_SAMPLING_SECONDS"], settings.MOODWATCH["MAX_SAMPLING_SECONDS"]
    if value is None or (type(value) is int and low <= value <= high):
        return
    raise ApplicationError(
        f"{str(value)[:40]!r} is not a sampling rate; use a whole number of seconds from {low} to {high}, "
        "or none for the clinic's default.", code="invalid_sampling_seconds")


def patient_lock_mode(*, patient_id) -> str | None:
    """patient_lock (shared) and the patient's inference mode, in one query; None when there is no
    such patient. An upload checks the mode under the lock that patient_inference_mode_set waits for."""
    if not connection.in_atomic_block:
        raise RuntimeError("patient_lock_mode outside a transaction would release the lock at once")
    if connection.vendor == "postgresql":
        q = connection.ops.quote_name
        table, pk = q(Patient._meta.db_table), q(Patient._meta.pk.column)
        column = q(Patient._meta.get_field("inference_mode").column)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {column} FROM {table} WHERE {pk} = %s FOR SHARE", [patient_id])
            row = cursor.fetchone()
        return row[0] if row else None
    return Patient.objects.filter(pk=patient_id).values_list("inference_mode", flat=True).first()


def patient_lock(*, patient_id, exclusive: bool = False) -> bool:
    """Lock the patient's row until the current transaction ends; False when there is no such patient.

    The one rule that keeps a deletion of the patient's data whole: `patient_data_delete` (in
    backend.workflows.services) takes the row exclusively (FOR UPDATE) before it reads anything;
    every writer of rows derived from the
    patient's batches (an upload storing a batch, a batch landing, the fold after it, an alert
    evaluation) takes it shared (FOR SHARE) first, so writers of one patient never wait for each
    other, only for a deletion. A writer that waited for a deletion then finds the batch gone and
    stores nothing. Lock the patient before any of their batches, always: one order, no deadlock.
    On SQLite (the demo) a writer already holds the whole database; there is nothing to add."""
    if not connection.in_atomic_block:
        raise RuntimeError("patient_lock outside a transaction would release the lock at once")
    if connection.vendor != "postgresql":
        return Patient.objects.filter(pk=patient_id).exists()
    table, pk = connection.ops.quote_name(Patient._meta.db_table), connection.ops.quote_name(Patient._meta.pk.column)
    mode = "UPDATE" if exclusive else "SHARE"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT 1 FROM {table} WHERE {pk} = %s FOR {mode}", [patient_id])
        return cursor.fetchone() is not None


@transaction.atomic
def patient_update(
    *,
    patient: Patient,
    actor: AbstractBaseUser | None,
    fields: list[str],
    clinicians: dict | None = None,
    context: AuditContext | None = None,
) -> Patient:
    """Save the changed `fields` of `patient` (an operator's edit in the admin) and audit them with
    their new values; `clinicians` ({"before", "after"} usernames) records a care-team change."""
    patient.full_clean(validate_unique=False)
    if fields:
        patient.save(update_fields=fields)
    detail = {"fields": {name: str(getattr(patient, name)) for name in fields}}
    if clinicians is not None:
        detail["clinicians"] = clinicians
    if fields or clinicians is not None:
        audit_record(action=AuditAction.PATIENT_UPDATE, actor=actor, patient=patient, context=context, detail=detail)
    return patient


@transaction.atomic
def clinician_timezone_set(
    *, user: AbstractBaseUser, timezone_name: str, context: AuditContext | None = None
) -> ClinicianPreferences:
    """The clinician's own time zone (an IANA name; ValidationError otherwise), audited with the zone
    before (None: never set) and after. Setting the zone already set changes and records nothing."""
    row = ClinicianPreferences.objects.select_for_update().filter(user=user).first()
    before = row.timezone if row is not None else None  # None: never set, settings.TIME_ZONE applied
    if before == timezone_name:
        return row
    row = row or ClinicianPreferences(user=user)
    row.timezone = timezone_name
    row.full_clean()
    row.save()
    audit_record(action=AuditAction.CLINICIAN_TIMEZONE, actor=user, context=context,
                 detail={"before": before, "after": timezone_name})
    return row
