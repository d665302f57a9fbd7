"""Who may call what: every API endpoint and dashboard page against seven personas, exact statuses.

Personas: anonymous, a device of patient A, a revoked device of A, a device of patient B, the
clinician of A, the clinician of B, and an admin (superuser). Every request targets patient A's
data. Another patient's data is a 404, never a 403 that confirms it exists, and never data.

A route added to the URL configuration without a row here fails
test_every_route_is_in_the_matrix, so the matrix stays complete as pages are added.
"""
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.utils import timezone

from inference.estimator import DEFAULT_MODEL, browser_model_path
from tests.backend.factories import DeviceFactory, PatientFactory, UserFactory

CLASSIFIER_SHA256 = hashlib.sha256(browser_model_path(DEFAULT_MODEL).read_bytes()).hexdigest()
PERSONAS = ["anonymous", "device_a", "revoked_device", "device_b", "clinician_a", "clinician_b", "admin"]
LOGIN = 302  # a dashboard page sends a visitor without a session to the login page
NO_SESSION = {"anonymous": LOGIN, "device_a": LOGIN, "revoked_device": LOGIN, "device_b": LOGIN}
API_NO_USER = {"anonymous": 401, "device_a": 401, "revoked_device": 401, "device_b": 401}
DEVICE_API_NO_DEVICE = {"anonymous": 401, "revoked_device": 401, "clinician_a": 401, "clinician_b": 401, "admin": 401}


@dataclass(frozen=True)
class Row:
    route: str  # the URL name, e.g. "dashboard:patient-detail"
    method: str
    path: str  # formatted with the world's ids: {patient}, {batch}, {device}, {alert}
    expected: dict = field(hash=False)
    data: dict | None = field(default=None, hash=False)
    json: bool = False

    def __str__(self):
        return f"{self.method} {self.route}"


def rows() -> list[Row]:
    patient_page = {**NO_SESSION, "clinician_a": 200, "clinician_b": 404, "admin": 200}
    patient_action = {**NO_SESSION, "clinician_a": 302, "clinician_b": 404, "admin": 302}
    clinician_api = {**API_NO_USER, "clinician_a": 200, "clinician_b": 404, "admin": 200}
    everyone_logged_in = {**NO_SESSION, "clinician_a": 200, "clinician_b": 200, "admin": 200}
    return [
        # --- device API ---
        Row("device-enroll", "POST", "/api/v1/devices/enroll/", json=True, data={"code": "WRONG-CODE1"},
            expected={p: 400 for p in PERSONAS}),  # no credential needed: the one-time code is it
        Row("frame-batch-list", "POST", "/api/v1/frame-batches/", data="upload",
            expected={**DEVICE_API_NO_DEVICE, "device_a": 202, "device_b": 202}),
        Row("frame-batch-detail", "GET", "/api/v1/frame-batches/{batch}/",
            expected={**DEVICE_API_NO_DEVICE, "device_a": 200, "device_b": 404}),
        # both patients upload frames: a mood batch is refused (inference_mode_mismatch) before its body is read
        Row("mood-batch-list", "POST", "/api/v1/mood-batches/", json=True, data={},
            expected={**DEVICE_API_NO_DEVICE, "device_a": 403, "device_b": 403}),
        # an empty body: each device gets past authentication to the validation (400), never another's data
        Row("self-report-list", "POST", "/api/v1/self-reports/", json=True, data={},
            expected={**DEVICE_API_NO_DEVICE, "device_a": 400, "device_b": 400}),
        Row("model-manifest", "GET", "/api/v1/model/",
            expected={**DEVICE_API_NO_DEVICE, "device_a": 200, "device_b": 200}),
        # the model files are public weights, the same for everyone (docs/api.md): no credential needed
        Row("model-file", "GET", f"/api/v1/model/files/{CLASSIFIER_SHA256}/classifier.tflite",
            expected={p: 200 for p in PERSONAS}),
        # --- the patient app: static pages with no patient data (it talks to the device API) ---
        Row("patient_app:shell", "GET", "/app/", expected={p: 200 for p in PERSONAS}),
        Row("patient_app:manifest", "GET", "/app/manifest.webmanifest", expected={p: 200 for p in PERSONAS}),
        Row("patient_app:service-worker", "GET", "/app/sw.js", expected={p: 200 for p in PERSONAS}),
        # --- clinician API ---
        Row("patient-list", "GET", "/api/v1/patients/",
            expected={**API_NO_USER, "clinician_a": 200, "clinician_b": 200, "admin": 200}),
        Row("patient-detail", "PATCH", "/api/v1/patients/{patient}/", json=True, data={"inference_mode": "frames"},
            expected=clinician_api),
        Row("patient-moods", "GET", "/api/v1/patients/{patient}/moods/", expected=clinician_api),
        Row("patient-mood-summary", "GET", "/api/v1/patients/{patient}/mood-summary/", expected=clinician_api),
        Row("patient-enrollment-codes", "POST", "/api/v1/patients/{patient}/enrollment-codes/",
            expected={**API_NO_USER, "clinician_a": 201, "clinician_b": 404, "admin": 201}),
        # --- schema, docs, API login ---
        Row("api-schema", "GET", "/api/v1/schema/", expected={p: 200 for p in PERSONAS}),
        Row("api-docs", "GET", "/api/v1/docs/", expected={p: 200 for p in PERSONAS}),
        Row("rest_framework:login", "GET", "/api/v1/auth/login/", expected={p: 200 for p in PERSONAS}),
        Row("rest_framework:logout", "POST", "/api/v1/auth/logout/", expected={p: 302 for p in PERSONAS}),
        # --- dashboard ---
        Row("dashboard:home", "GET", "/", expected={p: 302 for p in PERSONAS}),
        Row("dashboard:login", "GET", "/login/", expected={**{p: 200 for p in NO_SESSION},
                                                          "clinician_a": 302, "clinician_b": 302, "admin": 302}),
        Row("dashboard:logout", "POST", "/logout/", expected={p: 302 for p in PERSONAS}),
        # the second factor: where none is required (tests, development) a session goes straight on,
        # and an account may still choose to set up an app (tests/backend/twofactor: with it required)
        Row("dashboard:second-factor", "GET", "/login/second-factor/", expected={p: 302 for p in PERSONAS}),
        Row("dashboard:second-factor-enrol", "GET", "/login/second-factor/enrol/",
            expected={**NO_SESSION, "clinician_a": 200, "clinician_b": 200, "admin": 200}),
        Row("api-token", "POST", "/api/v1/auth/token/", json=True, data={},
            expected={p: 400 for p in PERSONAS}),  # no credential needed: the body carries them
        Row("dashboard:patient-list", "GET", "/patients/", expected=everyone_logged_in),
        Row("dashboard:alert-inbox", "GET", "/alerts/", expected=everyone_logged_in),  # each sees their own
        Row("dashboard:patient-create", "GET", "/patients/new/", expected=everyone_logged_in),
        Row("dashboard:clinician-settings", "GET", "/settings/", expected=everyone_logged_in),  # their own
        Row("dashboard:patient-detail", "GET", "/patients/{patient}/", expected=patient_page),
        Row("dashboard:patient-manage", "GET", "/patients/{patient}/manage/", expected=patient_page),
        # issued on POST, then shown by the GET it redirects to (Post/Redirect/Get)
        Row("dashboard:patient-enrollment-code", "POST", "/patients/{patient}/enrollment-code/",
            expected=patient_action),
        Row("dashboard:patient-enrollment-code", "GET", "/patients/{patient}/enrollment-code/",
            expected=patient_page),
        # GET: the confirmation page; POST: its "Revoke" button
        Row("dashboard:patient-device-revoke", "GET", "/patients/{patient}/devices/{device}/revoke/",
            expected=patient_page),
        Row("dashboard:patient-device-revoke", "POST", "/patients/{patient}/devices/{device}/revoke/",
            expected=patient_action),
        Row("dashboard:patient-consent", "POST", "/patients/{patient}/consent/", data={"consent": "withdraw"},
            expected=patient_action),
        Row("dashboard:patient-active", "POST", "/patients/{patient}/active/", data={"active": "0"},
            expected=patient_action),
        Row("dashboard:patient-thresholds", "POST", "/patients/{patient}/thresholds/", data={},
            expected=patient_action),
        Row("dashboard:patient-inference-mode", "POST", "/patients/{patient}/inference-mode/",
            data={"inference_mode": "frames"}, expected=patient_action),
        Row("dashboard:patient-sampling", "POST", "/patients/{patient}/sampling/",
            data={"sampling_seconds": "10"}, expected=patient_action),
        Row("dashboard:patient-data-delete", "GET", "/patients/{patient}/delete-data/", expected=patient_page),
        Row("dashboard:alert-acknowledge", "POST", "/patients/{patient}/alerts/{alert}/acknowledge/",
            data={"note": "seen"}, expected=patient_action),
        Row("dashboard:alert-assign", "POST", "/patients/{patient}/alerts/{alert}/assign/",
            data={"assignee": "nobody-here"}, expected={**patient_action, "clinician_a": 400, "admin": 400}),
        Row("dashboard:alert-snooze", "POST", "/patients/{patient}/alerts/{alert}/snooze/",
            data={"until": "not a time"}, expected={**patient_action, "clinician_a": 400, "admin": 400}),
        Row("dashboard:alert-resolve", "POST", "/patients/{patient}/alerts/{alert}/resolve/",
            data={"reason": "technical"}, expected=patient_action),
        Row("dashboard:alert-note", "POST", "/patients/{patient}/alerts/{alert}/notes/",
            data={"text": "seen"}, expected=patient_action),
        Row("dashboard:export-records-csv", "GET", "/patients/{patient}/export/records.csv", expected=patient_page),
        Row("dashboard:export-summary-csv", "GET", "/patients/{patient}/export/summary.csv", expected=patient_page),
        Row("dashboard:export-fhir", "GET", "/patients/{patient}/export/fhir.json", expected=patient_page),
        # --- admin (staff only) ---
        Row("admin:index", "GET", "/admin/", expected={**NO_SESSION, "clinician_a": 302, "clinician_b": 302,
                                                       "admin": 200}),
        Row("admin:patients_patient_changelist", "GET", "/admin/patients/patient/",
            expected={**NO_SESSION, "clinician_a": 302, "clinician_b": 302, "admin": 200}),
        Row("admin:moods_moodrecord_changelist", "GET", "/admin/moods/moodrecord/",
            expected={**NO_SESSION, "clinician_a": 302, "clinician_b": 302, "admin": 200}),
    ]


ROWS = rows()


@pytest.fixture
def world(db, settings, face_jpeg):
    """Patients A and B, their clinicians and devices, an admin, a batch and an open alert of A's."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; see test_secrets
    from backend.alerts.models import Alert
    from tests.backend.conftest import ingest

    clinician_a, clinician_b = UserFactory(username="dr_a"), UserFactory(username="dr_b")
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    patient_a = PatientFactory(reference="P-A", clinicians=[clinician_a])
    patient_b = PatientFactory(reference="P-B", clinicians=[clinician_b])
    device_a, device_b = DeviceFactory(patient=patient_a), DeviceFactory(patient=patient_b)
    revoked = DeviceFactory(patient=patient_a, revoked_at=timezone.now())
    batch = ingest(device_a, [face_jpeg])
    now = timezone.now()
    alert = Alert.objects.create(patient=patient_a, kind="no_data", raised_at=now - timedelta(hours=1),
                                 evaluated_at=now)
    return {
        "ids": {"patient": patient_a.pk, "batch": batch.batch_id, "device": device_a.pk, "alert": alert.pk},
        "tokens": {"device_a": device_a.token, "revoked_device": revoked.token, "device_b": device_b.token},
        "users": {"clinician_a": clinician_a, "clinician_b": clinician_b, "admin": admin},
        "face_jpeg": face_jpeg,
    }


def client_for(persona: str, world) -> Client:
    if persona in world["tokens"]:
        return Client(HTTP_AUTHORIZATION=f"Device {world['tokens'][persona]}")
    client = Client()
    if persona in world["users"]:
        client.force_login(world["users"][persona])
    return client


def send(row: Row, persona: str, world):
    client = client_for(persona, world)
    path = row.path.format(**world["ids"])
    if row.method == "GET":
        return client.get(path)
    if row.data == "upload":
        from tests.backend.conftest import batch_payload

        return client.post(path, batch_payload([world["face_jpeg"]]))
    if row.method == "PATCH":
        return client.patch(path, row.data, content_type="application/json")
    if row.json:
        return client.post(path, row.data, content_type="application/json")
    return client.post(path, row.data or {})


@pytest.mark.parametrize("persona", PERSONAS)
@pytest.mark.parametrize("row", ROWS, ids=str)
def test_each_persona_gets_exactly_the_expected_status(row, persona, world):
    response = send(row, persona, world)
    assert response.status_code == row.expected[persona], (row.path, persona, response.content[:300])
    if response.status_code == 404 and row.path.startswith("/api/"):
        assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("row", [r for r in ROWS if "{patient}" in r.path or "{batch}" in r.path], ids=str)
def test_another_patients_data_never_appears_in_a_refusal(row, world):
    outsider = "clinician_b" if "{patient}" in row.path else "device_b"
    response = send(row, outsider, world)
    assert response.status_code == 404
    body = response.content.decode(errors="replace")
    assert "P-A" not in body and str(world["ids"]["patient"]) not in body


def test_a_patient_list_shows_a_clinician_only_their_own_patients(world):
    body = client_for("clinician_b", world).get("/api/v1/patients/").json()
    references = {p["reference"] for p in (body["results"] if isinstance(body, dict) else body)}
    assert references == {"P-B"}
    page = client_for("clinician_b", world).get("/patients/").content.decode()
    assert "P-B" in page and "P-A" not in page


def _routes(resolver=None, prefix="", namespace=None) -> set[str]:
    names = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            ns = ":".join(n for n in (namespace, entry.namespace) if n) or None
            if ns == "admin":
                continue  # the admin's many generated pages: its index and two changelists are in the matrix
            names |= _routes(entry, prefix + str(entry.pattern), ns)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(f"{namespace}:{entry.name}" if namespace else entry.name)
    return names


def test_every_route_is_in_the_matrix():
    covered = {row.route for row in ROWS}
    for row in ROWS:  # each row's path really resolves to its route
        sample = row.path.format(patient=uuid.uuid4(), batch=uuid.uuid4(), device=uuid.uuid4(), alert=1)
        match = resolve(sample)
        assert match.view_name == row.route, (row.path, match.view_name)
    missing = _routes() - covered
    assert not missing, f"routes without an access-matrix row: {sorted(missing)}"
