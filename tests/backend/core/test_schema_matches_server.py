"""The OpenAPI schema says what the server accepts, no more: a client (or schemathesis) that follows
it sends files as files, well-formed enrollment codes and non-empty ranges; and an address too long
for the server is a JSON 414 under /api/, written by the application itself."""
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.core.middleware import MAX_URI_LENGTH
from backend.devices import tokens
from backend.devices.views import DeviceEnrollView

ENROLL = "/api/v1/devices/enroll/"


@pytest.fixture
def schema(client, db):
    return client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()


def enroll_code_schema(schema):
    body = schema["paths"][ENROLL]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    return schema["components"]["schemas"][name]["properties"]["code"]


def test_frames_are_binary_files_in_the_multipart_body_not_uris(schema):
    body = schema["paths"]["/api/v1/frame-batches/"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    frames = schema["components"]["schemas"][name]["properties"]["frames"]
    assert frames["items"] == {"type": "string", "format": "binary"}


def test_every_issued_code_as_a_person_types_it_matches_the_schemas_pattern(schema):
    pattern = enroll_code_schema(schema)["pattern"]
    for _ in range(200):
        code = tokens.enrollment_code_generate()
        for typed in (code, code.lower(), code.replace("-", " "), f" {code.replace('-', '')} "):
            assert re.fullmatch(pattern, typed), typed


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_what_the_enroll_serializer_accepts_is_what_the_schema_pattern_accepts(text):
    pattern = tokens.CODE_PATTERN
    accepted = DeviceEnrollView.InputSerializer(data={"code": text}).is_valid()
    assert accepted == bool(re.fullmatch(pattern, text) and len(text) <= 32), text
    if accepted:  # and each is a code's worth of characters of the alphabet once normalised
        normalised = tokens.enrollment_code_normalize(text)
        assert len(normalised) == tokens.CODE_LENGTH and set(normalised) <= set(tokens.CODE_ALPHABET)


@pytest.mark.parametrize("code", ["'; DROP TABLE devices_device; --", "ABCDE-FGHJ", "ABCDE-FGHJKL", "OOOOO-IIIII"])
def test_a_malformed_code_is_a_validation_error_before_any_lookup(client, db, code):
    response = client.post(ENROLL, {"code": code}, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


def test_a_well_formed_unknown_code_is_still_refused_as_invalid(client, db):
    response = client.post(ENROLL, {"code": tokens.enrollment_code_generate()}, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "enrollment_code_invalid")


@pytest.mark.parametrize("path", ["/api/v1/patients/{id}/moods/", "/api/v1/patients/{id}/mood-summary/"])
@pytest.mark.parametrize("name", ["from", "to"])
def test_an_empty_range_bound_is_refused_and_the_schema_says_so(schema, clinician_web, patient, path, name):
    parameter = next(p for p in schema["paths"][path.replace("{id}", "{patient_id}")]["get"]["parameters"]
                     if p["name"] == name)
    assert parameter["schema"]["minLength"] == 1
    response = clinician_web.get(path.format(id=patient.pk), {name: ""})
    assert response.status_code == 400


def test_a_too_long_api_address_is_a_json_414(clinician_web, patient):
    response = clinician_web.get(f"/api/v1/patients/{patient.pk}/moods/", {"from": "2026-01-01" + "x" * MAX_URI_LENGTH})
    assert response.status_code == 414
    assert response.json()["code"] == "uri_too_long"


def test_an_address_just_within_the_limit_reaches_the_view(clinician_web, patient):
    path = f"/api/v1/patients/{patient.pk}/moods/"
    padding = MAX_URI_LENGTH - len(path) - len("from=2026-01-01&pad=")
    response = clinician_web.get(path, {"from": "2026-01-01", "pad": "x" * padding})
    assert response.status_code == 200


def test_a_too_long_dashboard_address_is_a_414_page(clinician_web):
    response = clinician_web.get("/patients/", {"q": "x" * MAX_URI_LENGTH})
    assert response.status_code == 414
    assert response["Content-Type"].startswith("text/html")
