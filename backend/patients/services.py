"""Writes for patients."""
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.core.errors import ApplicationError

from .models import Patient


# Says nothing about whose patient holds the reference: another team's patients stay invisible.
REFERENCE_UNAVAILABLE = ("This reference cannot be used for a new patient. References are unique in the hospital; "
                         "if this patient should be in your list, ask an administrator to add you to the care team.")


@transaction.atomic
def patient_create(
    *,
    reference: str,
    clinicians: Iterable[AbstractBaseUser] = (),
    display_name: str = "",
    timezone_name: str = "UTC",
    consent_recorded_by: AbstractBaseUser | None = None,
) -> Patient:
    """Raises ApplicationError `reference_unavailable` (409) when the reference is taken, also when
    another request took it a moment ago (the unique constraint decides, not a check before it)."""
    patient = Patient(reference=reference, display_name=display_name, timezone=timezone_name)
    patient.full_clean(validate_unique=False)
    try:
        with transaction.atomic():  # a savepoint: the caller's transaction survives the refusal
            patient.save()
    except IntegrityError:
        raise ApplicationError(REFERENCE_UNAVAILABLE, code="reference_unavailable", status_code=409) from None
    patient.clinicians.set(list(clinicians))
    if consent_recorded_by is not None:
        patient_consent_record(patient=patient, recorded_by=consent_recorded_by)
    return patient


def patient_consent_record(*, patient: Patient, recorded_by: AbstractBaseUser | None) -> Patient:
    """Record that the patient consented to camera-based monitoring (who recorded it, and when)."""
    patient.consent_recorded_at = timezone.now()
    patient.consent_recorded_by = recorded_by
    patient.save(update_fields=["consent_recorded_at", "consent_recorded_by"])
    return patient


def patient_consent_withdraw(*, patient: Patient) -> Patient:
    """Consent withdrawn: uploads are refused from now on (existing records are kept)."""
    patient.consent_recorded_at = None
    patient.consent_recorded_by = None
    patient.save(update_fields=["consent_recorded_at", "consent_recorded_by"])
    return patient
