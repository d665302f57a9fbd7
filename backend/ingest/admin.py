from django.contrib import admin

from .models import FrameBatch


@admin.register(FrameBatch)
class FrameBatchAdmin(admin.ModelAdmin):
    list_display = ["batch_id", "patient", "device", "status", "frame_count", "frames_with_face", "record_count", "received_at", "processed_at"]
    list_filter = ["status"]
    search_fields = ["batch_id", "patient__reference"]
    readonly_fields = [f.name for f in FrameBatch._meta.fields]

    def has_add_permission(self, request):
        return False
