from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "backend.alerts"
    label = "alerts"
    verbose_name = "Alerts"

    def ready(self) -> None:
        # Registers the tasks that services.py enqueues by name (backend.core.tasks).
        from . import tasks  # noqa: F401
