"""Issue 28, the patient's own sampling rate in a real browser: a refused rate on the manage page keeps
the value typed and says beside the field what it takes; nothing is saved. Screenshots at 390 and
1366 px wide go to var/screenshots/."""
import pytest
from django.conf import settings

from backend.patients.models import Patient
from tests.backend.factories import PatientFactory, UserFactory
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_dashboard_v2_browser import log_in

HIGH = settings.MOODWATCH["MAX_SAMPLING_SECONDS"]


@pytest.mark.parametrize("width", (390, 1366))
def test_a_refused_rate_keeps_the_value_and_says_why_beside_the_field(live_server, transactional_db, page, width):
    clinician = UserFactory(username="dr_rate")
    patient = PatientFactory(reference="P-RATE", display_name="Sam Reyes", clinicians=[clinician])
    page.set_viewport_size({"width": width, "height": 900})
    log_in(page, live_server, "dr_rate")
    page.goto(f"{live_server.url}/patients/{patient.pk}/manage/#sampling")
    typed = str(HIGH + 1)
    page.fill("#id_sampling_seconds", typed)
    # The browser's own min/max check would stop it first; the server must hold the line for any client.
    page.evaluate("document.querySelector('#sampling form').noValidate = true")
    page.click("#sampling button[type=submit]")
    page.wait_for_selector("#sampling p.error[role=alert]")
    assert page.input_value("#id_sampling_seconds") == typed
    error = page.locator("#id_sampling_seconds_error")
    assert error.inner_text().startswith(f"Type a whole number of seconds from 1 to {HIGH}")
    field_box, error_box = page.locator("#id_sampling_seconds").bounding_box(), error.bounding_box()
    assert abs(error_box["x"] - field_box["x"]) < 2 and 0 <= error_box["y"] - field_box["y"] < 120, "beside it"
    assert error_box["x"] + error_box["width"] <= width
    assert Patient.objects.get(pk=patient.pk).sampling_seconds is None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#sampling").screenshot(path=str(SCREENSHOTS / f"sampling-refused-{width}.png"))
    page.fill("#id_sampling_seconds", "15")
    page.click("#sampling button[type=submit]")
    page.wait_for_selector("text=Sampling rate saved: one frame every 15 s.")
    assert Patient.objects.get(pk=patient.pk).sampling_seconds == 15
    page.locator("#sampling").screenshot(path=str(SCREENSHOTS / f"sampling-saved-{width}.png"))
