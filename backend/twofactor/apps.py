from django.apps import AppConfig


class TwoFactorConfig(AppConfig):
    """The second factor (TOTP + recovery codes, django-otp): services, the gate, the admin reset."""

    name = "backend.twofactor"
    label = "twofactor"
