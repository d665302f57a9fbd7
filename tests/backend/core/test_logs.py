"""Logs: one JSON object a line through settings.LOGGING, a request id that follows a batch from its
upload through the task to its records and alert, and nothing secret or personal written.

The scenario runs the real doors (login, enrollment, upload, the dashboard's acknowledgement, /metrics)
with tasks in process, and every line the configured handler writes is captured and grepped for the
secrets and the names the test created."""
import copy
import io
import json
import logging
import logging.config

import pytest
from django.test import Client

from backend.alerts.models import Alert, AlertThresholds
from backend.core import logs
from backend.devices.services import enrollment_code_issue
from backend.ingest import services
from backend.ingest.tasks import process_batch
from tests.backend.conftest import batch_payload, ingest
from tests.backend.factories import PatientFactory, UserFactory
from tests.support import PASSWORD

DISPLAY_NAME = "Zebulon Quixotewright"
CLINICIAN_NAME = ("Wilhelmina", "Brackenbury")
NOTE = "Rang Zebulon's sister Philomena about the missed tablets"
DEVICE_LABEL = "Zebulon Quixotewright's phone"
WRONG_PASSWORD = "Wr0ng-Quokka-password-17"
METRICS_TOKEN = "metrics-token-for-the-log-test-0c7e2b91f4"
UPLOAD_REQUEST_ID = "upload-req-0001abcd"


@pytest.fixture
def captured_logs(settings):
    """settings.LOGGING as configured, its console handler writing into a buffer."""
    buffer = io.StringIO()
    config = copy.deepcopy(settings.LOGGING)
    config["handlers"]["console"]["stream"] = buffer
    logging.config.dictConfig(config)
    try:
        yield buffer
    finally:
        logging.config.dictConfig(settings.LOGGING)


def test_logging_is_configured_as_json_lines_with_the_request_id_and_redaction(settings):
    handler = settings.LOGGING["handlers"]["console"]
    assert settings.LOGGING["formatters"][handler["formatter"]] == {"()": "backend.core.logs.JsonFormatter"}
    assert handler["filters"] == ["request_id", "redact"]


@pytest.mark.django_db(transaction=True)
def test_a_full_story_logs_json_lines_with_the_uploads_request_id_and_no_secret_or_name(
    captured_logs, settings, eager_tasks, face_jpeg,
):
    settings.METRICS_TOKEN = METRICS_TOKEN
    settings.MOODWATCH_ALERTS = {**settings.MOODWATCH_ALERTS, "LANDING_DEBOUNCE_SECONDS": 0}
    clinician = UserFactory(username="dr_logs", first_name=CLINICIAN_NAME[0], last_name=CLINICIAN_NAME[1])
    patient = PatientFactory(reference="P-LOGS", display_name=DISPLAY_NAME, clinicians=[clinician])
    AlertThresholds.objects.create(patient=patient, rule="absolute", min_records=1, negative_share=0.0)  # trips it

    # log in (once wrong), as a clinician does
    web = Client()
    assert web.post("/login/", {"username": "dr_logs", "password": WRONG_PASSWORD}).status_code == 200
    assert web.post("/login/", {"username": "dr_logs", "password": PASSWORD}).status_code == 302
    session_cookie = web.cookies["sessionid"].value
    # enroll a phone, upload through it (and once with a wrong token)
    _, code = enrollment_code_issue(patient=patient, actor=clinician)
    enrolled = Client().post("/api/v1/devices/enroll/", {"code": code, "label": DEVICE_LABEL},
                             content_type="application/json")
    assert enrolled.status_code == 201, enrolled.content
    token = enrolled.json()["token"]
    phone = Client(HTTP_AUTHORIZATION=f"Device {token}")
    response = phone.post("/api/v1/frame-batches/", batch_payload([face_jpeg, face_jpeg]),
                          HTTP_X_REQUEST_ID=UPLOAD_REQUEST_ID)
    assert response.status_code == 202, response.content
    assert response["X-Request-ID"] == UPLOAD_REQUEST_ID
    assert Client(HTTP_AUTHORIZATION=f"Device {token}x").post(
        "/api/v1/frame-batches/", batch_payload([face_jpeg])).status_code == 401
    # the alert the upload raised, acknowledged with a free-text note
    alert = Alert.objects.get(patient=patient)
    acknowledged = web.post(f"/patients/{patient.pk}/alerts/{alert.pk}/acknowledge/", {"note": NOTE})
    assert acknowledged.status_code == 302
    alert.refresh_from_db()
    assert alert.notes.get().text == NOTE
    # an API token, used once; /metrics read with the right and a wrong token
    issued = Client().post("/api/v1/auth/token/", {"username": "dr_logs", "password": PASSWORD},
                           content_type="application/json")
    assert issued.status_code in (200, 201), issued.content
    api_token = issued.json()["token"]
    assert Client(HTTP_AUTHORIZATION=f"Token {api_token}").get("/api/v1/patients/").status_code == 200
    assert Client(HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}").get("/metrics").status_code == 200
    assert Client(HTTP_AUTHORIZATION=f"Bearer {METRICS_TOKEN}-wrong").get("/metrics").status_code == 401
    logging.getLogger("tests").warning("request headers: %s", {"HTTP_AUTHORIZATION": f"Device {token}",
                                                                "HTTP_COOKIE": f"sessionid={session_cookie}"})

    text = captured_logs.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) >= 5, text
    for line in lines:
        assert {"time", "level", "logger", "message", "request_id"} <= set(line), line
    secrets = {
        "device token": token, "device token's secret": token.split(".", 1)[-1], "enrollment code": code,
        "password": PASSWORD, "wrong password": WRONG_PASSWORD, "session cookie": session_cookie,
        "API token": api_token, "metrics token": METRICS_TOKEN,
        "display name": DISPLAY_NAME, "first name": "Zebulon", "last name": "Quixotewright",
        "clinician's first name": CLINICIAN_NAME[0], "clinician's last name": CLINICIAN_NAME[1],
        "note": NOTE, "a word of the note": "Philomena", "device label": DEVICE_LABEL,
    }
    leaked = {what for what, secret in secrets.items() if secret.lower() in text.lower()}
    assert not leaked, f"the logs carry {sorted(leaked)}"

    # the upload's request id on its batch's lines, from the request through the task to the alert
    batch_lines = {line["message"].split(":")[0]: line["request_id"] for line in lines
                   if line["logger"] in ("backend.ingest.services", "backend.workflows.services",
                                         "backend.alerts.services")}
    assert any(m.endswith("received") for m in batch_lines), batch_lines
    assert any("landed done" in m for m in batch_lines), batch_lines
    assert any(m.startswith(f"alert {alert.pk} raised") for m in batch_lines), batch_lines
    assert set(batch_lines.values()) == {UPLOAD_REQUEST_ID}, batch_lines
    assert any(line["message"].startswith("request headers:") and "[redacted]" in line["message"]
               for line in lines)


@pytest.mark.parametrize(("given", "kept"), [
    ("upload-req-0001abcd", True),
    ("0f8e3a2b-5c1d-4e6f-8a9b-0c1d2e3f4a5b", True),
    ("short", False),
    ("a" * 65, False),
    ("has space 1234567", False),
    ("quote\"injection1234", False),
    ("new\nline-12345678", False),
    ("nul\x00-1234567890", False),
    ("", False),
    (None, False),
])
def test_a_sane_client_request_id_is_kept_anything_else_is_replaced(given, kept):
    accepted = logs.request_id_accept(given)
    assert (accepted == given) is kept
    assert logs.REQUEST_ID_PATTERN.match(accepted)


@pytest.mark.django_db
def test_every_answer_carries_a_request_id_even_a_refusal():
    first = Client().get("/healthz", HTTP_X_REQUEST_ID="bad id with spaces")
    second = Client().get("/api/v1/patients/")
    assert first["X-Request-ID"] != "bad id with spaces" and logs.REQUEST_ID_PATTERN.match(first["X-Request-ID"])
    assert second.status_code in (401, 403) and logs.REQUEST_ID_PATTERN.match(second["X-Request-ID"])
    assert first["X-Request-ID"] != second["X-Request-ID"]


@pytest.mark.parametrize("text", [
    "Authorization: Device 0123456789ab.abcdefghijklmnopqrstuvwxyz012345",
    "{'HTTP_AUTHORIZATION': 'Bearer sk-0123456789abcdef', 'PATH_INFO': '/metrics'}",
    "GET /metrics?token=abcdef0123456789 HTTP/1.1",
    "Cookie: sessionid=abc123def456; csrftoken=zyx987",
    "password=hunter2-but-longer&username=x",
    'body {"note": "called the patient\'s mother", "code": "ABCD-EFGH"}',
])
def test_the_redaction_filter_removes_credentials_and_notes(text):
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "%s", (text,), None)
    logs.RedactFilter().filter(record)
    message = record.getMessage()
    for secret in ("0123456789ab.abc", "sk-0123456789abcdef", "abcdef0123456789", "abc123def456", "zyx987",
                   "hunter2", "mother", "ABCD-EFGH"):
        assert secret not in message, message
    assert "[redacted]" in message


@pytest.mark.django_db(transaction=True)
def test_a_batch_dispatched_later_logs_its_own_uploads_request_id_not_the_dispatchers(
    device, face_jpeg, captured_logs, eager_tasks, monkeypatch,
):
    """A device's backlog is dispatched by the task that finished its previous batch: each batch's task
    logs the request id of the upload that brought that batch."""
    batches = {}
    with monkeypatch.context() as patch:
        patch.setattr(services, "batch_enqueue_on_commit", lambda **_kw: None)  # stored, not processed
        for request_id in ("first-upload-0001", "second-upload-0002"):
            token = logs.request_id_var.set(request_id)
            try:
                batches[request_id] = ingest(device, [face_jpeg])
            finally:
                logs.request_id_var.reset(token)
    token = logs.request_id_var.set("the-dispatching-task-9999")
    try:
        process_batch.apply(args=[batches["second-upload-0002"].pk])
    finally:
        logs.request_id_var.reset(token)
    lines = [json.loads(line) for line in captured_logs.getvalue().splitlines()]
    landed = [line for line in lines if line["message"].startswith(f"batch {batches['second-upload-0002'].pk} landed")]
    assert landed and landed[0]["request_id"] == "second-upload-0002", lines
