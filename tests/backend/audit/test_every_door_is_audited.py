"""Every door to patient data leaves an audit row: each URL pattern, each admin action and admin page
of a model that holds patient data, and each management command of the project.

A new route, admin action or command that is in neither the audited table nor the exempt list (with
its reason) fails here, so nobody can add a door and forget the audit, as the access matrix does for
permissions."""
import io
import uuid
from datetime import timedelta

import pytest
from django.contrib import admin
from django.core.management import call_command, get_commands
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from backend.alerts.models import Alert
from backend.audit.models import SYSTEM_ACTOR, AuditAction, AuditChannel, AuditEvent
from tests.backend.factories import DeviceFactory, SelfReportFactory, add_records

# Routes that reach no patient's data, with the reason.
EXEMPT_ROUTES = {
    "api-schema": "the OpenAPI document",
    "api-docs": "the Swagger UI page",
    "rest_framework:login": "login form",
    "rest_framework:logout": "logout",
    "dashboard:home": "a redirect to the patient list",
    "dashboard:login": "login form",
    "dashboard:logout": "logout",
    "dashboard:second-factor": "the login's second step (wrong codes are audited as auth.otp_failure)",
    "dashboard:second-factor-enrol": "setting up the authenticator app (audited as auth.otp_enrol)",
    "api-token": "the API's login (wrong second-factor codes are audited as auth.otp_failure)",
    "frame-batch-list": "a device uploading its own frames (the batch row is the record)",
    "frame-batch-detail": "a device reading the status of its own upload",
    "mood-batch-list": "a device uploading its own mood records (the batch row is the record)",
    "self-report-list": "a device sending its own patient's self-report (the row is the record)",
    "model-manifest": "a device reading which model to run (no patient data)",
    "model-file": "public model weights, the same for every device",
    "patient_app:shell": "the patient app's page: static, no patient data (the app talks to the device API)",
    "patient_app:manifest": "the patient app's web-app manifest",
    "patient_app:service-worker": "the patient app's service worker script",
}


@pytest.fixture
def world(patient, clinician):
    """The patient with a device, records, and an open alert."""
    device = DeviceFactory(patient=patient)
    add_records(patient, timezone.now() - timezone.timedelta(hours=2), "positive", 3)
    SelfReportFactory(device=device)
    now = timezone.now()
    alert = Alert.objects.create(patient=patient, kind=Alert.Kind.NO_DATA, raised_at=now, evaluated_at=now)
    return {"patient": patient, "device": device, "alert": alert}


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def enrollment_code(world, clinician):
    from backend.devices.services import enrollment_code_issue

    return enrollment_code_issue(patient=world["patient"], actor=clinician)[1]


# route name -> (how to call it, the audit action it must leave)
AUDITED_ROUTES = {
    "patient-list": (lambda w, web, c: api(c).get("/api/v1/patients/"), AuditAction.PATIENT_LIST),
    "patient-moods": (lambda w, web, c: api(c).get(f"/api/v1/patients/{w['patient'].pk}/moods/"),
                      AuditAction.RECORDS_READ),
    "patient-mood-summary": (lambda w, web, c: api(c).get(f"/api/v1/patients/{w['patient'].pk}/mood-summary/"),
                             AuditAction.SUMMARY_READ),
    "patient-enrollment-codes": (lambda w, web, c: api(c).post(f"/api/v1/patients/{w['patient'].pk}/enrollment-codes/"),
                                 AuditAction.ENROLLMENT_CODE_ISSUE),
    "device-enroll": (lambda w, web, c: APIClient().post("/api/v1/devices/enroll/",
                                                         {"code": enrollment_code(w, c), "label": "x"}, format="json"),
                      AuditAction.DEVICE_ENROLL),
    "patient-detail": (lambda w, web, c: api(c).patch(f"/api/v1/patients/{w['patient'].pk}/",
                                                      {"inference_mode": "on_device"}, format="json"),
                       AuditAction.PATIENT_UPDATE),
    "dashboard:patient-inference-mode": (lambda w, web, c: web.post(f"/patients/{w['patient'].pk}/inference-mode/",
                                                                    {"inference_mode": "on_device"}),
                                         AuditAction.PATIENT_UPDATE),
    "dashboard:patient-sampling": (lambda w, web, c: web.post(f"/patients/{w['patient'].pk}/sampling/",
                                                              {"sampling_seconds": "30"}),
                                   AuditAction.PATIENT_UPDATE),
    "dashboard:patient-list": (lambda w, web, c: web.get("/patients/"), AuditAction.PATIENT_LIST),
    "dashboard:alert-inbox": (lambda w, web, c: web.get("/alerts/"), AuditAction.ALERT_INBOX),
    "dashboard:patient-create": (lambda w, web, c: web.post("/patients/new/", {
        "reference": "P-NEW", "display_name": "", "timezone": "UTC"}), AuditAction.PATIENT_CREATE),
    "dashboard:patient-detail": (lambda w, web, c: web.get(f"/patients/{w['patient'].pk}/"), AuditAction.PATIENT_VIEW),
    "dashboard:patient-manage": (lambda w, web, c: web.get(f"/patients/{w['patient'].pk}/manage/"),
                                 AuditAction.PATIENT_VIEW),
    "dashboard:patient-enrollment-code": (lambda w, web, c: web.post(f"/patients/{w['patient'].pk}/enrollment-code/"),
                                          AuditAction.ENROLLMENT_CODE_ISSUE),
    "dashboard:patient-device-revoke": (
        lambda w, web, c: web.post(f"/patients/{w['patient'].pk}/devices/{w['device'].pk}/revoke/"),
        AuditAction.DEVICE_REVOKE),
    "dashboard:patient-consent": (lambda w, web, c: web.post(f"/patients/{w['patient'].pk}/consent/",
                                                             {"consent": "withdraw"}), AuditAction.CONSENT_WITHDRAW),
    "dashboard:patient-active": (lambda w, web, c: web.post(f"/patients/{w['patient'].pk}/active/", {"active": "0"}),
                                 AuditAction.PATIENT_DEACTIVATE),
    "dashboard:patient-thresholds": (lambda w, web, c: web.post(f"/patients/{w['patient'].pk}/thresholds/",
                                                                {"window_days": "4"}),
                                     AuditAction.ALERT_THRESHOLDS_CHANGE),
    # no patient's data: the clinician's own time zone, audited as a change of what they are shown
    "dashboard:clinician-settings": (lambda w, web, c: web.post("/settings/", {"timezone": "Europe/Paris"}),
                                     AuditAction.CLINICIAN_TIMEZONE),
    "dashboard:patient-data-delete": (lambda w, web, c: web.get(f"/patients/{w['patient'].pk}/delete-data/"),
                                      AuditAction.PATIENT_VIEW),
    "dashboard:alert-acknowledge": (
        lambda w, web, c: web.post(f"/patients/{w['patient'].pk}/alerts/{w['alert'].pk}/acknowledge/",
                                   {"note": "called the patient"}),
        AuditAction.ALERT_ACKNOWLEDGE),
    "dashboard:alert-assign": (
        lambda w, web, c: web.post(f"/patients/{w['patient'].pk}/alerts/{w['alert'].pk}/assign/",
                                   {"assignee": c.get_username()}),
        AuditAction.ALERT_ASSIGN),
    "dashboard:alert-snooze": (
        lambda w, web, c: web.post(f"/patients/{w['patient'].pk}/alerts/{w['alert'].pk}/snooze/",
                                   {"until": f"{timezone.now() + timedelta(hours=2):%Y-%m-%dT%H:%M}", "tz": "UTC"}),
        AuditAction.ALERT_SNOOZE),
    "dashboard:alert-resolve": (
        lambda w, web, c: web.post(f"/patients/{w['patient'].pk}/alerts/{w['alert'].pk}/resolve/",
                                   {"reason": "technical"}),
        AuditAction.ALERT_RESOLVE),
    "dashboard:alert-note": (
        lambda w, web, c: web.post(f"/patients/{w['patient'].pk}/alerts/{w['alert'].pk}/notes/",
                                   {"text": "called the patient"}),
        AuditAction.ALERT_NOTE),
    "dashboard:export-records-csv": (lambda w, web, c: web.get(f"/patients/{w['patient'].pk}/export/records.csv"),
                                     AuditAction.EXPORT_RECORDS_CSV),
    "dashboard:export-summary-csv": (lambda w, web, c: web.get(f"/patients/{w['patient'].pk}/export/summary.csv"),
                                     AuditAction.EXPORT_SUMMARY_CSV),
    "dashboard:export-fhir": (lambda w, web, c: web.get(f"/patients/{w['patient'].pk}/export/fhir.json"),
                              AuditAction.EXPORT_FHIR),
}


def route_names() -> set[str]:
    names = set()

    def walk(patterns, namespace=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.app_name == "admin":
                    continue  # the admin: its actions and pages are walked below
                inner = f"{namespace}:{pattern.namespace}" if namespace and pattern.namespace else (
                    pattern.namespace or namespace)
                walk(pattern.url_patterns, inner)
            elif isinstance(pattern, URLPattern):
                assert pattern.name, f"route {pattern.pattern} has no name"
                names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver().url_patterns)
    return names


def test_every_route_is_either_audited_or_exempt_with_a_reason():
    unclassified = route_names() - set(AUDITED_ROUTES) - set(EXEMPT_ROUTES)
    assert not unclassified, f"routes with no audit rule: {sorted(unclassified)}"
    assert not (set(AUDITED_ROUTES) | set(EXEMPT_ROUTES)) - route_names(), "the tables name routes that are gone"


@pytest.mark.parametrize("name", sorted(AUDITED_ROUTES))
def test_each_route_to_patient_data_leaves_an_audit_row(name, world, clinician, clinician_web):
    call, action = AUDITED_ROUTES[name]
    before = set(AuditEvent.objects.values_list("pk", flat=True))
    response = call(world, clinician_web, clinician)
    assert response.status_code < 400, response.content[:300]
    new = AuditEvent.objects.exclude(pk__in=before)
    assert action in set(new.values_list("action", flat=True))
    event = new.filter(action=action).get()
    expected_channel = (AuditChannel.DEVICE if name == "device-enroll" else
                        AuditChannel.DASHBOARD if name.startswith("dashboard:") else AuditChannel.API)
    assert event.channel == expected_channel
    assert event.actor_username == (SYSTEM_ACTOR if name == "device-enroll" else clinician.username)
    assert event.ip_address == "127.0.0.1"


# --- the admin -------------------------------------------------------------------------------------

PATIENT_DATA_MODELS = {"patients.patient", "devices.device", "devices.enrollmentcode", "alerts.alert",
                       "alerts.alertthresholds", "moods.moodrecord", "moods.selfreport", "ingest.framebatch"}
# (model, action) -> the audit action it must leave
AUDITED_ADMIN_ACTIONS = {
    ("patients.patient", "record_consent"): AuditAction.CONSENT_RECORD,
    ("patients.patient", "withdraw_consent"): AuditAction.CONSENT_WITHDRAW,
    ("patients.patient", "issue_enrollment_code"): AuditAction.ENROLLMENT_CODE_ISSUE,
    ("devices.device", "revoke"): AuditAction.DEVICE_REVOKE,
}
# Admin list and change pages that show patients' data.
AUDITED_ADMIN_PAGES = {"patients.patient", "alerts.alert", "moods.moodrecord", "moods.selfreport", "ingest.framebatch"}


def registered_admins():
    return {model._meta.label_lower: model_admin for model, model_admin in admin.site._registry.items()
            if model._meta.label_lower in PATIENT_DATA_MODELS}


def test_every_admin_action_on_patient_data_is_audited_and_none_deletes_it(admin_user):
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    assert set(registered_admins()) == PATIENT_DATA_MODELS
    for label, model_admin in registered_admins().items():
        actions = set(model_admin.get_actions(request))
        assert "delete_selected" not in actions, f"{label}: bulk delete would bypass the audited deletion"
        assert not model_admin.has_delete_permission(request), f"{label}: deletable in the admin"
        unaudited = {(label, name) for name in actions} - set(AUDITED_ADMIN_ACTIONS)
        assert not unaudited, f"admin actions with no audit rule: {sorted(unaudited)}"


@pytest.mark.parametrize(("label", "action"), sorted(AUDITED_ADMIN_ACTIONS))
def test_each_admin_action_leaves_an_audit_row_naming_the_admin(label, action, world, admin_web, admin_user):
    app, model = label.split(".")
    target = world["patient"] if model == "patient" else world["device"]
    response = admin_web.post(f"/admin/{app}/{model}/", {"action": action, "_selected_action": [str(target.pk)]})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AUDITED_ADMIN_ACTIONS[(label, action)])
    assert (event.actor, event.channel, event.patient) == (admin_user, AuditChannel.ADMIN, world["patient"])


@pytest.mark.parametrize("label", sorted(AUDITED_ADMIN_PAGES))
def test_admin_pages_showing_patient_data_leave_an_audit_row(label, world, admin_web, admin_user):
    app, model = label.split(".")
    assert admin_web.get(f"/admin/{app}/{model}/").status_code == 200
    row = registered_admins()[label].model.objects.first()
    assert admin_web.get(f"/admin/{app}/{model}/{row.pk}/change/").status_code == 200
    events = AuditEvent.objects.filter(action=AuditAction.ADMIN_VIEW, actor=admin_user, channel=AuditChannel.ADMIN)
    assert events.count() == 2
    assert events.filter(patient=world["patient"]).count() == 1


def test_an_admin_edit_of_a_patient_is_audited_with_what_changed(world, admin_web, admin_user, clinician):
    patient = world["patient"]
    response = admin_web.post(f"/admin/patients/patient/{patient.pk}/change/", {
        "display_name": "Renamed", "timezone": patient.timezone, "is_active": "on",
        "clinicians": [str(clinician.pk), str(admin_user.pk)], "inference_mode": patient.inference_mode,
    })
    assert response.status_code == 302, response.content[:500]
    event = AuditEvent.objects.filter(action=AuditAction.PATIENT_UPDATE).order_by("id")
    assert [e.detail for e in event] == [
        {"fields": {"display_name": "Renamed"}},
        {"fields": {}, "clinicians": {"before": ["dr_house"], "after": sorted(["admin", "dr_house"])}},
    ]


def test_an_admin_change_of_the_inference_mode_goes_through_its_service_and_is_audited(world, admin_web, clinician):
    patient = world["patient"]
    assert patient.inference_mode == "frames"
    response = admin_web.post(f"/admin/patients/patient/{patient.pk}/change/", {
        "display_name": patient.display_name, "timezone": patient.timezone, "is_active": "on",
        "clinicians": [str(clinician.pk)], "inference_mode": "on_device",
    })
    assert response.status_code == 302, response.content[:500]
    patient.refresh_from_db()
    assert patient.inference_mode == "on_device"
    (event,) = AuditEvent.objects.filter(action=AuditAction.PATIENT_UPDATE)
    assert event.detail == {"fields": {"inference_mode": "on_device"}, "before": {"inference_mode": "frames"}}
    assert event.channel == AuditChannel.ADMIN


# --- management commands -----------------------------------------------------------------------------

EXEMPT_COMMANDS = {
    "demo_clinician": "creates the DEMO login; no patient data",
    "demo_run": "starts the demo; the services it calls audit each write",
    "db_app_role": "creates the app's database role and its rights; no patient data",
    "api_token": "issues a clinician API token (shown once); no patient data",
    "db_restore": "audited as db.restore in the database it restores, not this one (tests/backend/backups)",
}
AUDITED_COMMANDS = {
    "create_patient": (["--ref", "P-CMD", "--clinician", "dr_house", "--consent"],
                       {AuditAction.PATIENT_CREATE, AuditAction.CONSENT_RECORD}),
    "enrollment_code": (["--patient", "P-ALPHA"], {AuditAction.ENROLLMENT_CODE_ISSUE}),
    "second_factor_reset": (["--user", "dr_house"], {AuditAction.OTP_RESET}),
    "db_backup": (["--out", "{tmp}/P-CMD.dump"], {AuditAction.DB_BACKUP}),  # {tmp}: the test's tmp_path
}


def project_commands() -> set[str]:
    return {name for name, app in get_commands().items() if app.startswith("backend.")}


def test_every_project_command_is_either_audited_or_exempt_with_a_reason():
    assert project_commands() == set(AUDITED_COMMANDS) | set(EXEMPT_COMMANDS)


@pytest.mark.parametrize("name", sorted(AUDITED_COMMANDS))
def test_a_command_names_its_actor_or_the_system(name, world, admin_user, tmp_path):
    args, actions = AUDITED_COMMANDS[name]
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    call_command(name, *args, stdout=io.StringIO(), stderr=io.StringIO())
    call_command(name, *[a.replace("P-CMD", "P-CMD2") for a in args], "--actor", "admin",
                 stdout=io.StringIO(), stderr=io.StringIO())
    events = AuditEvent.objects.filter(channel=AuditChannel.COMMAND)
    assert set(events.values_list("action", flat=True)) == actions
    assert {(e.actor_id, e.actor_username) for e in events} == {(None, SYSTEM_ACTOR), (admin_user.pk, "admin")}


def test_a_command_refuses_an_unknown_actor(world):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No such active user: nobody"):
        call_command("enrollment_code", "--patient", "P-ALPHA", "--actor", "nobody", stdout=io.StringIO())
    assert not AuditEvent.objects.exists()


def test_unknown_patient_ids_leave_no_audit_row(clinician_web, clinician):
    assert clinician_web.get(f"/patients/{uuid.uuid4()}/").status_code == 404
    assert api(clinician).get(f"/api/v1/patients/{uuid.uuid4()}/moods/").status_code == 404
    assert not AuditEvent.objects.exists()
