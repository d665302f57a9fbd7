from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "backend.ingest"
    label = "ingest"

    def ready(self) -> None:
        # Registers the tasks that services.py enqueues by name (backend.core.tasks).
        from . import tasks  # noqa: F401
