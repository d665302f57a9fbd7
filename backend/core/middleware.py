"""Protective middleware: refuse oversized bodies before reading them, answer 503 when the database is
down, and rate-limit login attempts per client address.

Each answers with the API's JSON error shape ({"code", "detail"}) so phones and scripts can act on it.
"""
import logging

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse

from .throttling import login_throttle_check

logger = logging.getLogger(__name__)

BODY_METHODS = {"POST", "PUT", "PATCH"}


def error_response(code: str, detail: str, status: int, *, retry_after: int | None = None) -> JsonResponse:
    response = JsonResponse({"code": code, "detail": detail}, status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    # Returned before CommonMiddleware: without a length gunicorn would chunk this small answer.
    response["Content-Length"] = str(len(response.content))
    return response


class RequestSizeLimitMiddleware:
    """Refuse a body larger than MAX_REQUEST_BYTES from its Content-Length header, before any of it is read.

    Django's DATA_UPLOAD_MAX_MEMORY_SIZE ignores file parts, so without this a 100 MB upload would be
    streamed to a temporary file before the per-frame limit refused it. A body of unknown length
    (chunked) is refused on the same grounds: its size cannot be checked up front.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method in BODY_METHODS:
            refusal = self._refusal(request.META)
            if refusal is not None:
                logger.warning("refused %s %s: %s", request.method, request.path, refusal["detail"])
                response = error_response(**refusal)
                response["Connection"] = "close"  # the unread body must not be taken for the next request
                return response
        return self.get_response(request)

    @staticmethod
    def _refusal(meta) -> dict | None:
        limit = settings.MOODWATCH["MAX_REQUEST_BYTES"]
        raw = meta.get("CONTENT_LENGTH") or ""
        if not raw:
            if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
                return {"code": "length_required", "status": 411,
                        "detail": "Send the body with a Content-Length header (chunked bodies are not accepted)."}
            return None
        try:
            length = int(raw)
        except ValueError:
            return {"code": "bad_request", "status": 400, "detail": "Invalid Content-Length header."}
        if length > limit:
            return {"code": "request_too_large", "status": 413,
                    "detail": f"The body is {length} bytes; at most {limit} bytes are accepted."}
        return None


class DatabaseUnavailableMiddleware:
    """A database outage is temporary: answer 503 with Retry-After (JSON), never a 500 with a trace.

    DRF re-raises exceptions its handler does not map, so this also covers the API views.
    """

    RETRY_AFTER_SECONDS = 5

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, (OperationalError, InterfaceError)):
            return None
        logger.warning("database unavailable during %s %s: %r", request.method, request.path, exception)
        return error_response(
            "service_unavailable", "The database is temporarily unavailable; retry later.", 503,
            retry_after=self.RETRY_AFTER_SECONDS,
        )


class LoginThrottleMiddleware:
    """At most LOGIN_THROTTLE_RATE failed logins per client address, on every login view.

    Complements the per-account lockout (django-axes): this one stops one address from trying
    many accounts. Failures are counted by a user_login_failed receiver (throttling.py).
    """

    LOGIN_VIEWS = {"dashboard:login", "login", "admin:login"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or request.resolver_match is None:
            return None
        if request.resolver_match.view_name not in self.LOGIN_VIEWS:
            return None
        wait = login_throttle_check(request)
        if wait is None:
            return None
        logger.warning("login attempts from %s throttled for %ss", request.META.get("REMOTE_ADDR"), wait)
        return error_response(
            "throttled", f"Too many failed logins from this address. Try again in {wait} seconds.", 429,
            retry_after=wait,
        )
