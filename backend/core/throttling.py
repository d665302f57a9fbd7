"""Rate limits and lockouts beyond DRF's per-view throttles.

Three rules guard the login forms (dashboard, API, admin):
- django-axes locks a (username, client address) pair after AXES_FAILURE_LIMIT failures, for
  AXES_COOLOFF_TIME from the last failure; attempts refused during the lock do not extend it. An
  attacker elsewhere cannot lock a clinician out of his own address.
- LoginFailureThrottle refuses every login from an address after LOGIN_THROTTLE_RATE failures
  from it, against password spraying (one address, many usernames).
- A trusted device (OWASP "device cookies"): a browser that has logged in as a user carries a signed
  cookie naming that user. Its logins as that user skip both rules above, so neither others'
  failures on a shared hospital address nor a lock on the pair keeps the clinician out, and count
  against a limit of their own (DeviceFailureThrottle), so a stolen cookie buys few guesses.

Counters live in Django's cache. In production CACHE_URL must point at Redis so every web process
shares them (docker-compose.yml does; `check --deploy` warns otherwise).
"""
import hashlib
import math
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, JsonResponse
from django.utils.crypto import salted_hmac
from rest_framework.exceptions import Throttled
from rest_framework.throttling import SimpleRateThrottle

from .errors import error_body

DEVICE_COOKIE_SALT = "moodwatch.login-device"
USERNAME_FIELD = "username"  # the login forms' field (AXES_USERNAME_FORM_FIELD's default)


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


class DeviceFailureThrottle(LoginFailureThrottle):
    """Failed logins from one trusted device: as many as django-axes allows a (username, address)
    pair, within its cool-off. Refused attempts are not recorded, so they do not extend the wait."""

    scope = "login-device"

    def __init__(self, device: str):
        self.device = device
        self.num_requests = settings.AXES_FAILURE_LIMIT
        self.duration = int(settings.AXES_COOLOFF_TIME.total_seconds())

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.device}

    def reset(self) -> None:
        self.cache.delete(self.get_cache_key(None, None))


def login_username(request: HttpRequest) -> str:
    return request.POST.get(USERNAME_FIELD, "")


def login_username_refusal(request: HttpRequest) -> str | None:
    """Why the posted username cannot be anyone's (too long for the user table), or None.

    Django's login form does not enforce the length, and django-axes would store the name in a
    255-character column: a DataError, a 500."""
    limit = get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD).max_length
    if len(login_username(request)) > limit:
        return f"A username has at most {limit} characters."
    return None


def axes_username(request: HttpRequest, credentials: dict | None = None) -> str | None:
    """AXES_USERNAME_CALLABLE: the attempted username as django-axes stores it, cut to its 255-character
    column and without NUL (which PostgreSQL text refuses), so that no login attempt by any door can
    make its bookkeeping fail. Names that long cannot exist (login_username_refusal)."""
    username = (credentials or {}).get(USERNAME_FIELD)
    if username is None and request is not None:
        username = request.POST.get(USERNAME_FIELD)
    if not isinstance(username, str):
        return None
    return username.replace("\x00", "")[:255]


def _username_digest(username: str) -> str:
    return salted_hmac(DEVICE_COOKIE_SALT, username).hexdigest()[:32]  # the cookie does not show the name


def device_cookie_value(username: str) -> str:
    """A new device cookie for `username`: signed (SECRET_KEY), dated, with a random device id."""
    return signing.dumps({"u": _username_digest(username), "d": secrets.token_urlsafe(16)}, salt=DEVICE_COOKIE_SALT)


def trusted_device(request: HttpRequest, username: str) -> str | None:
    """The device id of the request's device cookie if it is valid for `username`, else None."""
    raw = request.COOKIES.get(settings.LOGIN_DEVICE_COOKIE_NAME)
    if not raw or not username:
        return None
    try:
        value = signing.loads(raw, salt=DEVICE_COOKIE_SALT, max_age=settings.LOGIN_DEVICE_COOKIE_AGE)
    except signing.BadSignature:  # also an expired one
        return None
    if not isinstance(value, dict) or value.get("u") != _username_digest(username):
        return None
    device = value.get("d")
    return hashlib.sha256(device.encode()).hexdigest() if isinstance(device, str) else None


def login_device_mark(request: HttpRequest) -> str | None:
    """Remember on the request whether this login comes from a trusted device for its username."""
    request.moodwatch_login_device = trusted_device(request, login_username(request))
    return request.moodwatch_login_device


def login_from_trusted_device(request: HttpRequest, credentials: dict | None = None) -> bool:
    """AXES_WHITELIST_CALLABLE: django-axes neither locks nor counts a trusted device's logins
    (DeviceFailureThrottle does)."""
    return bool(getattr(request, "moodwatch_login_device", None))


def login_throttle_check(request: HttpRequest) -> int | None:
    """None if this login attempt may go ahead, else the seconds to wait: a trusted device by its
    own failures, any other by its address's."""
    device = getattr(request, "moodwatch_login_device", None)
    if device:
        return DeviceFailureThrottle(device).blocked_for(request)
    return LoginFailureThrottle().blocked_for(request)


def login_failure_record(sender=None, credentials=None, request=None, **kwargs) -> None:
    """user_login_failed receiver (connected in CoreConfig.ready)."""
    if request is None:
        return
    device = getattr(request, "moodwatch_login_device", None)
    if device:
        DeviceFailureThrottle(device).record(request)
        _device_failure_log(request, credentials)
    else:
        LoginFailureThrottle().record(request)


def _device_failure_log(request: HttpRequest, credentials: dict | None) -> None:
    """django-axes skips the failures of a trusted device (whitelisted): keep them in its log anyway."""
    from axes.models import AccessFailureLog

    AccessFailureLog.objects.create(
        username=axes_username(request, credentials), ip_address=getattr(request, "axes_ip_address", None),
        user_agent=getattr(request, "axes_user_agent", "")[:255], http_accept=getattr(request, "axes_http_accept", ""),
        path_info=getattr(request, "axes_path_info", request.path), locked_out=False,
    )


def login_success_record(sender=None, request=None, user=None, **kwargs) -> None:
    """user_logged_in receiver: the device's failures are forgiven, and the response (set by
    LoginThrottleMiddleware) carries a new device cookie for this user."""
    if request is None or user is None:
        return
    device = getattr(request, "moodwatch_login_device", None)
    if device:
        DeviceFailureThrottle(device).reset()
    request.moodwatch_login_device_cookie = device_cookie_value(user.get_username())


def device_cookie_set(request: HttpRequest, response) -> None:
    value = getattr(request, "moodwatch_login_device_cookie", None)
    if value:
        response.set_cookie(
            settings.LOGIN_DEVICE_COOKIE_NAME, value, max_age=settings.LOGIN_DEVICE_COOKIE_AGE,
            secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Lax",
        )


def login_lockout_response(request: HttpRequest, credentials: dict | None = None, *args, **kwargs) -> JsonResponse:
    """The answer to a locked (username, address) pair or device: 429 with Retry-After, the longest
    the lock can still last (AXES_LOCKOUT_CALLABLE). It says no more than that: not whether the
    username exists, nor which rule refused."""
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    response = JsonResponse(
        error_body("login_locked", "Too many failed logins. Try again later."), status=429,
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
