"""Errors: the domain's (raised by services and validators) and the one error answer every door
gives (the JSON body {"code", "detail"} under /api/ and for devices, an HTML page elsewhere).

The middleware (core.middleware), the error views (core.views), DRF's exception handler
(core.exceptions) and the other doors build their answers here, so the shape is written once."""
import logging
from dataclasses import dataclass, field

from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field (and, for repeated fields, which item)."""

    field: str
    code: str
    detail: str
    index: int | None = None

    def as_dict(self) -> dict:
        body = {"field": self.field, "code": self.code, "detail": self.detail}
        if self.index is not None:
            body["index"] = self.index
        return body


class ApplicationError(Exception):
    """A request the domain refuses. `code` is stable and machine-readable; `detail` is for people."""

    status_code = 400

    def __init__(self, detail: str, *, code: str, status_code: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.code = code
        if status_code is not None:
            self.status_code = status_code


@dataclass
class InputInvalid(Exception):
    """Input failed validation; carries every field problem found, so clients can fix all at once."""

    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{e.field}: {e.detail}" for e in self.errors)


# --- the error answer ------------------------------------------------------------------------------

def error_body(code: str, detail: str) -> dict:
    """The API's one JSON error shape (DRF answers may add "errors": [FieldError.as_dict(), ...])."""
    return {"code": code, "detail": detail}


def error_response(code: str, detail: str, status: int, *, retry_after: int | None = None) -> JsonResponse:
    """The JSON error answer outside DRF (middleware, plain Django views), never cached."""
    response = JsonResponse(error_body(code, detail), status=status)
    if retry_after is not None:
        response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    # Middleware returns it before CommonMiddleware: without a length gunicorn would chunk this small answer.
    response["Content-Length"] = str(len(response.content))
    return response


ERRORS = {
    400: ("bad_request", "Bad request", "The request could not be understood."),
    403: ("permission_denied", "Forbidden", "You do not have permission to see this page."),
    404: ("not_found", "Not found", "There is nothing at this address."),
    405: ("method_not_allowed", "Method not allowed", "This address does not take this kind of request."),
    414: ("uri_too_long", "Address too long", "The address (path and query) is too long."),
    500: ("server_error", "Server error", "Something went wrong on our side; it has been logged."),
}


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def error_answer(request, status: int, *, detail: str | None = None, messages=()) -> HttpResponse:
    """JSON with an error code under /api/, an HTML page elsewhere. Total: if rendering the page
    itself fails, a plain answer with the same status goes out."""
    code, title, default_detail = ERRORS[status]
    detail = detail or default_detail
    if is_api(request):
        return error_response(code, detail, status)
    try:
        body = render_to_string("dashboard/error.html", {
            "title": title, "detail": detail, "messages_list": list(messages)}, request=request)
    except Exception:  # the error page must never turn into a 500 of its own
        logger.exception("error page for %s could not be rendered", status)
        body = f"<!doctype html><title>{title}</title><h1>{title}</h1>"
    response = HttpResponse(body, status=status, content_type="text/html; charset=utf-8")
    response["Cache-Control"] = "no-store"
    return response


def bad_request_answer(request, exception=None) -> HttpResponse:
    """The 400 answer to a BadRequest (e.g. a page's invalid query), listing its messages on the page."""
    messages = getattr(exception, "messages", None) or []
    detail = "The query parameters are not valid." if messages else None
    return error_answer(request, 400, detail=detail, messages=messages)
