"""Reads for devices."""
from datetime import datetime

from django.db.models import QuerySet

from backend.patients.models import Patient

from .models import Device, EnrollmentCode


def device_list_for_patient(*, patient: Patient) -> QuerySet[Device]:
    """The patient's devices, live ones first, newest first."""
    return Device.objects.filter(patient=patient).order_by("revoked_at", "-enrolled_at")


def enrollment_code_pending(*, patient: Patient, now: datetime) -> EnrollmentCode | None:
    """The patient's code that can still enroll a phone (at most one: issuing cancels the others)."""
    return (EnrollmentCode.objects.select_related("issued_by")
            .filter(patient=patient, used_at__isnull=True, cancelled_at__isnull=True, expires_at__gt=now)
            .order_by("-issued_at").first())
