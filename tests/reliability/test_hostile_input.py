"""Broken and hostile input against gunicorn: each case gets a 4xx with a JSON error body, nothing is
stored, and the server keeps serving (its health check passes and a good batch is still accepted)."""
import io
import json
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from PIL import Image

from backend.ingest.models import Frame, FrameBatch
from backend.moods.models import MoodRecord
from tests.support import png_declaring

from .conftest import UPLOAD_URL, PrivateRedis, Stack, device_headers, multipart, recent

pytestmark = [pytest.mark.slow]

BAD_INPUTS_TRIED: list[str] = []  # docs/security.md's figure is the number of cases in this module


@pytest.fixture(scope="module")
def web(tmp_path_factory, django_db_setup, django_db_blocker):
    """One gunicorn (2 processes) for the whole module, on the test database and a private Redis."""
    folder = tmp_path_factory.mktemp("hostile")
    broker = PrivateRedis(folder)
    broker.start()
    with django_db_blocker.unblock():
        stack = Stack(folder, broker.url).start_web(workers=2)
    yield stack
    stack.stop()
    broker.kill()


@pytest.fixture
def live(web, transactional_db):
    yield web
    # Nothing stored, and the server still answers.
    assert FrameBatch.objects.count() == 0, "a refused request stored a batch"
    assert Frame.objects.count() == 0 and MoodRecord.objects.count() == 0
    assert web.healthy()


def image_bytes(fmt: str, size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (120, 90, 60)).save(out, format=fmt)
    return out.getvalue()


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
       b"<script>alert(1)</script></svg>")


def assert_json_error(response, status: int, code: str | None = None, field_code: str | None = None):
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["Content-Type"].startswith("application/json"), response.headers["Content-Type"]
    body = response.json()
    assert body["detail"]
    if code:
        assert body["code"] == code, body
    if field_code:
        assert field_code in {e["code"] for e in body.get("errors", [])}, body
    assert "Traceback" not in response.text
    return body


def upload(live, device, frames, **kwargs):
    data, files = multipart(frames, **kwargs)
    return requests.post(live.url + UPLOAD_URL, data=data, files=files, headers=device_headers(device), timeout=60)


FRAME_CASES = {
    "truncated JPEG": (lambda jpeg: jpeg[: len(jpeg) // 2], "undecodable_image"),
    "zero bytes": (lambda jpeg: b"", "not_an_image"),
    "text renamed .jpg": (lambda jpeg: b"hello, this is not a picture\n" * 20, "not_an_image"),
    "PNG declaring 50,000 x 50,000 px": (lambda jpeg: png_declaring(50_000, 50_000), "too_many_pixels"),
    "GIF": (lambda jpeg: image_bytes("GIF"), "unsupported_image_type"),
    "TIFF": (lambda jpeg: image_bytes("TIFF"), "unsupported_image_type"),
    "SVG": (lambda jpeg: SVG, "not_an_image"),
}


@pytest.mark.parametrize("case", list(FRAME_CASES))
def test_a_bad_frame_is_refused_with_its_reason_and_the_good_frames_beside_it_are_not_stored(
    live, device, face_jpeg, case
):
    BAD_INPUTS_TRIED.append(case)
    make, code = FRAME_CASES[case]
    body = assert_json_error(upload(live, device, [face_jpeg, make(face_jpeg)]), 400, "validation_error", code)
    assert [e.get("index") for e in body["errors"]] == [1], "the error names the bad frame"


def test_a_batch_of_1000_frames_is_refused(live, device):
    BAD_INPUTS_TRIED.append("1,000 frames in one batch")
    tiny = image_bytes("JPEG", (8, 8))
    assert_json_error(upload(live, device, [tiny] * 1000), 400)


def test_a_100_mb_body_is_refused_from_its_content_length_before_it_is_sent(live, device):
    BAD_INPUTS_TRIED.append("100 MB request body")
    head = (
        f"POST {UPLOAD_URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Device {device.token}\r\n"
        f"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: {100 * 1024 * 1024}\r\n\r\n"
    ).encode()
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", live.web_port), timeout=15) as s:
        s.sendall(head + b"--xyz\r\n" + b"\0" * 65536)  # only 64 kB of the promised 100 MB
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    elapsed = time.monotonic() - started
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), answer[:300]
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"application/json" in headers.lower()
    assert json.loads(body)["code"] == "request_too_large"
    assert elapsed < 10, "answered without waiting for the rest of the body"


def test_a_chunked_body_of_unknown_length_is_refused(live, device, face_jpeg):
    BAD_INPUTS_TRIED.append("chunked body of unknown length")

    def chunks():
        yield b"--xyz\r\n"
        yield face_jpeg

    response = requests.post(live.url + UPLOAD_URL, data=chunks(), timeout=30, headers={
        **device_headers(device), "Content-Type": "multipart/form-data; boundary=xyz"})
    assert_json_error(response, 411, "length_required")


def test_frame_and_timestamp_counts_that_differ_are_refused(live, device, face_jpeg):
    BAD_INPUTS_TRIED.append("mismatched frame and timestamp counts")
    response = upload(live, device, [face_jpeg, face_jpeg], captured_at=[recent(5)])
    assert_json_error(response, 400, "validation_error", "count_mismatch")


NOW = datetime.now(UTC)
TIMESTAMP_CASES = {
    "naive timestamp": ("2026-11-26T09:15:02", "timestamp_without_offset"),
    "far-future timestamp": ((NOW + timedelta(days=3650)).isoformat(), "timestamp_in_future"),
    "1970 timestamp": ("1970-01-01T00:00:00+00:00", "timestamp_too_old"),
    "not a timestamp": ("yesterday", "invalid_timestamp"),
}


@pytest.mark.parametrize("case", list(TIMESTAMP_CASES))
def test_a_bad_timestamp_is_refused(live, device, face_jpeg, case):
    BAD_INPUTS_TRIED.append(case)
    raw, code = TIMESTAMP_CASES[case]
    assert_json_error(upload(live, device, [face_jpeg], captured_at=[raw]), 400, "validation_error", code)


def test_a_batch_id_that_is_not_a_uuid_is_refused(live, device, face_jpeg):
    BAD_INPUTS_TRIED.append("non-UUID batch_id")
    response = upload(live, device, [face_jpeg], batch_id="batch-42")
    assert_json_error(response, 400, "validation_error", "invalid_uuid")


def test_json_where_multipart_is_expected_is_refused(live, device):
    BAD_INPUTS_TRIED.append("JSON instead of multipart")
    response = requests.post(live.url + UPLOAD_URL, json={"batch_id": str(uuid.uuid4()), "frames": ["AAAA"]},
                             headers=device_headers(device), timeout=30)
    assert_json_error(response, 415, "unsupported_media_type")


def test_a_multipart_body_without_its_boundary_is_refused(live, device):
    BAD_INPUTS_TRIED.append("multipart without a boundary")
    response = requests.post(live.url + UPLOAD_URL, data=b"--x\r\n\r\n", timeout=30,
                             headers={**device_headers(device), "Content-Type": "multipart/form-data"})
    assert_json_error(response, 400)


@pytest.mark.parametrize("scheme,path", [("Device", UPLOAD_URL), ("Token", "/api/v1/patients/")])
def test_a_huge_token_is_refused_as_unknown(live, scheme, path):
    BAD_INPUTS_TRIED.append(f"huge {scheme} token")
    response = requests.post if path == UPLOAD_URL else requests.get
    answer = response(live.url + path, headers={"Authorization": f"{scheme} {'A' * 7000}"}, timeout=30)
    assert_json_error(answer, 401)


def test_a_header_beyond_gunicorns_limit_is_refused_before_django_and_the_server_keeps_serving(live):
    BAD_INPUTS_TRIED.append("64 kB Authorization header")
    answer = requests.get(live.url + "/api/v1/patients/", headers={"Authorization": f"Token {'A' * 65536}"}, timeout=30)
    assert 400 <= answer.status_code < 500  # gunicorn's own 400 (limit_request_field_size), not JSON


def test_a_too_long_address_gets_the_apps_json_414_not_gunicorns_html(live):
    """gunicorn's default request-line limit (4094) answered a long /api/ address with an HTML 414;
    gunicorn.conf.py raises it above the application's own limit, which answers in JSON."""
    from backend.core.middleware import MAX_URI_LENGTH

    BAD_INPUTS_TRIED.append("address longer than the URI limit")
    answer = requests.get(live.url + "/api/v1/patients/", params={"q": "x" * (MAX_URI_LENGTH + 1500)}, timeout=30)
    assert_json_error(answer, 414, "uri_too_long")
    assert requests.get(live.url + "/healthz", timeout=30).status_code == 200


SQL = "'; DROP TABLE ingest_framebatch; --"
SCRIPT = "<script>alert(document.cookie)</script>"


def test_sql_and_script_fragments_in_upload_fields_are_refused_as_plain_bad_values(live, device, face_jpeg):
    BAD_INPUTS_TRIED.append("SQL/script in batch_id and captured_at")
    body = assert_json_error(upload(live, device, [face_jpeg], batch_id=SQL, captured_at=[SCRIPT]), 400)
    assert {e["code"] for e in body["errors"]} >= {"invalid_uuid"}
    assert FrameBatch.objects.count() == 0  # the table is still there


def test_sql_and_script_fragments_in_enrollment_are_refused(live):
    BAD_INPUTS_TRIED.append("SQL/script in enrollment code and label")
    for code in (SQL, "' OR '1'='1", SCRIPT[:32]):
        response = requests.post(live.url + "/api/v1/devices/enroll/", json={"code": code, "label": SCRIPT}, timeout=30)
        body = assert_json_error(response, 400)
        assert body["code"] in ("enrollment_code_invalid", "validation_error")


def test_sql_fragments_in_clinician_query_parameters_are_refused(live, clinician, patient):
    BAD_INPUTS_TRIED.append("SQL in clinician query parameters")
    from backend.clinician_api.services import api_token_issue

    headers = {"Authorization": f"Token {api_token_issue(user=clinician)}"}
    url = f"{live.url}/api/v1/patients/{patient.pk}/mood-summary/"
    for params in ({"from": "1' OR '1'='1"}, {"bucket": SQL}, {"to": SCRIPT}):
        assert_json_error(requests.get(url, params=params, headers=headers, timeout=30), 400, "validation_error")
    other = requests.get(f"{live.url}/api/v1/patients/{SQL}/moods/", headers=headers, timeout=30)
    assert_json_error(other, 404)


def test_after_all_that_the_server_still_accepts_a_good_batch_and_logged_no_server_error(web, transactional_db,
                                                                                          device, face_jpeg):
    response = upload(web, device, [face_jpeg])
    assert response.status_code == 202, response.text
    log = web.web_log.read_text()
    assert "Traceback" not in log and "Internal Server Error" not in log, log[-3000:]
    print(f"\nbad inputs tried: {len(BAD_INPUTS_TRIED)}")
