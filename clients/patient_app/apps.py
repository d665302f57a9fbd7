from django.apps import AppConfig


class PatientAppConfig(AppConfig):
    name = "clients.patient_app"
    label = "patient_app"
    verbose_name = "Patient app"
