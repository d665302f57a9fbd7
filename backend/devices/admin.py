from django.contrib import admin

from .models import Device, EnrollmentCode
from .services import device_revoke


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["label", "patient", "token_lookup_id", "enrolled_at", "last_seen", "revoked_at"]
    list_filter = ["revoked_at"]
    search_fields = ["label", "token_lookup_id", "patient__reference"]
    readonly_fields = ["id", "token_lookup_id", "enrolled_at", "last_seen", "revoked_at"]
    exclude = ["token_digest"]
    actions = ["revoke"]

    @admin.action(description="Revoke selected devices")
    def revoke(self, request, queryset):
        for device in queryset:
            device_revoke(device=device)
        self.message_user(request, f"Revoked {queryset.count()} device(s).")


@admin.register(EnrollmentCode)
class EnrollmentCodeAdmin(admin.ModelAdmin):
    list_display = ["patient", "issued_by", "issued_at", "expires_at", "used_at"]
    readonly_fields = ["patient", "issued_by", "issued_at", "expires_at", "used_at", "device"]
    exclude = ["code_digest"]

    def has_add_permission(self, request):
        return False  # codes are issued from the patient page, so the clear code can be shown once
