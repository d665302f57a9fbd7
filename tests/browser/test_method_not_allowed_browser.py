"""A bookmarked or reloaded form address (POST only) opened in the browser shows the 405 error page
in the site's frame, with a way back, not a blank page. Screenshots at 390 and 1366 px wide go to
var/screenshots/."""
import pytest

from tests.backend.factories import PatientFactory, UserFactory
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_dashboard_v2_browser import log_in


@pytest.mark.parametrize("width", (390, 1366))
def test_opening_a_post_only_address_shows_the_405_page(live_server, transactional_db, page, width):
    clinician = UserFactory(username="dr_405")
    patient = PatientFactory(reference="P-405", clinicians=[clinician])
    page.set_viewport_size({"width": width, "height": 700})
    log_in(page, live_server, "dr_405")
    response = page.goto(f"{live_server.url}/patients/{patient.pk}/thresholds/")
    assert response.status == 405
    heading = page.locator("h1")
    assert heading.inner_text().strip() == "Method not allowed"
    assert heading.is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width  # nothing overflows on a phone
    page.screenshot(path=str(SCREENSHOTS / f"method-not-allowed-{width}.png"), full_page=True)
