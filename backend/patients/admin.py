from django.contrib import admin

from backend.audit.doors import AuditedReadAdminMixin, admin_context

from .models import Patient
from .services import (
    patient_consent_record,
    patient_consent_withdraw,
    patient_device_settings_set,
    patient_update,
)

# Saved through patient_device_settings_set (audited with before and after), not patient_update.
DEVICE_SETTINGS = ("inference_mode", "sampling_seconds")


@admin.register(Patient)
class PatientAdmin(AuditedReadAdminMixin, admin.ModelAdmin):
    """Patients are created on the dashboard or with `manage.py create_patient`, and their data is
    deleted on request from the dashboard: both are audited there. Here an operator changes the care
    team, name, time zone, inference mode, sampling rate or status (audited as `patient.update`; the
    inference mode and the sampling rate through patient_device_settings_set, as on the dashboard and
    the API) and runs the audited actions."""

    list_display = [
        "reference", "display_name", "timezone", "is_active", "has_consent", "consent_recorded_at", "clinician_names",
        "inference_mode", "sampling_seconds", "created_at",
    ]
    list_filter = ["is_active", ("consent_recorded_at", admin.EmptyFieldListFilter), "inference_mode", "timezone",
                   "clinicians"]
    search_fields = ["reference", "display_name", "clinicians__username"]
    date_hierarchy = "created_at"
    filter_horizontal = ["clinicians"]
    readonly_fields = ["id", "reference", "consent_recorded_at", "consent_recorded_by", "created_at"]
    actions = ["record_consent", "withdraw_consent"]  # and devices.admin adds issue_enrollment_code

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("clinicians")

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        changed = [name for name in form.changed_data if name not in ("clinicians", *DEVICE_SETTINGS)]
        patient_update(patient=obj, actor=request.user, fields=changed, context=admin_context(request))
        device_settings = {name: getattr(obj, name) for name in DEVICE_SETTINGS if name in form.changed_data}
        if device_settings:
            patient_device_settings_set(patient=obj, actor=request.user, context=admin_context(request),
                                        **device_settings)

    def save_related(self, request, form, formsets, change):
        before = sorted(u.get_username() for u in form.instance.clinicians.all())
        super().save_related(request, form, formsets, change)
        after = sorted(u.get_username() for u in form.instance.clinicians.all())
        if before != after:
            patient_update(patient=form.instance, actor=request.user, fields=[], context=admin_context(request),
                           clinicians={"before": before, "after": after})

    @admin.display(boolean=True, description="consent")
    def has_consent(self, patient):
        return patient.has_consent

    @admin.display(description="clinicians")
    def clinician_names(self, patient):
        return ", ".join(sorted(u.get_username() for u in patient.clinicians.all()))

    @admin.action(description="Record consent to camera monitoring (by me, now)")
    def record_consent(self, request, queryset):
        for patient in queryset:
            patient_consent_record(patient=patient, actor=request.user, context=admin_context(request))
        self.message_user(request, f"Consent recorded for {queryset.count()} patient(s).")

    @admin.action(description="Withdraw consent (uploads refused from now on)")
    def withdraw_consent(self, request, queryset):
        for patient in queryset:
            patient_consent_withdraw(patient=patient, actor=request.user, context=admin_context(request))
        self.message_user(request, f"Consent withdrawn for {queryset.count()} patient(s).")
