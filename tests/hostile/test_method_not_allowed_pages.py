"""A page address asked with a method it does not take (GET on a form's POST-only address, as a
bookmark or a reloaded redirect does) answers the 405 error page, with its Allow header: Django's
require_POST answered with an empty body, which a browser shows as a blank page."""
import pytest

pytestmark = pytest.mark.django_db

POST_ONLY = ("inference-mode", "thresholds", "consent", "active")


@pytest.mark.parametrize("action", POST_ONLY)
def test_a_get_on_a_post_only_page_gets_the_405_page(clinician_web, patient, action):
    response = clinician_web.get(f"/patients/{patient.pk}/{action}/")
    assert response.status_code == 405
    assert response["Content-Type"].startswith("text/html")
    assert response.content.lstrip().lower().startswith(b"<!doctype html>"), response.content[:100]
    assert b"Method not allowed" in response.content
    assert "POST" in response["Allow"]


def test_the_api_keeps_its_json_405(clinician_web, patient):
    response = clinician_web.delete(f"/api/v1/patients/{patient.pk}/moods/")
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"
