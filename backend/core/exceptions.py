"""One JSON error shape for the whole API: {"code", "detail"[, "errors": [{field, code, detail, index?}]]}."""
import logging

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from .errors import ApplicationError, FieldError, InputInvalid, error_body

logger = logging.getLogger(__name__)


def _flatten(detail, prefix: str = "") -> list[FieldError]:
    """Turn DRF's nested ValidationError.detail into a flat list of FieldErrors."""
    if isinstance(detail, dict):
        errors = []
        for key, value in detail.items():
            name = "non_field_errors" if key == "non_field_errors" and not prefix else f"{prefix}{key}"
            errors += _flatten(value, f"{name}.")
        return errors
    if isinstance(detail, list):
        errors = []
        for item in detail:
            errors += _flatten(item, prefix)
        return errors
    field = prefix.rstrip(".") or "non_field_errors"
    return [FieldError(field=field, code=getattr(detail, "code", "invalid"), detail=str(detail))]


# A body of a few megabytes can hold hundreds of thousands of unknown keys: the answer names the
# first problems and counts the rest, so a bad request never buys a response larger than itself.
MAX_ERRORS_LISTED = 100


def _validation_response(errors: list[FieldError]) -> Response:
    listed, unlisted = errors[:MAX_ERRORS_LISTED], len(errors) - MAX_ERRORS_LISTED
    detail = "; ".join(f"{e.field}: {e.detail}" for e in listed) or "Invalid input."
    if unlisted > 0:
        detail += f"; and {unlisted} more problems not listed."
    body = error_body("validation_error", detail)
    body["errors"] = [e.as_dict() for e in listed]
    return Response(body, status=status.HTTP_400_BAD_REQUEST)


def api_exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER. Total: should mapping the exception fail, the answer is still the
    JSON 500 shape (and the failure is logged), never an exception of the handler's own."""
    try:
        return _handle(exc, context)
    except Exception:
        logger.exception("the API exception handler failed on %r", exc)
        return Response(error_body("server_error", "Internal server error."), status=500)


def _handle(exc, context):
    if isinstance(exc, InputInvalid):
        return _validation_response(exc.errors)
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.detail), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    if isinstance(exc, RequestDataTooBig):  # a body Django will not read: too large, said as such
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        detail = f"The body is over {limit} bytes, the most this address reads."
        return Response(error_body("request_too_large", detail), status=413)
    if isinstance(exc, SuspiciousOperation):
        # e.g. Django's TooManyFieldsSent / TooManyFilesSent while parsing a multipart body.
        logger.warning("Refused suspicious request: %s", exc)
        return Response(error_body("bad_request", str(exc) or "Bad request."), status=400)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    if isinstance(exc, exceptions.ValidationError):
        return _validation_response(_flatten(exc.detail))

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a real bug: let Django log it and answer 500
    detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
    code = getattr(detail, "code", None) or getattr(exc, "default_code", "error")
    response.data = error_body(code, str(detail))
    return response
