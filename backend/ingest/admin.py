from django.contrib import admin

from backend.audit.doors import AuditedReadAdminMixin
from backend.core.admin import ReadOnlyModelAdmin

from .models import FrameBatch


@admin.register(FrameBatch)
class FrameBatchAdmin(AuditedReadAdminMixin, ReadOnlyModelAdmin):
    """Batches are written by the upload API and the worker; deletion is the audited "delete data
    on request" action of the dashboard."""

    list_display = [
        "batch_id", "patient", "device", "status", "frame_count", "frames_with_face", "record_count", "bystanders",
        "received_at", "processed_at",
    ]
    list_filter = ["status", "model_version", "received_at"]
    search_fields = ["=batch_id", "patient__reference"]
    date_hierarchy = "received_at"
    list_select_related = ["patient", "device"]
    readonly_fields = [f.name for f in FrameBatch._meta.fields]
    show_full_result_count = False  # no COUNT(*) over every batch on each page
