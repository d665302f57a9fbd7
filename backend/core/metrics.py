"""Prometheus metrics: every counter the platform keeps, the increments services call, and the
authenticated `/metrics` answer (web) and exporter (Celery worker). prometheus-client, the
Prometheus project's own Python client.

Services call the small functions below (never a metric object), after their transaction commits, so
a rolled-back write is never counted. No label carries a patient, a device or a person: the labels
are batch statuses, record sources, alert rules, queue names, model versions and route names.

Processes. gunicorn and the Celery prefork pool run several processes: with PROMETHEUS_MULTIPROC_DIR
set (gunicorn.conf.py sets it for gunicorn; docker-compose.metrics.yml for the worker) each process
writes its values to memory-mapped files in that folder and a scrape adds them up
(prometheus_client.multiprocess). Without it (`make run`, the tests) one process holds them in memory.

Gauges computed when scraped (the batch backlog, the broker's queues, database connections) come from
readers registered by the layers that own the data (`scrape_reader_add`, see backend.workflows.apps):
this module, at the bottom of the layers, reads no application table itself.
"""
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from wsgiref.simple_server import WSGIRequestHandler, make_server

from django.conf import settings
from django.http import HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import Metric

from .errors import error_response

logger = logging.getLogger(__name__)

PATH = "/metrics"
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# --- the metrics -----------------------------------------------------------------------------------

BATCH_STATUSES = ("done", "failed", "retried")
RECORD_SOURCES = ("server", "device")

BATCHES = Counter("moodwatch_batches", "Batches that landed done or failed, and attempts handed back for a retry.",
                  ["status"])
FRAMES = Counter("moodwatch_frames", "Frames received in new uploads (a replayed upload is not counted).")
RECORDS = Counter("moodwatch_records", "Mood records stored, by where their mood was computed.", ["source"])
BATCH_LATENCY = Histogram(
    "moodwatch_batch_latency_seconds", "From a batch's upload (received_at) to its records committed.",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 24 * 3600),
)
ALERTS_RAISED = Counter("moodwatch_alerts_raised", "Alerts newly raised, by rule.", ["rule"])
ALERT_EVALUATION_LAG = Histogram(
    "moodwatch_alert_evaluation_lag_seconds",
    "From a batch landing to the evaluation of its patient's alert rules (debounce included).",
    buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 900, 3600),
)
MODEL_INFO = Gauge("moodwatch_model_info", "The mood model this process loaded (value 1).", ["version"],
                   multiprocess_mode="livemax")
HTTP_REQUESTS = Counter("moodwatch_http_requests", "HTTP requests answered, by route name, method and status.",
                        ["view", "method", "status"])
HTTP_LATENCY = Histogram("moodwatch_http_request_duration_seconds", "Time to answer, by route name and method.",
                         ["view", "method"],
                         buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))

for _status in BATCH_STATUSES:  # every series exists from the start at 0, so rate() and increase() see it
    BATCHES.labels(_status)
for _source in RECORD_SOURCES:
    RECORDS.labels(_source)


# --- the increments services call ------------------------------------------------------------------

def frames_received(*, count: int) -> None:
    FRAMES.inc(count)


def batch_landed(*, status: str, records: int, source: str, latency_seconds: float | None) -> None:
    """A batch landed (done or failed) and its transaction committed."""
    BATCHES.labels(status).inc()
    if records:
        RECORDS.labels(source).inc(records)
    if status == "done" and latency_seconds is not None:
        BATCH_LATENCY.observe(max(0.0, latency_seconds))


def batch_retried() -> None:
    """An attempt failed or was stuck, and the batch was handed back to the queue for another."""
    BATCHES.labels("retried").inc()


def alert_raised(*, rule: str) -> None:
    ALERTS_RAISED.labels(rule).inc()


def alert_evaluated(*, lag_seconds: float) -> None:
    ALERT_EVALUATION_LAG.observe(max(0.0, lag_seconds))


def model_loaded(*, version: str) -> None:
    MODEL_INFO.labels(version).set(1)


def request_answered(*, view: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(view, method, str(status)).inc()
    HTTP_LATENCY.labels(view, method).observe(seconds)


# --- gauges read when scraped --------------------------------------------------------------------------

_scrape_readers: list[Callable[[], Iterable[Metric]]] = []


def scrape_reader_add(reader: Callable[[], Iterable[Metric]]) -> None:
    """Register a function that yields metric families computed when /metrics is scraped (web only)."""
    if reader not in _scrape_readers:
        _scrape_readers.append(reader)


class _ScrapeCollector:
    def collect(self):
        for reader in _scrape_readers:
            try:
                yield from reader()
            except Exception as error:  # one broken source must not cost the whole scrape
                logger.warning("metrics reader %s failed: %r", getattr(reader, "__name__", reader), error)


class _Delegate:
    """The process's own registry, inside the registry a scrape builds."""

    def __init__(self, registry):
        self.registry = registry

    def collect(self):
        return self.registry.collect()


def multiprocess_dir() -> str:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def exposition(*, with_scrape_readers: bool) -> bytes:
    """The text format: this process's metrics (or all processes' in multiprocess mode), and the gauges
    computed now when asked."""
    registry = CollectorRegistry(auto_describe=False)
    if multiprocess_dir():
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Delegate(REGISTRY))
    if with_scrape_readers:
        registry.register(_ScrapeCollector())
    return generate_latest(registry)


# --- who may read them -------------------------------------------------------------------------------

def token_matches(authorization: str) -> bool:
    """`Authorization: Bearer <METRICS_TOKEN>`, compared in constant time. Nothing else (no query string,
    no cookie) is ever read."""
    expected = settings.METRICS_TOKEN
    scheme, _, given = (authorization or "").strip().partition(" ")
    if not expected or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8", "replace"), expected.encode())


def refusal(authorization: str) -> tuple[int, dict, bytes] | None:
    """(status, headers, body) of the refusal, or None when the caller may read the metrics. 404 while no
    METRICS_TOKEN is set: the endpoint does not exist. 401 otherwise, the platform's JSON error body."""
    if not settings.METRICS_TOKEN:
        response = error_response("not_found", "There is nothing at this address.", 404)
    elif not token_matches(authorization):
        response = error_response("unauthorized", "Give the metrics token as `Authorization: Bearer <token>`.", 401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    else:
        return None
    return response.status_code, dict(response.items()), response.content


class MetricsMiddleware:
    """GET /metrics, answered before host validation and the HTTPS redirect (as /healthz is): Prometheus
    scrapes web over the internal network by its service name, in plain HTTP."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path not in (PATH, PATH + "/"):
            return self.get_response(request)
        request.moodwatch_route = "metrics"
        refused = refusal(request.META.get("HTTP_AUTHORIZATION", ""))
        if refused is not None:
            status, headers, body = refused
            response = HttpResponse(body, status=status)
            for name, value in headers.items():
                response[name] = value
            return response
        if request.method not in ("GET", "HEAD"):
            return error_response("method_not_allowed", "Use GET.", 405)
        response = HttpResponse(exposition(with_scrape_readers=True), content_type=CONTENT_TYPE_LATEST)
        response["Cache-Control"] = "no-store"
        return response


class RequestMetricsMiddleware:
    """Counts and times every answer by route name (the URL pattern's name, never the raw path, which
    would carry patient references and ids); placed first, so the time includes all other middleware."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        view = (match.view_name if match is not None and match.view_name else None) or getattr(
            request, "moodwatch_route", "unresolved")
        method = request.method if request.method in KNOWN_METHODS else "other"
        request_answered(view=view, method=method, status=response.status_code,
                         seconds=time.perf_counter() - started)
        return response


# --- the Celery worker's own port ----------------------------------------------------------------------

def worker_app(environ, start_response):
    """The worker's exporter (a WSGI app): the same token rule and format as web's /metrics, the
    worker's processes' metrics only (the scrape-time gauges are web's)."""
    route = environ.get("PATH_INFO", "")
    refused = refusal(environ.get("HTTP_AUTHORIZATION", ""))
    if refused is None and route not in (PATH, PATH + "/", "/"):
        refused = (404, {"Content-Type": "application/json"}, b'{"code": "not_found", "detail": "Use /metrics."}')
    if refused is not None:
        status, headers, body = refused
        start_response(f"{status} {'Unauthorized' if status == 401 else 'Not Found'}", list(headers.items()))
        return [body]
    body = exposition(with_scrape_readers=False)
    start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Cache-Control", "no-store")])
    return [body]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # no access line per scrape (it would carry the client address)
        pass


def worker_exporter_start(*, port: int, address: str = "0.0.0.0"):
    """Serve worker_app on `port` in a daemon thread of the worker's main process; returns the server."""
    if not multiprocess_dir():
        logger.warning("worker metrics on port %s without PROMETHEUS_MULTIPROC_DIR: only the main process's "
                       "are exported, not the pool's", port)
    server = make_server(address, port, worker_app, handler_class=_QuietHandler)
    threading.Thread(target=server.serve_forever, name="metrics-exporter", daemon=True).start()
    logger.info("worker metrics exported on port %s", server.server_port)
    return server


def multiprocess_dir_reset() -> None:
    """Remove the value files a previous run of this container left (at server start, before any fork)."""
    folder = multiprocess_dir()
    if not folder:
        return
    os.makedirs(folder, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(".db"):
            os.remove(os.path.join(folder, name))


def process_dead(pid: int) -> None:
    """A gunicorn or Celery child exited: drop its live gauges (its counters stay summed)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(pid)
