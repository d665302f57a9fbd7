"""Every page carries a Content-Security-Policy; every page, export and API answer with patient
data says no-store; the API docs need no CDN; no token material shows in the admin."""
import re

import pytest
from django.contrib.staticfiles import finders

from tests.backend.conftest import clinician_client, logged_in

pytestmark = pytest.mark.django_db


def pages(patient):
    return ["/patients/", f"/patients/{patient.pk}/", f"/patients/{patient.pk}/manage/",
            f"/patients/{patient.pk}/export/records.csv", f"/patients/{patient.pk}/export/summary.csv",
            f"/patients/{patient.pk}/export/fhir.json", "/patients/new/"]


def test_every_page_and_export_has_a_csp_that_allows_scripts_only_from_this_site_and_is_not_stored(
        clinician_web, patient):
    for path in pages(patient):
        response = clinician_web.get(path)
        assert response.status_code == 200, path
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-eval" not in csp and "frame-ancestors 'none'" in csp, path
        assert "no-store" in response["Cache-Control"], path


def test_the_login_page_and_api_answers_are_not_stored_either(client, clinician, patient):
    assert "no-store" in client.get("/login/")["Cache-Control"]
    api = clinician_client(clinician)
    for path in ["/api/v1/patients/", f"/api/v1/patients/{patient.pk}/moods/",
                 f"/api/v1/patients/{patient.pk}/mood-summary/"]:
        response = api.get(path)
        assert response.status_code == 200 and "no-store" in response["Cache-Control"], path


def test_the_api_docs_load_swagger_ui_from_this_sites_static_files(client):
    html = client.get("/api/v1/docs/").content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(s.startswith("/") for s in sources), sources
    assert "cdn" not in html.lower() and "<script>" not in html  # no inline script for the CSP
    for source in sources:
        if source.startswith("/static/"):
            assert finders.find(source.removeprefix("/static/")), source


def test_a_device_shows_no_token_material_as_text_or_in_the_admin(device, admin_user):
    lookup_id = device.token_lookup_id
    assert lookup_id not in str(device) and device.token not in str(device)
    admin = logged_in(admin_user)
    for path in ["/admin/devices/device/", f"/admin/devices/device/{device.pk}/change/"]:
        html = admin.get(path).content.decode()
        assert lookup_id not in html and device.token_digest not in html, path
