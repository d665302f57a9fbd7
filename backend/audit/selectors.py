"""Reads of the audit log."""
from django.db.models import QuerySet

from backend.patients.models import Patient

from .models import AuditEvent


def audit_event_list_for_patient(*, patient: Patient) -> QuerySet[AuditEvent]:
    return AuditEvent.objects.filter(patient=patient).select_related("actor")
