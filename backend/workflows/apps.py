from django.apps import AppConfig


class WorkflowsConfig(AppConfig):
    name = "backend.workflows"
    label = "workflows"

    def ready(self) -> None:
        # Imported here, not at the top: Django loads apps.py before any app's models are ready.
        # The ingest service announces a landing batch (backend.ingest.signals); what follows it,
        # in roll-ups and alerts, is decided here, so ingest imports neither of them.
        from backend.ingest.signals import batch_landing

        from .services import batch_landing_follow

        batch_landing.connect(batch_landing_follow, dispatch_uid="workflows.batch_landing_follow")

        # The gauges /metrics computes when scraped (the backlog, the broker, the database's connections).
        from backend.core.metrics import scrape_reader_add

        from .metrics import backlog_metrics, database_metrics

        scrape_reader_add(backlog_metrics)
        scrape_reader_add(database_metrics)
