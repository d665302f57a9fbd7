from django.contrib import admin, messages

from backend.devices.services import enrollment_code_issue

from .models import Patient
from .services import patient_consent_record, patient_consent_withdraw


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["reference", "display_name", "timezone", "is_active", "consent_recorded_at"]
    list_filter = ["is_active", "timezone"]
    search_fields = ["reference", "display_name"]
    filter_horizontal = ["clinicians"]
    readonly_fields = ["id", "consent_recorded_at", "consent_recorded_by", "created_at"]
    actions = ["record_consent", "withdraw_consent", "issue_enrollment_code"]

    @admin.action(description="Record consent to camera monitoring (by me, now)")
    def record_consent(self, request, queryset):
        for patient in queryset:
            patient_consent_record(patient=patient, recorded_by=request.user)
        self.message_user(request, f"Consent recorded for {queryset.count()} patient(s).")

    @admin.action(description="Withdraw consent (uploads refused from now on)")
    def withdraw_consent(self, request, queryset):
        for patient in queryset:
            patient_consent_withdraw(patient=patient)
        self.message_user(request, f"Consent withdrawn for {queryset.count()} patient(s).")

    @admin.action(description="Issue a device enrollment code")
    def issue_enrollment_code(self, request, queryset):
        for patient in queryset:
            row, code = enrollment_code_issue(patient=patient, issued_by=request.user)
            self.message_user(
                request, f"{patient.reference}: code {code} (expires {row.expires_at:%Y-%m-%d %H:%M} UTC; shown once)",
                messages.WARNING,
            )
