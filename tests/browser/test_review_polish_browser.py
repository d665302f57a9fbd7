"""What a clinician sees after the review fixes, at 1366 px and 390 px: a refused alert step ("Other"
with no note) keeps the clinician on the inbox with the message beside the alert and the form open as
they left it; two active phones are said plainly on the manage page with their Revoke actions; on a
phone the devices table is cards, so Revoke is reached without a sideways scroll.
Screenshots: var/screenshots/polish-<width>-<what>.png."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.alerts.models import Alert
from tests.backend.factories import DeviceFactory, PatientFactory, UserFactory
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_alert_workflow_browser import log_in

WIDTHS = [(1366, 900), (390, 844)]


@pytest.fixture
def ward(transactional_db):
    clinician = UserFactory(username="dr_ward")
    patient = PatientFactory(reference="P-ZOE", display_name="Zoe Alerting", clinicians=[clinician])
    now = timezone.now()
    Alert.objects.create(patient=patient, kind=Alert.Kind.NEGATIVE_MOOD, raised_at=now - timedelta(hours=2),
                         evaluated_at=now, records=120, negative_share=0.72,
                         thresholds={"window_days": 3, "negative_share": 0.6, "no_data_days": 2})
    DeviceFactory(patient=patient, label="Old Pixel 4a")
    DeviceFactory(patient=patient, label="New Galaxy A15")
    DeviceFactory(patient=patient, label="Lost phone", revoked_at=now - timedelta(days=3))
    return patient


@pytest.mark.parametrize("width, height", WIDTHS)
def test_a_refused_resolve_stays_on_the_inbox_with_the_form_open(live_server, ward, page, width, height):
    page.set_viewport_size({"width": width, "height": height})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log_in(page, live_server, "dr_ward")
    page.goto(f"{live_server.url}/alerts/")
    item = page.locator(".alert-item", has_text="Zoe Alerting")
    item.locator("summary", has_text="Resolve").click()
    item.locator("select[name=reason]").select_option("other")
    with page.expect_navigation():
        item.locator("button", has_text="Resolve").click()
    assert page.locator("h1").inner_text() == "Alerts", "still the inbox, not a separate page"
    refused = item.locator(".alert-refused")
    assert refused.is_visible()
    assert "Write a note saying why the alert is resolved." in refused.inner_text()
    resolve = item.locator("details.alert-step", has_text="Resolve")
    assert resolve.get_attribute("open") is not None
    assert item.locator("select[name=reason]").input_value() == "other"
    assert item.locator("textarea[name=note]").is_visible()
    page.screenshot(path=str(SCREENSHOTS / f"polish-{width}-alert-refused.png"), full_page=True)
    assert Alert.objects.get().resolution == ""


@pytest.mark.parametrize("width, height", WIDTHS)
def test_two_active_phones_said_and_revoke_reached_without_sideways_scroll(live_server, ward, page, width, height):
    page.set_viewport_size({"width": width, "height": height})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log_in(page, live_server, "dr_ward")
    page.goto(f"{live_server.url}/patients/{ward.pk}/manage/")
    notice = page.locator(".multi-device")
    assert notice.is_visible() and "2 phones active:" in notice.inner_text()
    assert notice.get_by_role("link", name="Revoke").count() == 2
    revokes = page.locator("table.devices a", has_text="Revoke")
    assert revokes.count() == 2
    for index in range(revokes.count()):
        box = revokes.nth(index).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    wrap = page.locator("table.devices").evaluate("t => [t.parentElement.scrollWidth, t.parentElement.clientWidth]")
    assert wrap[0] <= wrap[1], "the devices table scrolls sideways"
    assert page.locator("table.devices thead").is_visible() == (width > 600)
    page.locator("table.devices").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / f"polish-{width}-devices.png"), full_page=True)
    page.goto(f"{live_server.url}/patients/{ward.pk}/")
    assert "2 phones active:" in page.locator(".multi-device").inner_text()
    page.screenshot(path=str(SCREENSHOTS / f"polish-{width}-patient.png"))
