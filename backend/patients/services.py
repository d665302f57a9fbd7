"""Writes for patients."""
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from .models import Patient


@transaction.atomic
def patient_create(
    *,
    reference: str,
    clinicians: Iterable[AbstractBaseUser] = (),
    display_name: str = "",
    timezone_name: str = "UTC",
    consent_recorded_by: AbstractBaseUser | None = None,
) -> Patient:
    patient = Patient(reference=reference, display_name=display_name, timezone=timezone_name)
    patient.full_clean()
    patient.save()
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
