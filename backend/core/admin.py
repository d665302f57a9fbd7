"""Admin building blocks shared by the domain apps."""
from django.contrib import admin


class ReadOnlyModelAdmin(admin.ModelAdmin):
    """Viewable in the admin, never added, changed or deleted there (superusers included): for rows
    that only the platform itself writes (uploads, model output, the audit trail)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
