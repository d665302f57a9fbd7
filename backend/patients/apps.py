from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "backend.patients"
    label = "patients"
