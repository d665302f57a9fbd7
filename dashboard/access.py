"""Which patient a request may see: only the clinician's own (superusers: all). Anything else is a 404."""
import uuid

from django.http import Http404, HttpRequest
from django.shortcuts import get_object_or_404

from backend.audit.models import AuditChannel
from backend.audit.services import AuditContext
from backend.patients.models import Patient
from backend.patients.selectors import patient_list_visible_to


def patient_for_request(request: HttpRequest, patient_id) -> Patient:
    try:
        pk = uuid.UUID(str(patient_id))
    except ValueError:
        raise Http404("No such patient.")
    # 404, never 403: another clinician must not learn that the patient exists.
    return get_object_or_404(patient_list_visible_to(user=request.user), pk=pk)


def audit_context(request: HttpRequest) -> AuditContext:
    """How the dashboard's actions are described in the audit log."""
    return AuditContext.from_request(request, channel=AuditChannel.DASHBOARD)
