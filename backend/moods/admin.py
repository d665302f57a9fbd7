from django.contrib import admin

from .models import MoodRecord


@admin.register(MoodRecord)
class MoodRecordAdmin(admin.ModelAdmin):
    list_display = ["patient", "captured_at", "mood", "detection_score", "model_version"]
    list_filter = ["mood", "model_version"]
    search_fields = ["patient__reference"]
    date_hierarchy = "captured_at"
    readonly_fields = [f.name for f in MoodRecord._meta.fields]

    def has_add_permission(self, request):
        return False
