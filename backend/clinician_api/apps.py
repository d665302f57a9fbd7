from django.apps import AppConfig


class ClinicianApiConfig(AppConfig):
    name = "backend.clinician_api"
    label = "clinician_api"
