from django.contrib import admin, messages

from .models import ApiToken
from .services import api_token_issue


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Shows the public lookup id only; the token itself is displayed once, when it is issued."""

    list_display = ["lookup_id", "user", "created_at"]
    fields = ["user"]
    readonly_fields = []
    search_fields = ["user__username"]

    def has_change_permission(self, request, obj=None):
        return False  # a token is issued or deleted, never edited

    def save_model(self, request, obj, form, change):
        token = api_token_issue(user=form.cleaned_data["user"])
        obj.pk = ApiToken.objects.get(user=form.cleaned_data["user"]).pk
        self.message_user(request, f"New API token for {obj.user} (shown once, copy it now): {token}",
                          messages.WARNING)
