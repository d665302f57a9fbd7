from django.apps import AppConfig


class MoodsConfig(AppConfig):
    name = "backend.moods"
    label = "moods"
