"""Each request that once answered 500 now gets a 4xx with an error code (JSON under /api/, HTML
for pages), and a failed export leaves no audit row."""
import base64
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from backend.audit.models import AuditEvent
from tests.backend.conftest import clinician_client

pytestmark = pytest.mark.django_db

EDGE_RANGES = [
    {"range": "custom", "start": "9999-12-30", "end": "9999-12-31"},
    {"range": "custom", "start": "0001-01-01", "end": "0001-01-02"},
    {"range": "custom", "start": "9999-12-31", "end": "9999-12-31"},
]
EXPORTS = ["records.csv", "summary.csv", "fhir.json"]


def assert_json_error(response, *statuses):
    assert response.status_code in (statuses or (400,)), (response.status_code, response.content[:300])
    body = response.json()
    assert isinstance(body.get("code"), str) and body["code"], body
    return body


@pytest.mark.parametrize("edge", ["9999-12-31", "0001-01-01", "9999-12-31T23:59:59+00:00",
                                  "0001-01-01T00:00:00-12:00", "2026-02-30", "2026-13-01"])
@pytest.mark.parametrize("endpoint", ["moods", "mood-summary"])
@pytest.mark.parametrize("param", ["from", "to"])
def test_api_dates_at_the_edges_of_their_type_are_refused_with_a_json_error(clinician, patient, edge, endpoint, param):
    api = clinician_client(clinician)
    response = api.get(f"/api/v1/patients/{patient.pk}/{endpoint}/", {param: edge})
    body = assert_json_error(response)
    assert body["code"] == "validation_error"


@pytest.mark.parametrize("query", EDGE_RANGES)
def test_a_patient_page_with_a_range_at_the_edges_of_the_calendar_answers_400_in_html(clinician_web, patient, query):
    response = clinician_web.get(f"/patients/{patient.pk}/", query)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("query", EDGE_RANGES)
@pytest.mark.parametrize("export", EXPORTS)
def test_an_export_with_a_range_at_the_edges_of_the_calendar_is_refused_and_leaves_no_audit_row(
        clinician_web, patient, query, export):
    before = AuditEvent.objects.count()
    response = clinician_web.get(f"/patients/{patient.pk}/export/{export}", query)
    assert response.status_code == 400
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("raw", [b"p=notadate", b"o=1&r=1&p=9999-12-31T23:59:59+00:00", b"p=2026-12-01T10:00:00",
                                 b"\x00\xff", b"p=" + b"9" * 400, b"p=2026-12-01%00", b"o=-5"])
def test_a_forged_pagination_cursor_is_refused(clinician, patient, raw):
    api = clinician_client(clinician)
    cursor = base64.b64encode(raw).decode()
    response = api.get(f"/api/v1/patients/{patient.pk}/moods/", {"cursor": cursor})
    body = assert_json_error(response, 404)
    assert body["code"] in ("invalid_cursor", "not_found")


def test_a_cursor_with_a_huge_offset_is_clamped_not_an_error(clinician, patient):
    api = clinician_client(clinician)
    cursor = base64.b64encode(b"o=99999999999999999999999").decode()
    response = api.get(f"/api/v1/patients/{patient.pk}/moods/", {"cursor": cursor})
    assert response.status_code == 200 and response.json()["results"] == []


def test_a_timestamp_sent_as_a_file_part_is_refused(device_client, face_jpeg):
    response = device_client.post("/api/v1/frame-batches/", {
        "batch_id": "0b6f0a4e-9ad4-4a39-9a51-1a1a1a1a1a1a",
        "frames": [SimpleUploadedFile("f.jpg", face_jpeg, content_type="image/jpeg")],
        "captured_at": [SimpleUploadedFile("t.txt", b"2026-12-01T10:00:00Z", content_type="text/plain")],
    }, format="multipart")
    body = assert_json_error(response)
    assert "captured_at" in json.dumps(body)


@pytest.mark.parametrize("value", ["a\x00b", "2026-12-01\x00", "\x00"])
def test_a_nul_byte_in_a_query_string_is_refused_before_the_database(clinician, clinician_web, patient, value):
    api = clinician_client(clinician)
    assert_json_error(api.get(f"/api/v1/patients/{patient.pk}/moods/", {"from": value}))
    assert_json_error(api.get("/api/v1/patients/", {"page": value}))
    page = clinician_web.get("/patients/", {"q": value, "sort": value})
    assert page.status_code == 400 and page["Content-Type"].startswith("text/html")


def test_a_static_file_that_does_not_exist_is_a_404(client):
    assert client.get("/static/dashboard/nope.css").status_code == 404
    assert client.get("/static/nope/plotly.min.js").status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/nope/", "/api/nope", "/api/v1/patients/x/y/z/"])
def test_an_unknown_api_route_answers_404_in_json(client, path):
    body = assert_json_error(client.get(path), 404)
    assert body["code"] == "not_found"


def test_a_method_that_is_not_allowed_under_the_api_answers_405_in_json(clinician, patient):
    api = clinician_client(clinician)
    body = assert_json_error(api.delete(f"/api/v1/patients/{patient.pk}/moods/"), 405)
    assert body["code"] == "method_not_allowed"
    body = assert_json_error(api.put("/api/v1/devices/enroll/", {}), 405)


@pytest.mark.parametrize("value", ["", "0", "-1", "1001", "abc", "null", "²", "9" * 30, "1.5"])
def test_a_page_size_that_is_not_a_number_from_1_to_1000_is_refused(clinician, patient, value):
    api = clinician_client(clinician)
    body = assert_json_error(api.get(f"/api/v1/patients/{patient.pk}/moods/", {"page_size": value}))
    assert "page_size" in json.dumps(body)


@pytest.mark.parametrize("param", ["from", "to", "bucket"])
def test_an_empty_parameter_is_refused_not_taken_for_the_default(clinician, patient, param):
    api = clinician_client(clinician)
    body = assert_json_error(api.get(f"/api/v1/patients/{patient.pk}/mood-summary/", {param: ""}))
    assert param in json.dumps(body)
