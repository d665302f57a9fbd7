"""Rate limits and lockouts beyond DRF's per-view throttles.

Counters live in Django's cache. In production CACHE_URL must point at Redis so every web process
shares them (docker-compose.yml does; `check --deploy` warns otherwise).
"""
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle


class LoginFailureThrottle(SimpleRateThrottle):
    """Failed logins per client address (REST_FRAMEWORK NUM_PROXIES decides which address that is).

    Only failures count: a hospital's clinicians often share one NAT address, and their successful
    logins must never lock each other out. DRF's sliding-window history, checked and recorded apart.
    """

    scope = "login"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def _load(self, request) -> None:
        self.key = self.get_cache_key(request, None)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()

    def blocked_for(self, request) -> int | None:
        self._load(request)
        if len(self.history) < self.num_requests:
            return None
        return max(1, math.ceil(self.wait() or 1))

    def record(self, request) -> None:
        self._load(request)
        self.history.insert(0, self.now)
        self.cache.set(self.key, self.history, self.duration)


def login_throttle_check(request: HttpRequest) -> int | None:
    """None if this address may try to log in, else the seconds to wait."""
    return LoginFailureThrottle().blocked_for(request)


def login_failure_record(sender=None, credentials=None, request=None, **kwargs) -> None:
    """user_login_failed receiver (connected in CoreConfig.ready)."""
    if request is not None:
        LoginFailureThrottle().record(request)


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


# --- per-device frame budget (issue 26: no device costs more than its share) -----------------------

class FrameBudgetExceeded(Throttled):
    default_code = "frame_budget_exceeded"


@dataclass(frozen=True)
class FrameReservation:
    """Frames counted against a device's budget for this hour; released if the batch is not stored."""

    key: str | None
    frames: int

    def release(self) -> None:
        if self.key is not None:
            try:
                cache.decr(self.key, self.frames)
            except ValueError:  # the hour's counter expired meanwhile: nothing left to give back
                pass


def frame_budget_reserve(*, device_pk: int, frames: int) -> FrameReservation:
    """Count `frames` against the device's frames for this clock hour (DEVICE_FRAME_BUDGET_PER_HOUR),
    or raise FrameBudgetExceeded (429, Retry-After: the seconds to the next hour) if they do not fit.

    The upload throttle bounds requests; this bounds the worker CPU a device can claim, since a
    batch of 60 frames costs 60 times one of 1. Counted in the shared cache, incremented first and
    given back on refusal, so concurrent uploads of one device cannot both slip under the limit."""
    budget = settings.MOODWATCH["DEVICE_FRAME_BUDGET_PER_HOUR"]
    if budget <= 0:
        return FrameReservation(key=None, frames=frames)
    now = time.time()
    hour = int(now // 3600)
    key = f"frame-budget:{device_pk}:{hour}"
    cache.add(key, 0, timeout=3600 + 60)
    try:
        used = cache.incr(key, frames)
    except ValueError:  # expired between add and incr (the hour just turned): start the new hour's
        cache.add(key, 0, timeout=3600 + 60)
        used = cache.incr(key, frames)
    if used > budget:
        cache.decr(key, frames)
        wait = max(1, math.ceil((hour + 1) * 3600 - now))
        raise FrameBudgetExceeded(
            wait=wait,
            detail=f"This device has used its budget of {budget} frames for this hour.",
        )
    return FrameReservation(key=key, frames=frames)
