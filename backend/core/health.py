"""GET /healthz: is this process able to serve? Checks the database and the Celery broker.

Answered by a middleware placed first, before host validation, the HTTPS redirect and sessions:
container and load-balancer probes call it over plain HTTP with whatever Host header they use,
and a probe must see the application's health, not a 301 or a 400. It reveals no detail beyond
which check failed (the exception class), never connection strings.
"""
import logging
import time

from django.conf import settings
from django.db import connections
from django.http import JsonResponse

from backend.celery import app

from .errors import error_body

logger = logging.getLogger(__name__)

PATH = "/healthz"
BROKER_TIMEOUT_SECONDS = 3.0


def database_check() -> dict:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"ok": True}


def broker_check() -> dict:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {"ok": True, "detail": "no broker: tasks run in process"}
    with app.connection_for_write(settings.CELERY_BROKER_URL) as connection:
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)
    return {"ok": True}


CHECKS = {"database": database_check, "broker": broker_check}


def health_report() -> tuple[bool, dict]:
    checks = {}
    for name, check in CHECKS.items():
        started = time.monotonic()
        try:
            result = check()
        except Exception as error:  # any failure makes the probe fail; the log has the detail
            logger.warning("health check %s failed: %r", name, error)
            result = {"ok": False, "detail": error.__class__.__name__}
        result["ms"] = round((time.monotonic() - started) * 1000, 1)
        checks[name] = result
    healthy = all(c["ok"] for c in checks.values())
    return healthy, {"status": "ok" if healthy else "unavailable", "checks": checks}


class HealthCheckMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path != PATH and request.path != PATH + "/":
            return self.get_response(request)
        request.moodwatch_route = "healthz"  # the route name in the request metrics (backend.core.metrics)
        if request.method not in ("GET", "HEAD"):
            return JsonResponse(error_body("method_not_allowed", "Use GET."), status=405)
        healthy, body = health_report()
        response = JsonResponse(body, status=200 if healthy else 503)
        response["Cache-Control"] = "no-store"
        return response
