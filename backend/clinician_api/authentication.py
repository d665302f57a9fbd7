"""`Authorization: Token <token>` for the clinician API, checked against stored digests."""
from rest_framework import authentication, exceptions

from backend.core.errors import ApplicationError

from .services import api_token_authenticate


class ApiTokenAuthentication(authentication.TokenAuthentication):
    """DRF's header parsing and 401 answers; the lookup is ours (DRF's stores the key in clear)."""

    def authenticate_credentials(self, key):
        try:
            user = api_token_authenticate(token=key)
        except ApplicationError as error:
            raise exceptions.AuthenticationFailed(error.detail, code=error.code)
        return user, None
