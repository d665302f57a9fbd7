from django.contrib import admin, messages

from backend.audit.doors import admin_context
from backend.core.errors import ApplicationError
from backend.patients.admin import PatientAdmin

from .models import Device, EnrollmentCode
from .services import device_revoke, enrollment_code_issue


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
    list_display = ["patient", "issued_by", "issued_at", "expires_at", "used_at", "cancelled_at", "device"]
    list_filter = [("used_at", admin.EmptyFieldListFilter), ("cancelled_at", admin.EmptyFieldListFilter),
                   "issued_at"]
    search_fields = ["patient__reference", "issued_by__username"]
    date_hierarchy = "issued_at"
    list_select_related = ["patient", "issued_by", "device"]
    readonly_fields = ["patient", "issued_by", "issued_at", "expires_at", "used_at", "cancelled_at", "device"]
    exclude = ["code_digest"]

    def has_add_permission(self, request):
        return False  # codes are issued from the patient page, so the clear code can be shown once

    def has_delete_permission(self, request, obj=None):
        return False  # an issued code is part of the record of who could enroll a device


@admin.action(description="Issue a device enrollment code")
def issue_enrollment_code(modeladmin, request, queryset):
    for patient in queryset:
        try:
            row, code = enrollment_code_issue(patient=patient, actor=request.user, context=admin_context(request))
        except ApplicationError as error:
            modeladmin.message_user(request, f"{patient.reference}: {error.detail}", messages.ERROR)
            continue
        modeladmin.message_user(
            request, f"{patient.reference}: code {code} (expires {row.expires_at:%Y-%m-%d %H:%M} UTC; shown once)",
            messages.WARNING,
        )


# Enrollment codes are this app's: it adds its action to the patients' admin page, so the patients
# app (a layer below devices) imports nothing of devices.
PatientAdmin.actions = [*PatientAdmin.actions, issue_enrollment_code]
