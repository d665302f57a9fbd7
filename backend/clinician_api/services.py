"""Writes of the clinician API's own: its access tokens."""
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.authtoken.models import Token


def api_token_issue(*, user: AbstractBaseUser) -> Token:
    """The user's API token (DRF's, one per user): the existing one, or a new one. Callers must
    have checked the password and, where required, the second factor (clinician_api/auth.py)."""
    token, _ = Token.objects.get_or_create(user=user)
    return token
