from django.contrib import admin

from backend.audit.doors import AuditedReadAdminMixin, admin_context

from .definitions import THRESHOLD_NAMES
from .models import Alert, AlertThresholds
from .services import alert_thresholds_set


@admin.register(Alert)
class AlertAdmin(AuditedReadAdminMixin, admin.ModelAdmin):
    """Alerts are raised by the rule check and worked through by clinicians on the dashboard (audited there)."""

    list_display = [
        "patient", "kind", "raised_at", "negative_share", "records", "last_data_at", "resolved_at",
        "state", "assigned_to", "snoozed_until", "resolution",
    ]
    list_filter = ["kind", "state", "resolution", ("resolved_at", admin.EmptyFieldListFilter)]
    search_fields = ["patient__reference", "patient__display_name"]
    date_hierarchy = "raised_at"
    list_select_related = ["patient", "assigned_to"]
    readonly_fields = [f.name for f in Alert._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # alerts go only with the patient's data, deleted on request from the dashboard


@admin.register(AlertThresholds)
class AlertThresholdsAdmin(admin.ModelAdmin):
    list_display = [
        "patient", "rule", *THRESHOLD_NAMES, "updated_at", "updated_by",
    ]
    search_fields = ["patient__reference", "patient__display_name"]
    list_select_related = ["patient", "updated_by"]
    autocomplete_fields = ["patient"]
    readonly_fields = ["updated_at", "updated_by"]

    def has_delete_permission(self, request, obj=None):
        return False  # clear the fields instead: the defaults then apply, and the change is audited

    def save_model(self, request, obj, form, change):
        # Through the service, so the change is audited like one made on the dashboard.
        values = {name: form.cleaned_data.get(name) for name in THRESHOLD_NAMES}
        if "rule" in form.cleaned_data:
            values["rule"] = form.cleaned_data["rule"] or ""
        obj.pk = alert_thresholds_set(patient=obj.patient, actor=request.user, values=values,
                                      context=admin_context(request)).pk
