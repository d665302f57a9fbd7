from django.urls import path
from django.views.generic import RedirectView

from .views import account, alerts, auth, exports, manage, patients

app_name = "dashboard"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="dashboard:patient-list", permanent=False), name="home"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth.LogoutView.as_view(), name="logout"),
    path("login/second-factor/", auth.second_factor, name="second-factor"),
    path("login/second-factor/enrol/", auth.second_factor_enrol, name="second-factor-enrol"),
    path("settings/", account.clinician_settings, name="clinician-settings"),
    path("patients/", patients.patient_list, name="patient-list"),
    path("alerts/", alerts.alert_inbox, name="alert-inbox"),
    path("patients/new/", manage.patient_create, name="patient-create"),
    path("patients/<str:patient_id>/", patients.patient_detail, name="patient-detail"),
    path("patients/<str:patient_id>/manage/", manage.patient_manage, name="patient-manage"),
    path("patients/<str:patient_id>/enrollment-code/", manage.enrollment_code, name="patient-enrollment-code"),
    path(
        "patients/<str:patient_id>/devices/<uuid:device_id>/revoke/", manage.device_revoke,
        name="patient-device-revoke",
    ),
    path("patients/<str:patient_id>/consent/", manage.consent_set, name="patient-consent"),
    path("patients/<str:patient_id>/active/", manage.active_set, name="patient-active"),
    path("patients/<str:patient_id>/inference-mode/", manage.inference_mode_set, name="patient-inference-mode"),
    path("patients/<str:patient_id>/sampling/", manage.sampling_set, name="patient-sampling"),
    path("patients/<str:patient_id>/thresholds/", manage.thresholds_set, name="patient-thresholds"),
    path("patients/<str:patient_id>/delete-data/", manage.data_delete, name="patient-data-delete"),
    path("patients/<str:patient_id>/alerts/<int:alert_id>/acknowledge/", alerts.alert_ack, name="alert-acknowledge"),
    path("patients/<str:patient_id>/alerts/<int:alert_id>/assign/", alerts.alert_assign_view, name="alert-assign"),
    path("patients/<str:patient_id>/alerts/<int:alert_id>/snooze/", alerts.alert_snooze_view, name="alert-snooze"),
    path("patients/<str:patient_id>/alerts/<int:alert_id>/resolve/", alerts.alert_resolve_view, name="alert-resolve"),
    path("patients/<str:patient_id>/alerts/<int:alert_id>/notes/", alerts.alert_note_view, name="alert-note"),
    path("patients/<str:patient_id>/export/records.csv", exports.records_csv, name="export-records-csv"),
    path("patients/<str:patient_id>/export/summary.csv", exports.summary_csv, name="export-summary-csv"),
    path("patients/<str:patient_id>/export/fhir.json", exports.summary_fhir, name="export-fhir"),
]
