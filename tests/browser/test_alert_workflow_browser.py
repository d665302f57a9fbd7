"""Issue 29 part 5 in a real browser, on a desktop (1366 px) and a phone (390 px): an alert walked
new -> acknowledged -> assigned -> snoozed -> (the snooze passes) -> resolved, by mouse and by
keyboard, checking what a clinician sees at each step: the state label, the header badge, the
patient list's order and badge. Screenshots go to var/screenshots/alert-workflow-<width>-<step>.png."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.alerts.models import Alert
from tests.backend.factories import PatientFactory, UserFactory
from tests.browser.conftest import SCREENSHOTS, log_in


@pytest.fixture
def ward(transactional_db):
    """Two patients of dr_ward (and of dr_colleague); only Zoe has an alert. By name Aaron comes
    first, so only the alert can put Zoe above him."""
    clinician, colleague = UserFactory(username="dr_ward"), UserFactory(username="dr_colleague")
    zoe = PatientFactory(reference="P-ZOE", display_name="Zoe Alerting", clinicians=[clinician, colleague])
    PatientFactory(reference="P-AARON", display_name="Aaron Quiet", clinicians=[clinician, colleague])
    now = timezone.now()
    return Alert.objects.create(patient=zoe, kind=Alert.Kind.NEGATIVE_MOOD, raised_at=now - timedelta(hours=2),
                                evaluated_at=now, records=120, negative_share=0.72,
                                thresholds={"window_days": 3, "negative_share": 0.6, "no_data_days": 2})


def list_order(page) -> list[str]:
    return [text.strip() for text in page.locator("table.patients tbody tr .patient-link").all_inner_texts()]


def alerts_cell(page, name: str) -> str:
    return page.locator("table.patients tbody tr", has_text=name).locator("td[data-label=Alerts]").inner_text()


def header_badge(page) -> str:
    badge = page.locator(".topbar .badge")
    return badge.inner_text() if badge.count() else ""


@pytest.mark.parametrize("width, height", [(1366, 900), (390, 844)])
def test_an_alert_walked_through_every_state(live_server, ward, page, width, height):
    page.set_viewport_size({"width": width, "height": height})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def shot(step):
        page.screenshot(path=str(SCREENSHOTS / f"alert-workflow-{width}-{step}.png"), full_page=True)

    def on_list(expected_order, zoe_cell):
        page.goto(f"{live_server.url}/patients/")
        assert list_order(page) == expected_order
        assert alerts_cell(page, "Zoe Alerting") == zoe_cell

    log_in(page, live_server, "dr_ward")
    on_list(["Zoe Alerting", "Aaron Quiet"], "1 open alert")
    assert header_badge(page) == "1"
    shot("1-list-new")

    # new -> acknowledged, from the inbox, by keyboard
    page.goto(f"{live_server.url}/alerts/")
    item = page.locator(".alert-item", has_text="Zoe Alerting")
    assert item.locator(".state-label").inner_text() == "New"
    shot("2-inbox-new")
    item.locator("button", has_text="Acknowledge").focus()
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "Alert acknowledged." in page.inner_text(".messages")
    assert item.locator(".state-label").inner_text() == "Acknowledged"
    assert header_badge(page) == "", "nothing new, nothing assigned to me"
    on_list(["Zoe Alerting", "Aaron Quiet"], "1 open alert")  # still on top, with the badge

    # acknowledged -> assigned to the colleague, by keyboard: open the step, choose, submit
    page.goto(f"{live_server.url}/alerts/")
    item.locator("summary", has_text="Assign").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.name") == "assignee"
    item.locator("select[name=assignee]").select_option("dr_colleague")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Assign"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert item.locator(".state-label").inner_text() == "Assigned"
    assert "Assigned to dr_colleague" in item.inner_text()
    shot("3-inbox-assigned")
    on_list(["Zoe Alerting", "Aaron Quiet"], "1 open alert")

    # assigned -> snoozed: it leaves the open inbox and the top of the list
    page.goto(f"{live_server.url}/alerts/")
    item.locator("summary", has_text="Snooze").click()
    assert item.locator("label", has_text="Snooze until (UTC)").is_visible()
    shot("4-snooze-form")
    with page.expect_navigation():
        item.locator("button", has_text="Snooze").click()
    assert "Alert snoozed." in page.inner_text(".messages") and item.count() == 0
    page.goto(f"{live_server.url}/alerts/?state=snoozed")
    assert item.locator(".state-label").inner_text() == "Snoozed"
    assert "Snoozed until" in item.inner_text() and " UTC" in item.locator(".alert-snooze").inner_text()
    shot("5-inbox-snoozed")
    on_list(["Aaron Quiet", "Zoe Alerting"], "1 snoozed")
    shot("6-list-snoozed")

    # the snooze time passes (no job runs): back, assigned, on top
    Alert.objects.filter(pk=ward.pk).update(snoozed_until=timezone.now() - timedelta(minutes=1))
    on_list(["Zoe Alerting", "Aaron Quiet"], "1 open alert")
    page.goto(f"{live_server.url}/alerts/?assignee=dr_colleague")
    assert item.locator(".state-label").inner_text() == "Assigned"

    # assigned -> resolved with a reason and a note, from the patient page
    page.goto(f"{live_server.url}/patients/{ward.patient_id}/")
    item = page.locator(".alert-item")
    item.locator("summary", has_text="Resolve").click()
    item.locator("select[name=reason]").select_option("patient_contacted")
    item.locator("textarea[name=note]").fill("Reached Zoe by phone; she is sleeping badly, GP informed.")
    with page.expect_navigation():
        item.locator("button", has_text="Resolve").click()
    assert "Alert resolved." in page.inner_text(".messages") and page.locator(".alert-item").count() == 0
    past = page.locator(".past-alerts").inner_text()
    assert "Patient contacted, no further action" in past and "dr_ward" in past
    on_list(["Aaron Quiet", "Zoe Alerting"], "—")
    page.goto(f"{live_server.url}/alerts/?state=resolved")
    resolved = page.locator(".alert-item", has_text="Zoe Alerting")
    assert resolved.locator(".state-label").inner_text() == "Resolved"
    assert "Reached Zoe by phone" in resolved.inner_text()
    shot("7-inbox-resolved")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= width, "no sideways scrolling"
    ward.refresh_from_db()
    assert (ward.state, ward.resolution, ward.assigned_to.username) == ("resolved", "patient_contacted",
                                                                         "dr_colleague")
