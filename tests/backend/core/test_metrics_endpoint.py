"""GET /metrics: Prometheus' text format behind a bearer token, and counters that move by exactly what a
real upload did (the real upload endpoint, the real model through the process_batch task run in
process, the real landing and alert services). Values are read with prometheus_client's own parser
from the /metrics body, before and after."""
import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from backend.alerts.models import Alert, AlertThresholds
from backend.core import metrics
from backend.ingest.models import FrameBatch
from backend.ingest.services import batch_attempt_fail, batch_claim
from tests.backend.conftest import batch_payload, ingest

TOKEN = "metrics-token-7d1f0c9a-very-long-and-random"
URL = "/metrics"
UPLOAD = "/api/v1/frame-batches/"
ALLOWED_LABELS = {"status", "source", "rule", "queue", "version", "view", "method", "le", "quantile"}


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN
    return TOKEN


def scrape(token=TOKEN) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted labels): value} from GET /metrics."""
    response = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/plain; version=")
    samples = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before, after, name, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.mark.django_db
def test_an_upload_processed_by_the_worker_task_moves_each_counter_by_what_it_did(
    metrics_token, device_client, patient, face_jpeg, two_faces_jpeg, faceless_jpeg, eager_tasks, settings,
    django_capture_on_commit_callbacks,
):
    settings.MOODWATCH_ALERTS = {**settings.MOODWATCH_ALERTS, "LANDING_DEBOUNCE_SECONDS": 0}
    AlertThresholds.objects.create(patient=patient, rule="absolute", min_records=1, negative_share=0.0)  # any face
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        response = device_client.post(UPLOAD, batch_payload([face_jpeg, two_faces_jpeg, faceless_jpeg]),
                                      format="multipart")
    assert response.status_code == 202, response.content
    batch = FrameBatch.objects.get()
    # one face, then two (the larger is the patient's; the other is a bystander), then none
    assert batch.status == "done" and batch.record_count == 2 and batch.bystanders == 1
    after = scrape()

    assert moved(before, after, "moodwatch_frames_total") == 3
    assert moved(before, after, "moodwatch_batches_total", status="done") == 1
    assert moved(before, after, "moodwatch_batches_total", status="failed") == 0
    assert moved(before, after, "moodwatch_batches_total", status="retried") == 0
    assert moved(before, after, "moodwatch_records_total", source="server") == batch.record_count
    assert moved(before, after, "moodwatch_records_total", source="device") == 0
    assert moved(before, after, "moodwatch_batch_latency_seconds_count") == 1
    assert 0 <= moved(before, after, "moodwatch_batch_latency_seconds_sum") < 120
    assert Alert.objects.filter(patient=patient, kind="negative_mood").count() == 1
    assert moved(before, after, "moodwatch_alerts_raised_total", rule="negative_mood") == 1
    assert moved(before, after, "moodwatch_alerts_raised_total", rule="no_data") == 0
    assert moved(before, after, "moodwatch_alert_evaluation_lag_seconds_count") == 1
    assert value(after, "moodwatch_model_info", version=batch.model_version) == 1
    assert moved(before, after, "moodwatch_http_requests_total",
                 view="frame-batch-list", method="POST", status="202") == 1
    assert moved(before, after, "moodwatch_http_request_duration_seconds_count",
                 view="frame-batch-list", method="POST") == 1
    assert moved(before, after, "moodwatch_http_requests_total", view="metrics", method="GET", status="200") == 1
    # computed when scraped, from the database: nothing is left waiting, and the upload was just now
    assert value(after, "moodwatch_queue_depth", queue="batches") == 0
    assert value(after, "moodwatch_oldest_queued_batch_seconds") == 0
    assert 0 <= value(after, "moodwatch_last_upload_age_seconds") < 120


@pytest.mark.django_db
def test_a_retried_and_a_failed_attempt_are_counted_once_each(
    metrics_token, device, face_jpeg, django_capture_on_commit_callbacks
):
    batch = ingest(device, [face_jpeg])
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        assert batch_claim(batch_pk=batch.pk, task_id="t-1")
        batch_attempt_fail(batch_pk=batch.pk, task_id="t-1", error="RuntimeError: boom")
    assert moved(before, scrape(), "moodwatch_batches_total", status="retried") == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert batch_claim(batch_pk=batch.pk, task_id="t-2")
        batch_attempt_fail(batch_pk=batch.pk, task_id="t-2", error="time_limit_exceeded", retry=False)
    after = scrape()
    assert FrameBatch.objects.get().status == "failed"
    assert moved(before, after, "moodwatch_batches_total", status="retried") == 1
    assert moved(before, after, "moodwatch_batches_total", status="failed") == 1
    assert moved(before, after, "moodwatch_batches_total", status="done") == 0
    assert moved(before, after, "moodwatch_records_total", source="server") == 0


@pytest.mark.django_db
def test_the_backlog_gauges_count_queued_batches_and_the_age_of_the_oldest(metrics_token, device, face_jpeg):
    from datetime import timedelta

    from django.utils import timezone

    first, _second = ingest(device, [face_jpeg]), ingest(device, [face_jpeg])
    FrameBatch.objects.filter(pk=first.pk).update(received_at=timezone.now() - timedelta(minutes=10))
    samples = scrape()
    assert value(samples, "moodwatch_queue_depth", queue="batches") == 2
    assert 590 <= value(samples, "moodwatch_oldest_queued_batch_seconds") < 700


@pytest.mark.django_db
def test_no_label_carries_a_patient_a_device_or_a_person(
    metrics_token, device_client, device, patient, clinician, face_jpeg, eager_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = device_client.post(UPLOAD, batch_payload([face_jpeg]), format="multipart")
    batch_id = response.json()["batch_id"]
    device_client.get(f"{UPLOAD}{batch_id}/")
    Client().get(f"/patients/{patient.pk}/")
    samples = scrape()
    identities = {str(patient.pk), patient.reference, patient.display_name, str(device.pk), clinician.username,
                  str(batch_id), str(FrameBatch.objects.get().pk)}
    for (name, labels) in samples:
        if not name.startswith("moodwatch_"):
            continue  # prometheus_client's own process and Python metrics
        assert {key for key, _ in labels} <= ALLOWED_LABELS, labels
        for _key, label_value in labels:
            assert not any(label_value == identity or (len(identity) >= 6 and identity in label_value)
                           for identity in identities), labels
    views = {dict(labels).get("view") for (name, labels) in samples if name == "moodwatch_http_requests_total"}
    assert "frame-batch-detail" in views, "the route's name, not its path"
    assert not any(view and "/" in view for view in views)


# --- who may read them ------------------------------------------------------------------------------------

def assert_refused_without_leaking(response, status):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"code", "detail"}
    text = response.content.decode()
    assert "moodwatch_" not in text and "# HELP" not in text and "# TYPE" not in text
    assert TOKEN not in text


@pytest.mark.django_db
def test_without_a_configured_token_the_endpoint_does_not_exist(settings):
    settings.METRICS_TOKEN = ""
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer "}, {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}):
        assert_refused_without_leaking(Client().get(URL, **headers), 404)
    assert_refused_without_leaking(Client().get(URL + "/"), 404)


@pytest.mark.django_db
@pytest.mark.parametrize("authorization", [
    None,
    "",
    "Bearer",
    "Bearer ",
    f"Bearer {TOKEN[:-1]}",  # one character short
    f"Bearer {TOKEN}x",  # one too many
    f"Bearer {TOKEN.upper()}",
    f"Basic {TOKEN}",
    f"Device {TOKEN}",
    f"Token {TOKEN}",
    TOKEN,  # no scheme
    f"Bearer\x00{TOKEN}",
    f"Bearer {TOKEN}\x00",
    f"Bearer {'A' * 10000}",
    "Bearer ☃☃☃",
])
def test_a_missing_or_wrong_token_is_a_401_with_the_json_error_and_no_metric(metrics_token, authorization):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = Client().get(URL, **headers)
    assert_refused_without_leaking(response, 401)
    assert response.json()["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_the_token_in_the_query_string_or_a_cookie_is_not_accepted(metrics_token):
    for query in (f"?token={TOKEN}", f"?access_token={TOKEN}", f"?authorization=Bearer%20{TOKEN}"):
        assert_refused_without_leaking(Client().get(URL + query), 401)
    client = Client()
    client.cookies["token"] = TOKEN
    assert_refused_without_leaking(client.get(URL), 401)


@pytest.mark.django_db
def test_the_right_token_reads_them_and_only_with_get(metrics_token):
    assert "moodwatch_batches_total" in {name for name, _ in scrape()}
    assert Client().get(URL, HTTP_AUTHORIZATION=f"bearer {TOKEN}").status_code == 200, "the scheme is case-blind"
    response = Client().post(URL, HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 405
    assert_refused_without_leaking(Client().post(URL), 401)


@pytest.mark.django_db
def test_it_is_answered_for_any_host_name_and_over_plain_http_in_production(metrics_token, settings):
    """Prometheus scrapes web by its service name inside the deployment, not through the TLS proxy."""
    settings.ALLOWED_HOSTS = ["moodwatch.hospital.example"]
    settings.SECURE_SSL_REDIRECT = True
    response = Client().get(URL, HTTP_HOST="web:8000", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert_refused_without_leaking(Client().get(URL, HTTP_HOST="web:8000"), 401)


def test_the_workers_exporter_applies_the_same_rule(settings):
    """The worker's own port (backend.core.metrics.worker_app), called as its WSGI server would."""
    def call(**environ):
        answered = {}
        body = b"".join(metrics.worker_app({"PATH_INFO": "/metrics", **environ},
                                           lambda status, headers: answered.update(status=status)))
        return answered["status"], body

    settings.METRICS_TOKEN = ""
    status, body = call(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert status.startswith("404") and b"moodwatch_" not in body
    settings.METRICS_TOKEN = TOKEN
    for wrong in ({}, {"HTTP_AUTHORIZATION": f"Bearer {TOKEN[:-1]}"}, {"QUERY_STRING": f"token={TOKEN}"}):
        status, body = call(**wrong)
        assert status.startswith("401") and b"moodwatch_" not in body, wrong
    status, body = call(HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert status.startswith("200") and b"moodwatch_batches_total" in body
