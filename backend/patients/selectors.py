"""Reads for patients. Clinicians see only the patients assigned to them; superusers see all."""
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from .models import Patient


def patient_list_visible_to(*, user: AbstractBaseUser) -> QuerySet[Patient]:
    if not user.is_authenticated:
        return Patient.objects.none()
    if user.is_superuser:
        return Patient.objects.all()
    return Patient.objects.filter(clinicians=user)


def patient_get_by_reference(*, reference: str) -> Patient:
    return Patient.objects.get(reference=reference)
