from django.apps import AppConfig


class IngestConfig(AppConfig):
    name = "backend.ingest"
    label = "ingest"
