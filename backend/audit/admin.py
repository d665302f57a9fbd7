from django.contrib import admin

from backend.core.admin import ReadOnlyModelAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyModelAdmin):
    """Read-only for everyone, superusers included: an audit trail that can be edited proves nothing."""

    list_display = ["at", "actor_username", "action", "patient_reference", "ip_address"]
    list_filter = ["action", "at"]
    search_fields = ["actor_username", "patient_reference", "ip_address"]
    date_hierarchy = "at"
    readonly_fields = [
        "at", "actor", "actor_username", "action", "patient", "patient_reference", "ip_address", "detail",
    ]
    list_select_related = ["actor"]
