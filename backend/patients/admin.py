from django.contrib import admin, messages

from backend.devices.services import enrollment_code_issue

from .models import Patient
from .services import patient_consent_record, patient_consent_withdraw


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ["reference", "display_name", "timezone", "is_active", "has_consent", "consent_recorded_at", "clinician_names", "created_at"]
    list_filter = ["is_active", ("consent_recorded_at", admin.EmptyFieldListFilter), "timezone", "clinicians"]
    search_fields = ["reference", "display_name", "clinicians__username"]
    date_hierarchy = "created_at"
    filter_horizontal = ["clinicians"]
    readonly_fields = ["id", "consent_recorded_at", "consent_recorded_by", "created_at"]
    actions = ["record_consent", "withdraw_consent", "issue_enrollment_code"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("clinicians")

    @admin.display(boolean=True, description="consent")
    def has_consent(self, patient):
        return patient.has_consent

    @admin.display(description="clinicians")
    def clinician_names(self, patient):
        return ", ".join(sorted(u.get_username() for u in patient.clinicians.all()))

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
