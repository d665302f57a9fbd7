"""The patient app at /app/ (included by backend/urls.py)."""
from django.urls import path

from . import views

app_name = "patient_app"

urlpatterns = [
    path("", views.app_shell, name="shell"),
    path("manifest.webmanifest", views.web_manifest, name="manifest"),
    path("sw.js", views.service_worker, name="service-worker"),
]
