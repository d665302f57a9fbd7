"""Dashboard v2 in a real browser: the alerts inbox with an alert the rules raised when real uploads
landed, acknowledging it, the list on a tablet, the range presets from the keyboard, a 90-day axis
and the print view. Screenshots go to var/screenshots/."""
import re

import pytest

from backend.alerts.models import Alert, AlertThresholds
from tests.backend.factories import PatientFactory, UserFactory
from tests.browser.conftest import SCREENSHOTS, log_in, phone_uploads


@pytest.fixture
def alerting_patient(transactional_db, sample_images_dir, eager_tasks):
    """A patient whose thresholds the real uploads trip (the absolute rule: any negative share over at
    least 5 records): the alert is raised by the rule evaluation that runs when the batches land."""
    clinician = UserFactory(username="dr_alerts", email="dr.alerts@hospital.example")
    patient = PatientFactory(reference="P-ALERT", display_name="Sam Rivera", clinicians=[clinician])
    AlertThresholds.objects.create(patient=patient, rule="absolute", negative_share=0.0, min_records=5,
                                   window_days=7)
    phone_uploads(patient, clinician, sample_images_dir)
    return patient


def test_an_alert_raised_on_upload_is_in_the_inbox_and_acknowledged_there(live_server, alerting_patient, page):
    alert = Alert.objects.get(patient=alerting_patient, kind=Alert.Kind.NEGATIVE_MOOD)
    assert alert.notified_to == ["dr_alerts"], "the new alert was e-mailed to the care team"
    log_in(page, live_server, "dr_alerts")
    assert page.locator(".topbar .badge").inner_text() == "1"
    page.click(".topbar >> text=Alerts")
    page.wait_for_url("**/alerts/")
    item = page.locator(".alert-item", has_text="Sam Rivera")
    assert "Sustained negative mood" in item.inner_text()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "alerts-inbox.png"), full_page=True)
    item.locator("button", has_text="Acknowledge").click()
    page.wait_for_url("**/alerts/")
    assert "Alert acknowledged." in page.inner_text(".messages")
    assert page.locator(".alert-item .state-label").inner_text() == "Acknowledged", "still listed, in triage"
    assert page.locator(".topbar .badge").count() == 0
    alert.refresh_from_db()
    assert alert.acknowledged_by.username == "dr_alerts"


def test_on_a_tablet_the_list_shows_every_figure_without_scrolling_sideways(live_server, monitored_patient, page):
    page.set_viewport_size({"width": 820, "height": 1180})
    log_in(page, live_server, "dr_browser")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 820
    card = page.locator("table.patients tbody tr", has_text="P-BROWSER")
    for label in ("Valence, 7 d", "Change vs 7 d before", "Coverage, 7 d, by capture time"):
        cell = card.locator(f"td[data-label='{label}']")
        box = cell.bounding_box()
        assert cell.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= 820, label
    page.screenshot(path=str(SCREENSHOTS / "patient-list-820.png"), full_page=True)


def test_arrow_keys_move_between_presets_and_enter_applies_the_choice(live_server, monitored_patient, page):
    log_in(page, live_server, "dr_browser")
    page.goto(f"{live_server.url}/patients/{monitored_patient.pk}/")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    page.focus("input[name=range][value='7d']")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(400)
    assert "range=" not in page.url, "an arrow key only moves the choice"
    assert page.locator("input[name=range][value='30d']").is_checked()
    page.keyboard.press("Enter")
    page.wait_for_url("**range=30d**")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.activeElement.name + '=' + document.activeElement.value") == "range=30d"
    assert page.locator("input[name=bucket][value=day]").is_checked()
    assert page.locator("input[name=range][value='30d']").is_checked()


def test_a_90_day_coverage_axis_has_a_few_readable_ticks_that_do_not_overlap(live_server, monitored_patient, page):
    log_in(page, live_server, "dr_browser")
    page.goto(f"{live_server.url}/patients/{monitored_patient.pk}/?range=90d")
    page.wait_for_selector("#chart-coverage .main-svg")
    ticks = page.locator("#chart-coverage .xtick text")
    assert 4 <= ticks.count() <= 10
    boxes = sorted((ticks.nth(i).bounding_box() for i in range(ticks.count())), key=lambda b: b["x"])
    assert all(a["x"] + a["width"] < b["x"] for a, b in zip(boxes, boxes[1:])), "tick labels overlap"
    assert all(re.fullmatch(r"\d{1,2} \w{3}", ticks.nth(i).text_content()) for i in range(ticks.count()))
    assert page.locator("#chart-coverage[role=img][aria-label]").count() == 1
    page.click("summary:has-text('Coverage per day')")
    assert page.locator("details.chart-table table tbody tr").count() >= 5
    page.screenshot(path=str(SCREENSHOTS / "patient-90d.png"), full_page=True)


def test_the_patient_page_prints_as_a_two_page_a4_summary(live_server, monitored_patient, page, tmp_path):
    log_in(page, live_server, "dr_browser")
    page.goto(f"{live_server.url}/patients/{monitored_patient.pk}/")
    page.wait_for_selector("#chart-timeline .main-svg")
    page.emulate_media(media="print")
    page.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    assert not page.locator(".topbar").is_visible() and not page.locator("#range-form").is_visible()
    assert "printed" in page.locator(".print-only").inner_text()
    for chart in ("mood-share", "valence", "timeline", "coverage"):  # two charts a row
        assert page.locator(f"#chart-{chart} .main-svg").first.bounding_box()["width"] <= 345
    pdf = page.pdf(path=str(tmp_path / "summary.pdf"), format="A4")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert 1 <= pages <= 2, f"{pages} pages"
