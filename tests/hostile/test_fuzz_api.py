"""Property-based: arbitrary and boundary values in every query parameter and body field of the
clinician and device APIs never get a 5xx; every answer is JSON, and every error carries a code."""
import base64
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import given
from hypothesis import strategies as st

from backend.ingest.models import FrameBatch
from tests.backend.conftest import clinician_client

from .fuzzing import FUZZ, RequestCounter, form, hostile_text, query

pytestmark = pytest.mark.django_db


def assert_well_formed(response, path):
    assert response.status_code < 500, (path, response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), (path, response["Content-Type"])
    body = response.json()
    if response.status_code >= 400:
        assert isinstance(body.get("code"), str) and body["code"], (path, body)


forged_cursors = st.one_of(
    hostile_text,
    st.binary(max_size=60).map(lambda b: base64.b64encode(b).decode()),
    hostile_text.map(lambda t: base64.b64encode(f"p={t}".encode("utf-8", "surrogatepass")).decode()),
)


@FUZZ
@given(params=query("from", "to", "page_size"), cursor=st.none() | forged_cursors)
def test_the_mood_list_takes_any_range_page_size_and_cursor(clinician, patient, params, cursor):
    path = f"/api/v1/patients/{patient.pk}/moods/"
    if cursor is not None:
        params = {**params, "cursor": cursor}
    assert_well_formed(RequestCounter.send(clinician_client(clinician).get, path, params), path)


@FUZZ
@given(params=query("from", "to", "bucket"))
def test_the_mood_summary_takes_any_range_and_bucket(clinician, patient, params):
    path = f"/api/v1/patients/{patient.pk}/mood-summary/"
    assert_well_formed(RequestCounter.send(clinician_client(clinician).get, path, params), path)


@FUZZ
@given(params=query("page", "search", "ordering"), segment=hostile_text)
def test_the_patient_routes_take_any_query_and_any_patient_id(clinician, params, segment):
    from urllib.parse import quote

    api = clinician_client(clinician)
    assert_well_formed(RequestCounter.send(api.get, "/api/v1/patients/", params), "/api/v1/patients/")
    for suffix in ("moods/", "mood-summary/", "enrollment-codes/"):
        path = f"/api/v1/patients/{quote(segment, safe='') or 'x'}/{suffix}"
        send = api.post if suffix == "enrollment-codes/" else api.get
        assert_well_formed(RequestCounter.send(send, path, params), path)


@FUZZ
@given(data=form("code", "label"), as_json=st.booleans())
def test_enrollment_takes_any_body(client, data, as_json):
    path = "/api/v1/devices/enroll/"
    if as_json:
        body = {k: v if isinstance(v, str) else v.name for k, v in data.items()}
        response = RequestCounter.send(client.post, path, body, content_type="application/json")
    else:
        response = RequestCounter.send(client.post, path, data)
    assert_well_formed(response, path)


@FUZZ
@given(batch_id=st.none() | hostile_text | st.just(str(uuid.UUID(int=7))), stamps=st.lists(hostile_text, max_size=3),
       frames=st.lists(st.sampled_from(["face", "text", "garbage", "empty"]), max_size=3),
       file_stamp=st.booleans())
def test_a_frame_batch_upload_takes_any_fields_and_stores_nothing_bad(device_client, face_jpeg, batch_id, stamps,
                                                                       frames, file_stamp):
    def part(kind):
        return {"face": SimpleUploadedFile("f.jpg", face_jpeg, content_type="image/jpeg"),
                "garbage": SimpleUploadedFile("g.jpg", b"\xff\xd8garbage", content_type="image/jpeg"),
                "empty": SimpleUploadedFile("e.jpg", b"", content_type="image/jpeg"), "text": "not a file"}[kind]

    data = {"frames": [part(kind) for kind in frames],
            "captured_at": [SimpleUploadedFile("t.txt", s.encode("utf-8", "surrogatepass")) if file_stamp else s
                            for s in stamps]}
    if batch_id is not None:
        data["batch_id"] = batch_id
    before = FrameBatch.objects.count()
    response = RequestCounter.send(device_client.post, "/api/v1/frame-batches/", data, format="multipart")
    assert_well_formed(response, "/api/v1/frame-batches/")
    if response.status_code >= 400:
        assert FrameBatch.objects.count() == before, "a refused upload stored a batch"


@FUZZ
@given(segment=hostile_text)
def test_the_batch_status_route_takes_any_batch_id(device_client, segment):
    from urllib.parse import quote

    path = f"/api/v1/frame-batches/{quote(segment, safe='') or 'x'}/"
    assert_well_formed(RequestCounter.send(device_client.get, path), path)
