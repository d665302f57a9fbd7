"""What a clinician saw go wrong in a review session of `make run` (2026-12-06), in a real browser:
the enrollment code broke its last letter onto a second line on a phone, the manage page scrolled
sideways on a phone (the devices table's hidden "Revoke… <device>" label escaped its scrolling box),
and the patient list at 1366 px broke a reference at its hyphen ("DEMO-" / "002").
Screenshots go to var/screenshots/review-*.png."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.moods.definitions import MOOD_ORDER
from tests.backend.factories import DeviceFactory, PatientFactory, UserFactory, add_records
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_dashboard_v2_browser import log_in

# The number of rendered lines of an element's text (one client rect per line box of its text).
LINES = """sel => { const range = document.createRange(); range.selectNodeContents(document.querySelector(sel));
  return new Set([...range.getClientRects()].filter(r => r.width > 0).map(r => Math.round(r.top))).size; }"""
PAGE_WIDTH = "() => [document.documentElement.scrollWidth, window.innerWidth]"


@pytest.fixture
def managed_patient(transactional_db):
    clinician = UserFactory(username="dr_review")
    patient = PatientFactory(reference="DEMO-002", display_name="Demo patient B (DEMO DATA)", clinicians=[clinician])
    DeviceFactory(patient=patient, label="demo phone (DEMO-002)")
    return patient


@pytest.mark.parametrize("width", [390, 1366])
def test_the_enrollment_code_stays_on_one_line(live_server, managed_patient, page, width):
    page.set_viewport_size({"width": width, "height": 844})
    log_in(page, live_server, "dr_review")
    page.goto(f"{live_server.url}/patients/{managed_patient.pk}/manage/")
    page.get_by_role("button", name="Issue enrollment code").click()
    page.wait_for_url(f"**/patients/{managed_patient.pk}/enrollment-code/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"review-enrollment-code-{width}.png"), full_page=True)
    assert page.evaluate(LINES, ".code") == 1, page.inner_text(".code")
    box, card = page.locator(".code").bounding_box(), page.locator("main").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= min(width, card["x"] + card["width"])
    width_now, inner = page.evaluate(PAGE_WIDTH)
    assert width_now <= inner


def test_the_manage_page_does_not_scroll_sideways_on_a_phone(live_server, managed_patient, page):
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, live_server, "dr_review")
    page.goto(f"{live_server.url}/patients/{managed_patient.pk}/manage/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "review-manage-390.png"), full_page=True)
    width_now, inner = page.evaluate(PAGE_WIDTH)
    assert width_now <= inner, f"the page is {width_now} px wide in a {inner} px window"
    # The revoke link is still reachable by name (its hidden label stays for screen readers).
    assert page.get_by_role("link", name="Revoke… demo phone (DEMO-002)").count() == 1


def test_the_patient_list_keeps_a_reference_on_one_line(live_server, managed_patient, page):
    now = timezone.now()
    for day in range(14):  # a full row: mood bar, valence, change, coverage
        add_records(managed_patient, now - timedelta(days=day, hours=1), MOOD_ORDER[day % len(MOOD_ORDER)], 3)
    page.set_viewport_size({"width": 1366, "height": 768})
    log_in(page, live_server, "dr_review")
    page.wait_for_selector("table.patients .patient-ref")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "review-patient-list-1366.png"), full_page=True)
    assert page.evaluate(LINES, "table.patients .patient-ref") == 1
    assert page.evaluate(LINES, "table.patients .patient-link") <= 2
    # ...and no column went off the right edge to make room for it.
    table, wrap = page.evaluate("() => { const w = document.querySelector('.table-wrap');"
                                " return [w.scrollWidth, w.clientWidth]; }")
    assert table <= wrap, f"the table is {table} px wide in its {wrap} px box"
