from django.contrib import admin

from backend.audit.doors import AuditedReadAdminMixin
from backend.core.admin import ReadOnlyModelAdmin

from .models import MoodRecord, SelfReport


@admin.register(MoodRecord)
class MoodRecordAdmin(AuditedReadAdminMixin, ReadOnlyModelAdmin):
    """Records come only from the model; deletion is the dashboard's audited action."""

    list_display = ["patient", "captured_at", "mood", "detection_score", "model_version"]
    list_filter = ["mood", "model_version"]
    search_fields = ["patient__reference"]
    date_hierarchy = "captured_at"
    list_select_related = ["patient"]
    readonly_fields = [f.name for f in MoodRecord._meta.fields]
    show_full_result_count = False  # millions of rows: no COUNT(*) on each page


@admin.register(SelfReport)
class SelfReportAdmin(AuditedReadAdminMixin, ReadOnlyModelAdmin):
    """Self-reports come only from the patient's device; deletion is the dashboard's audited action."""

    list_display = ["patient", "reported_at", "mood", "device", "received_at"]
    list_filter = ["mood"]
    search_fields = ["patient__reference", "=report_id"]
    date_hierarchy = "reported_at"
    list_select_related = ["patient", "device"]
    readonly_fields = [f.name for f in SelfReport._meta.fields]
    show_full_result_count = False
