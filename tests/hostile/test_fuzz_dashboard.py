"""Property-based: arbitrary and boundary values in every query parameter and form field of the
dashboard's pages and exports never get a 5xx, and every answer is well formed."""
import pytest
from hypothesis import given
from hypothesis import strategies as st

from .fuzzing import FUZZ, RequestCounter, form, query

pytestmark = pytest.mark.django_db

RANGE_PARAMS = ("range", "start", "end", "bucket")
PAGE_TYPES = ("text/html", "text/csv", "application/fhir+json")


def assert_well_formed(response, path):
    assert response.status_code < 500, (path, response.status_code)
    if response.status_code in (301, 302):
        assert response["Location"], path
        return
    kind = response["Content-Type"]
    if response.status_code == 429:  # the login throttle answers scripts and people alike, in JSON
        assert kind.startswith("application/json") and response.json()["code"] == "throttled", path
        return
    assert kind.startswith(PAGE_TYPES), (path, kind)
    body = b"".join(response.streaming_content) if response.streaming else response.content
    if kind.startswith("text/html"):
        assert body.lstrip().lower().startswith(b"<!doctype html>"), (path, body[:200])


@pytest.fixture
def paths(patient):
    base = f"/patients/{patient.pk}"
    return {"detail": f"{base}/", "records": f"{base}/export/records.csv", "summary": f"{base}/export/summary.csv",
            "fhir": f"{base}/export/fhir.json"}


@FUZZ
@given(params=query("q", "inactive", "sort", "dir", "page"))
def test_the_patient_list_takes_any_query(clinician_web, params):
    assert_well_formed(RequestCounter.send(clinician_web.get, "/patients/", params), "/patients/")


@FUZZ
@given(params=query(*RANGE_PARAMS))
def test_the_patient_page_takes_any_range(clinician_web, paths, params):
    assert_well_formed(RequestCounter.send(clinician_web.get, paths["detail"], params), paths["detail"])


@FUZZ
@given(params=query(*RANGE_PARAMS), export=st.sampled_from(["records", "summary", "fhir"]))
def test_every_export_takes_any_range(clinician_web, paths, params, export):
    assert_well_formed(RequestCounter.send(clinician_web.get, paths[export], params), paths[export])


@FUZZ
@given(data=form("reference", "display_name", "timezone", "consent", "clinicians"))
def test_the_new_patient_form_takes_any_fields(clinician_web, data):
    assert_well_formed(RequestCounter.send(clinician_web.post, "/patients/new/", data), "/patients/new/")


@FUZZ
@given(data=form("window_days", "negative_share", "min_records", "no_data_days"))
def test_the_thresholds_form_takes_any_fields(clinician_web, patient, data):
    path = f"/patients/{patient.pk}/thresholds/"
    assert_well_formed(RequestCounter.send(clinician_web.post, path, data), path)


@FUZZ
@given(data=form("sampling_seconds"))
def test_the_sampling_form_takes_any_fields(clinician_web, patient, data):
    path = f"/patients/{patient.pk}/sampling/"
    assert_well_formed(RequestCounter.send(clinician_web.post, path, data), path)


@FUZZ
@given(data=form("timezone"))
def test_the_time_zone_setting_takes_any_fields(clinician_web, data):
    assert_well_formed(RequestCounter.send(clinician_web.post, "/settings/", data), "/settings/")


@FUZZ
@given(data=form("consent", "confirm", "active", "note", "reference", "step"))
def test_the_patient_management_forms_take_any_fields(clinician_web, patient, data):
    for action in ("consent", "active", "delete-data", "enrollment-code", "alerts/1/acknowledge",
                   "alerts/99999999999999999999/acknowledge"):
        path = f"/patients/{patient.pk}/{action}/"
        assert_well_formed(RequestCounter.send(clinician_web.post, path, data), path)


@FUZZ
@given(params=query("state", "assignee"))
def test_the_alert_inbox_takes_any_filter(clinician_web, params):
    assert_well_formed(RequestCounter.send(clinician_web.get, "/alerts/", params), "/alerts/")


@FUZZ
@given(data=form("note", "text", "assignee", "until", "tz", "reason", "next"))
def test_the_alert_workflow_forms_take_any_fields(clinician_web, patient, data):
    for action in ("acknowledge", "assign", "snooze", "resolve", "notes"):
        for alert_id in ("1", "99999999999999999999"):
            path = f"/patients/{patient.pk}/alerts/{alert_id}/{action}/"
            assert_well_formed(RequestCounter.send(clinician_web.post, path, data), path)


@FUZZ
@given(segment=query("x").map(lambda d: str(d.get("x", ""))))
def test_any_path_segment_in_place_of_a_patient_id(clinician_web, segment):
    from urllib.parse import quote

    for suffix in ("/", "/manage/", "/export/records.csv"):
        path = f"/patients/{quote(segment, safe='')}{suffix}"
        assert_well_formed(RequestCounter.send(clinician_web.get, path), path)


@FUZZ
@given(data=form("username", "password", "next"), params=query("next"))
def test_the_login_form_takes_any_fields(client, db, data, params):
    from urllib.parse import urlencode

    path = "/login/" + ("?" + urlencode(params, doseq=True) if params else "")
    assert_well_formed(RequestCounter.send(client.post, path, data), path)
    assert_well_formed(RequestCounter.send(client.get, path), path)
