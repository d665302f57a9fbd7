"""How the admin's actions and views reach the audit log."""
from django.contrib import admin
from django.http import HttpRequest

from .models import AuditAction, AuditChannel, AuditEvent
from .services import AuditContext, audit_record


def admin_context(request: HttpRequest) -> AuditContext:
    return AuditContext.from_request(request, channel=AuditChannel.ADMIN)


class AuditedReadAdminMixin(admin.ModelAdmin):
    """For admin pages that show patients' data: each list page and each row opened leaves an
    audit row (`admin.view`), as the dashboard and the API do for their reads."""

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        if response.status_code == 200:
            audit_record(action=AuditAction.ADMIN_VIEW, actor=request.user, context=admin_context(request),
                         detail={"model": self.model._meta.label_lower, "query": request.GET.urlencode()[:500]})
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if response.status_code == 200:
            obj = response.context_data["original"]  # the row the page shows, as the admin fetched it
            patient_model = AuditEvent._meta.get_field("patient").related_model  # audit imports no patients
            audit_record(action=AuditAction.ADMIN_VIEW, actor=request.user, context=admin_context(request),
                         patient=obj if isinstance(obj, patient_model) else getattr(obj, "patient", None),
                         detail={"model": self.model._meta.label_lower, "object": str(object_id)[:64]})
        return response
