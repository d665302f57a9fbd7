"""Project-wide views: JSON error pages for API paths."""
from django.http import JsonResponse
from django.views.defaults import server_error as html_server_error


def server_error(request, *args, **kwargs):
    if request.path.startswith("/api/"):
        return JsonResponse({"code": "server_error", "detail": "Internal server error."}, status=500)
    return html_server_error(request, *args, **kwargs)
