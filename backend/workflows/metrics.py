"""The gauges computed when /metrics is scraped (web only), from the database and the broker: the
backlog of batches, the broker's queues, the last upload, the database's connections. Registered with
backend.core.metrics by this app's ready(); each reader is a few indexed queries, no table scan.

No label names a patient or a device: queues are named by their Celery queue name, or `batches` for
the batches waiting in the database (queued, whether or not their message is on the broker yet)."""
from django.conf import settings
from django.db import connection
from django.db.models import Min
from django.utils import timezone
from kombu.exceptions import ChannelError
from prometheus_client.core import GaugeMetricFamily

from backend.celery import app
from backend.ingest.models import FrameBatch

BROKER_TIMEOUT_SECONDS = 2.0


def backlog_metrics():
    now = timezone.now()
    queued = FrameBatch.objects.filter(status=FrameBatch.Status.QUEUED).order_by()
    summary = queued.aggregate(oldest=Min("received_at"))
    depth = GaugeMetricFamily("moodwatch_queue_depth",
                              "Work waiting: batches queued in the database (`batches`), messages per broker queue.",
                              labels=["queue"])
    depth.add_metric(["batches"], queued.count())
    for name, count in broker_queue_depths().items():
        depth.add_metric([name], count)
    yield depth
    oldest = summary["oldest"]
    yield GaugeMetricFamily("moodwatch_oldest_queued_batch_seconds",
                            "Age of the oldest batch still queued (0 when none is).",
                            value=(now - oldest).total_seconds() if oldest else 0.0)
    processing = FrameBatch.objects.filter(status=FrameBatch.Status.PROCESSING).order_by().count()
    yield GaugeMetricFamily("moodwatch_batches_processing", "Batches a worker is processing now.", value=processing)
    # The newest batch by id (the primary key's index), not a scan of received_at.
    last = FrameBatch.objects.order_by("-pk").values_list("received_at", flat=True).first()
    if last is not None:
        yield GaugeMetricFamily("moodwatch_last_upload_age_seconds",
                                "Seconds since the last upload from any device.",
                                value=max(0.0, (now - last).total_seconds()))


def broker_queue_depths() -> dict[str, int]:
    """Messages waiting on each queue the workers read; empty with tasks in process (no broker)."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return {}
    depths = {}
    with app.connection_for_read() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=BROKER_TIMEOUT_SECONDS)
        for queue in settings.CELERY_TASK_QUEUES:
            channel = conn.channel()
            try:
                depths[queue.name] = channel.queue_declare(queue=queue.name, passive=True).message_count
            except ChannelError:  # the broker has no such queue yet: nothing was ever sent to it
                depths[queue.name] = 0
            finally:
                channel.close()
    return depths


def database_metrics():
    """Client connections against PostgreSQL's max_connections (the alert rule's "near the limit")."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FILTER (WHERE backend_type = 'client backend'),"
                       " current_setting('max_connections')::int,"
                       " current_setting('superuser_reserved_connections')::int FROM pg_stat_activity")
        used, limit, reserved = cursor.fetchone()
    yield GaugeMetricFamily("moodwatch_database_connections", "Client connections open on the database server.",
                            value=used)
    yield GaugeMetricFamily("moodwatch_database_max_connections",
                            "max_connections less the superuser-reserved ones: what the app's roles may open.",
                            value=limit - reserved)
