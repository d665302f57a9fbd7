"""Clinician API tokens: issue (shown once) and authenticate (digests only in the database)."""
import re

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction

from backend.core.errors import ApplicationError
from backend.devices import tokens

from .models import ApiToken

# DRF's 40-hex-digit keys from before digests (migration clinician_api 0002): their first 12
# digits became the lookup id, so they keep working; new tokens are `<lookup_id>.<secret>`.
LEGACY_KEY = re.compile(r"[0-9a-f]{40}")


@transaction.atomic
def api_token_issue(*, user: AbstractBaseUser) -> str:
    """Give `user` a new API token, replacing any earlier one; return it (the only time it exists)."""
    lookup_id, token = tokens.device_token_generate()
    ApiToken.objects.update_or_create(user=user, defaults={
        "lookup_id": lookup_id, "digest": tokens.device_token_digest(token)})
    return token


def api_token_authenticate(*, token: str) -> AbstractBaseUser:
    lookup_id = tokens.device_token_lookup_id(token) or (token[:12] if LEGACY_KEY.fullmatch(token) else None)
    row = ApiToken.objects.select_related("user").filter(lookup_id=lookup_id).first() if lookup_id else None
    # The digest is compared even when no row matched, so an unknown id takes as long as a wrong secret.
    digest = tokens.device_token_digest(token)
    if row is None or not tokens.digests_match(digest, row.digest) or not row.user.is_active:
        raise ApplicationError("Invalid token.", code="authentication_failed")
    return row.user
