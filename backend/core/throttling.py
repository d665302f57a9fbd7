"""Rate limits and lockouts beyond DRF's per-view throttles.

Counters live in Django's cache. In production CACHE_URL must point at Redis so every web process
shares them (docker-compose.yml does; `check --deploy` warns otherwise).
"""
import math

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from rest_framework.throttling import SimpleRateThrottle


class LoginRateThrottle(SimpleRateThrottle):
    """Per client address (REST_FRAMEWORK NUM_PROXIES decides which address that is)."""

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def login_throttle_check(request: HttpRequest) -> int | None:
    """Count one login attempt; None if allowed, else the seconds to wait."""
    throttle = LoginRateThrottle()
    if throttle.allow_request(request, None):
        return None
    return max(1, math.ceil(throttle.wait() or 1))


def login_lockout_response(request: HttpRequest, credentials: dict | None = None, *args, **kwargs) -> JsonResponse:
    """django-axes' answer once an account is locked: 429 with Retry-After (AXES_LOCKOUT_CALLABLE)."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = JsonResponse(
        {
            "code": "account_locked",
            "detail": f"Too many failed logins for this account. It is locked for {seconds // 60} minutes.",
        },
        status=429,
    )
    response["Retry-After"] = str(seconds)
    response["Cache-Control"] = "no-store"
    return response
