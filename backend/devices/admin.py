from django.contrib import admin

from backend.audit.doors import admin_context

from .models import Device, EnrollmentCode
from .services import device_revoke


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    # The token (and its lookup id and digest) are never shown; support finds a device by id or label.
    list_display = ["label", "patient", "id", "enrolled_at", "last_seen", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter), "enrolled_at"]
    search_fields = ["=id", "label", "patient__reference"]
    date_hierarchy = "enrolled_at"
    list_select_related = ["patient"]
    readonly_fields = ["id", "patient", "enrolled_at", "last_seen", "revoked_at"]
    exclude = ["token_digest", "token_lookup_id"]

    actions = ["revoke"]

    def has_add_permission(self, request):
        return False  # devices are created by enrolling with a code, which issues the token once

    def has_delete_permission(self, request, obj=None):
        return False  # revoke instead: the device, its uploads and the audit trail stay linked

    @admin.action(description="Revoke selected devices")
    def revoke(self, request, queryset):
        for device in queryset.select_related("patient"):
            device_revoke(device=device, actor=request.user, context=admin_context(request))
        self.message_user(request, f"Revoked {queryset.count()} device(s).")


@admin.register(EnrollmentCode)
class EnrollmentCodeAdmin(admin.ModelAdmin):
    list_display = ["patient", "issued_by", "issued_at", "expires_at", "used_at", "device"]
    list_filter = [("used_at", admin.EmptyFieldListFilter), "issued_at"]
    search_fields = ["patient__reference", "issued_by__username"]
    date_hierarchy = "issued_at"
    list_select_related = ["patient", "issued_by", "device"]
    readonly_fields = ["patient", "issued_by", "issued_at", "expires_at", "used_at", "device"]
    exclude = ["code_digest"]

    def has_add_permission(self, request):
        return False  # codes are issued from the patient page, so the clear code can be shown once

    def has_delete_permission(self, request, obj=None):
        return False  # an issued code is part of the record of who could enroll a device
