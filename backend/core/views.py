"""Project-wide error views: JSON with an error code under /api/, an HTML page elsewhere.

Each is total: if rendering the page itself fails, a plain answer with the same status goes out.
"""
import logging

from django.http import HttpResponse
from django.template.loader import render_to_string

logger = logging.getLogger(__name__)

ERRORS = {
    400: ("bad_request", "Bad request", "The request could not be understood."),
    403: ("permission_denied", "Forbidden", "You do not have permission to see this page."),
    404: ("not_found", "Not found", "There is nothing at this address."),
    414: ("uri_too_long", "Address too long", "The address (path and query) is too long."),
    500: ("server_error", "Server error", "Something went wrong on our side; it has been logged."),
}


def is_api(request) -> bool:
    return request.path.startswith("/api/")


def error_answer(request, status: int, *, detail: str | None = None, messages=()) -> HttpResponse:
    code, title, default_detail = ERRORS[status]
    detail = detail or default_detail
    if is_api(request):
        from .middleware import error_response  # the API's one JSON error shape

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


def bad_request(request, exception=None, *args, **kwargs):
    messages = getattr(exception, "messages", None) or []
    detail = "The query parameters are not valid." if messages else None
    return error_answer(request, 400, detail=detail, messages=messages)


def permission_denied(request, exception=None, *args, **kwargs):
    return error_answer(request, 403)


def page_not_found(request, exception=None, *args, **kwargs):
    return error_answer(request, 404)


def server_error(request, *args, **kwargs):
    return error_answer(request, 500)
