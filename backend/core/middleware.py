"""Protective middleware: refuse oversized bodies before reading them, refuse NUL characters in the
query string, answer bad queries with a 400, answer 503 when the database is down, and rate-limit
login attempts per client address.

Each answers with the API's JSON error shape ({"code", "detail"}) so phones and scripts can act on it.
"""
import logging

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import InterfaceError, OperationalError

from .errors import bad_request_answer, error_answer, error_response, is_api
from .throttling import (
    device_cookie_set,
    login_device_mark,
    login_lockout_response,
    login_throttle_check,
    login_username_refusal,
)

logger = logging.getLogger(__name__)

BODY_METHODS = {"POST", "PUT", "PATCH"}
ERROR_STATUSES = (400, 403, 404, 500)  # those backend.core.views answers (with core.errors.error_answer)


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
                if not _is_wsgiref(request):  # wsgiref (runserver) refuses hop-by-hop headers, and closes anyway
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
            length = -1
        if length < 0:
            return {"code": "bad_request", "status": 400, "detail": "Invalid Content-Length header."}
        if length > limit:
            return {"code": "request_too_large", "status": 413,
                    "detail": f"The body is {length} bytes; at most {limit} bytes are accepted."}
        return None


# Longer than any address the dashboard, the clinician API or a phone builds. gunicorn's own limit on
# the request line (gunicorn.conf.py) is above it, so a long address gets this JSON (or page) 414,
# not gunicorn's bare HTML one; only a line beyond gunicorn's maximum (8190 bytes) still gets that.
MAX_URI_LENGTH = 4096


class UriTooLongMiddleware:
    """414 for a path and query string longer than MAX_URI_LENGTH, before anything parses them."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = len(request.META.get("PATH_INFO", "")) + len(request.META.get("QUERY_STRING", ""))
        if length > MAX_URI_LENGTH:
            return error_answer(request, 414, detail=(
                f"The address is {length} characters long; at most {MAX_URI_LENGTH} are accepted."))
        return self.get_response(request)


def _is_wsgiref(request) -> bool:
    return request.META.get("SERVER_SOFTWARE", "").startswith("WSGIServer/")


# Django's refusals while parsing a request (more than DATA_UPLOAD_MAX_NUMBER_FIELDS parameters, too
# many files, a form body above DATA_UPLOAD_MAX_MEMORY_SIZE): all SuspiciousOperation, so a 400.
REQUEST_PARSE_REFUSALS = (TooManyFieldsSent, TooManyFilesSent, RequestDataTooBig)


class RequestParseErrorMiddleware:
    """A request Django refuses to parse (too many fields or files, a form body too large) is a 400
    page or JSON error, also under DEBUG.

    Without DEBUG Django answers these with handler400. With DEBUG its technical page lists the
    request's GET, POST and FILES, parsing them again, so the same exception escapes every handler
    and the client gets an unhandled 500. Outermost, so it catches that second raise.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            return self.get_response(request)
        except REQUEST_PARSE_REFUSALS as exc:
            return request_parse_refusal(request, exc)


def request_parse_refusal(request, exc):
    logger.warning("refused %s %s: %s", request.method, request.path, exc)
    return error_answer(request, 400, detail=f"The request could not be parsed: {exc}")


class NulCharacterMiddleware:
    """Refuse a NUL character anywhere in the path or the query string (400) before any view sees it.

    PostgreSQL text cannot hold NUL; a value that reached a query would fail there as a 500.
    Also the first to read the query string: more than DATA_UPLOAD_MAX_NUMBER_FIELDS parameters is a 400.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            query = request.GET.lists()
        except REQUEST_PARSE_REFUSALS as exc:
            return request_parse_refusal(request, exc)
        if "\x00" in request.path or any("\x00" in k or any("\x00" in v for v in values) for k, values in query):
            return error_answer(request, 400, detail="NUL characters are not allowed in the address.")
        return self.get_response(request)


class ApiJsonErrorMiddleware:
    """Under /api/, an error answer that is not JSON (Django's 404 for an unknown route, its DEBUG
    pages, a 400 from the request parser) is replaced by the API's JSON error shape. Elsewhere, the
    empty 405 of Django's require_POST (a bookmarked or reloaded form address), which a browser
    shows as a blank page, becomes the 405 page; its Allow header is kept."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (is_api(request) and response.status_code in ERROR_STATUSES
                and not response.get("Content-Type", "").startswith("application/json")):
            return error_answer(request, response.status_code)
        if not is_api(request) and response.status_code == 405 and not response.streaming and not response.content:
            page = error_answer(request, 405)
            page["Allow"] = response.get("Allow", "")
            return page
        return response


class BadRequestMiddleware:
    """A view that raises BadRequest (e.g. a page's invalid query) gets the 400 page or JSON error,
    also under DEBUG, where Django would show a traceback page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, BadRequest):
            return None
        return bad_request_answer(request, exception)


# Scripts only from our own static files (Plotly, the charts, Swagger UI's split view); inline
# styles are allowed because Plotly injects its stylesheet and the list draws its mood bars with
# style widths.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:", "font-src 'self'", "connect-src 'self'", "object-src 'none'",
    "base-uri 'self'", "form-action 'self'", "frame-ancestors 'none'",
])


# The one caching a dynamic answer may keep: content-addressed public bytes that hold no patient
# data (the model files at /api/v1/model/files/<sha256>/..., whose URL changes with their content).
PUBLIC_IMMUTABLE = "public, max-age=31536000, immutable"


class SecurityHeadersMiddleware:
    """A Content-Security-Policy on every page, and Cache-Control: no-store on every dynamic answer
    (pages, exports and API answers carry patient data; shared and browser caches must not keep
    them), except an answer that its view marked PUBLIC_IMMUTABLE. Static files are answered by
    WhiteNoise before this middleware and keep their caching."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        cache_control = response.get("Cache-Control", "")
        if "no-store" not in cache_control and cache_control != PUBLIC_IMMUTABLE:
            response["Cache-Control"] = "no-store"
        return response


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
    """On every login form (any route named "login": the dashboard's, the API's, the admin's): at
    most LOGIN_THROTTLE_RATE failed logins per client address, except from a trusted device, which
    has a limit of its own and receives its device cookie here (rules in throttling.py).

    Complements the per-(username, address) lockout (django-axes). Failures are counted by a
    user_login_failed receiver (throttling.py). A username too long to exist is a 400 here, before
    django-axes would try to store it.
    """

    LOGIN_URL_NAME = "login"

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        device_cookie_set(request, response)  # only after a successful login
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.method != "POST" or request.resolver_match is None:
            return None
        if request.resolver_match.url_name != self.LOGIN_URL_NAME:
            return None
        refusal = login_username_refusal(request)
        if refusal is not None:
            return error_answer(request, 400, detail=refusal)
        device = login_device_mark(request)
        wait = login_throttle_check(request)
        if wait is None:
            return None
        if device:
            logger.warning("login attempts from a trusted device refused for %ss", wait)
            return login_lockout_response(request)
        logger.warning("login attempts from %s throttled for %ss", request.META.get("REMOTE_ADDR"), wait)
        return error_response(
            "throttled", f"Too many failed logins from this address. Try again in {wait} seconds.", 429,
            retry_after=wait,
        )
