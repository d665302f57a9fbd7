"""The admin's door to the second factor: one audited action on users that removes their
authenticator app and recovery codes. django-otp's own device admins are not registered, so a
device cannot be added, read (its secret) or deleted there without an audit row."""
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.audit.doors import admin_context

from .services import second_factor_reset

for model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(model):
        admin.site.unregister(model)

User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class MoodWatchUserAdmin(UserAdmin):
    actions = [*UserAdmin.actions, "reset_second_factor"]

    @admin.action(description="Reset the second factor (the user sets up an authenticator app again)",
                  permissions=["change"])
    def reset_second_factor(self, request, queryset):
        for user in queryset:
            second_factor_reset(user=user, actor=request.user, context=admin_context(request))
        self.message_user(request, f"Second factor reset for {queryset.count()} user(s): each sets up an "
                                   "authenticator app at their next login. If a password may be known to "
                                   "someone else, change it too.")
