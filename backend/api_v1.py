"""Routes of API version 1."""
from django.urls import path

from backend.clinician_api.auth import ApiTokenCreateView
from backend.clinician_api.views import (
    EnrollmentCodeCreateView,
    PatientDetailView,
    PatientListView,
    PatientMoodListView,
    PatientMoodSummaryView,
)
from backend.devices.views import DeviceEnrollView
from backend.ingest.model_views import ModelFileView, ModelManifestView
from backend.ingest.self_report_views import SelfReportCreateView
from backend.ingest.views import FrameBatchCreateView, FrameBatchDetailView, MoodBatchCreateView

urlpatterns = [
    # device API
    path("devices/enroll/", DeviceEnrollView.as_view(), name="device-enroll"),
    path("frame-batches/", FrameBatchCreateView.as_view(), name="frame-batch-list"),
    path("frame-batches/<str:batch_id>/", FrameBatchDetailView.as_view(), name="frame-batch-detail"),
    path("mood-batches/", MoodBatchCreateView.as_view(), name="mood-batch-list"),
    path("self-reports/", SelfReportCreateView.as_view(), name="self-report-list"),
    path("model/", ModelManifestView.as_view(), name="model-manifest"),
    path("model/files/<str:sha256>/<str:filename>", ModelFileView.as_view(), name="model-file"),
    # clinician API
    path("auth/token/", ApiTokenCreateView.as_view(), name="api-token"),
    path("patients/", PatientListView.as_view(), name="patient-list"),
    path("patients/<str:patient_id>/", PatientDetailView.as_view(), name="patient-detail"),
    path("patients/<str:patient_id>/moods/", PatientMoodListView.as_view(), name="patient-moods"),
    path("patients/<str:patient_id>/mood-summary/", PatientMoodSummaryView.as_view(), name="patient-mood-summary"),
    path(
        "patients/<str:patient_id>/enrollment-codes/", EnrollmentCodeCreateView.as_view(),
        name="patient-enrollment-codes",
    ),
]
