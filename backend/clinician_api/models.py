from django.conf import settings
from django.db import models


class ApiToken(models.Model):
    """A clinician's API token: only its SHA-256 digest is stored, as for device tokens.

    The token `<lookup_id>.<secret>` is shown once, when issued; `lookup_id` (its public first part)
    finds the row, and the digest of the whole token is compared in constant time. One per user:
    issuing a new one replaces the old."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_token")
    lookup_id = models.CharField(max_length=12, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "clinician API token"

    def __str__(self) -> str:
        return f"{self.lookup_id}… ({self.user})"
