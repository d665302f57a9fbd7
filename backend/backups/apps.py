from django.apps import AppConfig


class BackupsConfig(AppConfig):
    """Backups and restores of the PostgreSQL database: pg_dump with a manifest, audited (no models)."""

    name = "backend.backups"
    label = "backups"
