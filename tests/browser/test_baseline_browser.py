"""The patient's own baseline in a real browser: the list's "negative vs own baseline" cell with the
interval of the change, and the band on the patient page's mood-share chart. Screenshots go to
var/screenshots/ (baseline-list.png, baseline-band.png)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.backend.factories import PatientFactory, UserFactory, add_records
from tests.browser.conftest import SCREENSHOTS
from tests.support import PASSWORD


@pytest.fixture
def rising_patient(transactional_db):
    clinician = UserFactory(username="dr_baseline")
    patient = PatientFactory(reference="P-RISE", display_name="Robin Lee", clinicians=[clinician], timezone="UTC")
    now = timezone.now()
    for back in range(5, 17):  # the baseline: 20% negative
        add_records(patient, now - timedelta(days=back), "negative", 2)
        add_records(patient, now - timedelta(days=back), "neutral", 8)
    for back in range(3):  # the recent window: 80%
        add_records(patient, now - timedelta(days=back, minutes=1), "negative", 16)
        add_records(patient, now - timedelta(days=back, minutes=1), "neutral", 4)
    return patient


def test_the_list_and_the_chart_show_the_change_from_the_own_baseline(live_server, rising_patient, page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "dr_baseline")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/patients/")
    cell = page.locator("td[data-label='Negative vs own baseline']")
    assert cell.locator(".baseline").inner_text() == "negative 80% vs baseline 20%"
    assert "95% interval" in cell.inner_text() and "+60 points (±" in cell.inner_text()
    widths = page.evaluate("(w => [w.scrollWidth, w.clientWidth])(document.querySelector('.table-wrap'))")
    assert widths[0] <= widths[1], f"the list scrolls sideways at 1280 px: {widths}"
    page.screenshot(path=str(SCREENSHOTS / "baseline-list.png"), full_page=True)

    page.goto(f"{live_server.url}/patients/{rising_patient.pk}/?range=30d")
    page.wait_for_selector("#chart-mood-share .main-svg")
    assert page.locator("#chart-mood-share .shapelayer path").count() >= 2, "the band and the baseline line"
    assert "own baseline: negative 20%" in page.locator("#chart-mood-share .annotation-text").text_content()
    assert "Against the own baseline: negative 80% vs baseline 20%" in page.inner_text("body")
    page.locator("#chart-mood-share").screenshot(path=str(SCREENSHOTS / "baseline-band.png"))
