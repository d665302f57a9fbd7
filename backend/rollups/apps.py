from django.apps import AppConfig


class RollupsConfig(AppConfig):
    name = "backend.rollups"
    label = "rollups"
    verbose_name = "Mood rollups"
