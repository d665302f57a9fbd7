from django.contrib import admin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only for everyone, superusers included: an audit trail that can be edited proves nothing."""

    list_display = ["at", "actor_username", "action", "patient_reference", "ip_address"]
    list_filter = ["action", "at"]
    search_fields = ["actor_username", "patient_reference", "ip_address"]
    date_hierarchy = "at"
    readonly_fields = ["at", "actor", "actor_username", "action", "patient", "patient_reference", "ip_address", "detail"]
    list_select_related = ["actor"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
