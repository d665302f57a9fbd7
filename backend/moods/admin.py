from django.contrib import admin

from backend.audit.doors import AuditedReadAdminMixin
from backend.core.admin import ReadOnlyModelAdmin

from .models import MoodRecord


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
