"""Project-wide error views (urls.handler400..500): JSON with an error code under /api/, an HTML
page elsewhere. The answer itself is built in core.errors, which the middleware uses too."""
from .errors import bad_request_answer, error_answer


def bad_request(request, exception=None, *args, **kwargs):
    return bad_request_answer(request, exception)


def permission_denied(request, exception=None, *args, **kwargs):
    return error_answer(request, 403)


def page_not_found(request, exception=None, *args, **kwargs):
    return error_answer(request, 404)


def server_error(request, *args, **kwargs):
    return error_answer(request, 500)
