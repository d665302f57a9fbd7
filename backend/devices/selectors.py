"""Reads for devices."""
from django.db.models import QuerySet

from backend.patients.models import Patient

from .models import Device


def device_list_for_patient(*, patient: Patient) -> QuerySet[Device]:
    """The patient's devices, live ones first, newest first."""
    return Device.objects.filter(patient=patient).order_by("revoked_at", "-enrolled_at")
