"""The site's public address, for links that leave the page (alert e-mails, the patient app's
enrollment link and its QR code)."""
from django.conf import settings
from django.http import HttpRequest


def site_url(*, request: HttpRequest | None = None) -> str:
    """MOODWATCH_PUBLIC_URL without a trailing slash; where it is not set, the address `request` came
    in on (development: whatever host and port the server runs on); without either, "" (a path only)."""
    if settings.MOODWATCH_PUBLIC_URL:
        return settings.MOODWATCH_PUBLIC_URL
    if request is not None:
        return request.build_absolute_uri("/").rstrip("/")
    return ""
