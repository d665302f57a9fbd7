"""Structured logs: one JSON object a line, each with the request id of the request (or of the request
whose batch a Celery task is processing), with secrets redacted before anything is written.

The standard library's logging with python-json-logger's formatter (a small, maintained formatter, no
logging framework of its own): Django, Celery, gunicorn and our code all log through the same
handler, so every line has the same shape and passes the same redaction (settings.LOGGING).

The request id: `RequestIdMiddleware` takes a sane `X-Request-ID` from the client (or the proxy) or
makes one, keeps it in a context variable for the request, and returns it in the response header.
backend.celery writes it into the headers of every task published while it is set and sets it again
in the worker around the task, so a batch's processing, its records and its alerts log the id of the
upload that brought it.
"""
import logging
import re
import uuid
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

REQUEST_ID_HEADER = "X-Request-ID"
TASK_HEADER = "moodwatch_request_id"  # the Celery message header that carries it
# A client's id is kept when it is short and plain; anything else (spaces, quotes, control characters, a
# 10 kB string meant to flood the logs) is replaced by a new one.
REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,63}$")

request_id_var: ContextVar[str] = ContextVar("moodwatch_request_id", default="")


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_accept(given: str | None) -> str:
    """The client's id when it is sane, else a new one."""
    if given and REQUEST_ID_PATTERN.match(given):
        return given
    return request_id_new()


class RequestIdMiddleware:
    """First in MIDDLEWARE: every answer (health checks and refusals included) carries the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_accept(request.META.get("HTTP_X_REQUEST_ID"))
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


# --- redaction ------------------------------------------------------------------------------------------

REDACTED = "[redacted]"
_SECRET_PATTERNS = [
    # "Authorization: Device abc", "Cookie: sessionid=...", headers as dict reprs ('HTTP_COOKIE': '...')
    (re.compile(r"(?i)((?:http_)?(?:authorization|cookie|set-cookie|x-api-key)['\"]?\s*[:=]\s*['\"]?)[^'\"\n]+"),
     r"\1" + REDACTED),
    # credentials after an auth scheme: Bearer/Device/Token/Basic <value>
    (re.compile(r"(?i)\b(bearer|device|token|basic)(\s+)(?=[^\s\d]*\d)[A-Za-z0-9._~+/=-]{8,}"), r"\1\2" + REDACTED),
    # key=value pairs in query strings, bodies and cookies
    (re.compile(r"(?i)\b(token|access_token|api_key|apikey|key|password|passwd|secret|sessionid|csrftoken|"
                r"csrfmiddlewaretoken|moodwatch_device|code|otp_token|note)=([^&\s;,'\"]+)"),
     r"\1=" + REDACTED),
    # "key": "value" pairs in JSON-ish text
    (re.compile(r"""(?i)(['"](?:token|password|secret|note|display_name|code)['"]\s*:\s*)"""
                r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')"""),
     r'\1"' + REDACTED + '"'),
    # a device token's shape (backend/devices/tokens.py: <12 hex>.<secret>)
    (re.compile(r"\b[0-9a-f]{12}\.[A-Za-z0-9_-]{20,}"), REDACTED),
]
# Extra attributes no line may carry: Django puts the whole request object on some records.
_DROPPED_ATTRIBUTES = ("request",)


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactFilter(logging.Filter):
    """On the handler: the message (with its arguments), the traceback and every extra string attribute
    are redacted in place; the original arguments and exception object are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string still logs, unformatted
            message = str(record.msg)
        record.msg, record.args = redact(message), None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        for name in _DROPPED_ATTRIBUTES:
            record.__dict__.pop(name, None)
        for name, value in list(record.__dict__.items()):
            if isinstance(value, str) and name not in ("msg", "levelname", "name", "pathname", "filename",
                                                       "module", "funcName", "threadName", "processName"):
                record.__dict__[name] = redact(value)
        return True


class RequestIdFilter(logging.Filter):
    """Adds `request_id` (empty outside a request or a task that carries one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            # django.request logs a refusal after the middleware returned, with the request attached
            record.request_id = request_id_var.get() or getattr(getattr(record, "request", None), "request_id", "")
        return True


class JsonFormatter(_JsonFormatter):
    """{"time", "level", "logger", "message", "request_id", ...extra fields} on one line."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        kwargs.setdefault("timestamp", "time")
        super().__init__("%(levelname)s %(name)s %(message)s %(request_id)s", *args[1:], **kwargs)

