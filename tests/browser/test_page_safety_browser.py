"""Issue 29 part 4 in a real browser (Debian's chromium, the page's own CSP): no chart button that
sends data anywhere and no unnamed tab stops in the charts' tool bars, revoking a device asks first
(cancel keeps it, confirm revokes it), and the enrollment code page keeps its code on reload.
Screenshots go to var/screenshots/."""
import re
from datetime import timedelta

import cv2
import numpy as np
import pytest
from django.utils import timezone

from backend.devices.models import Device, EnrollmentCode
from tests.backend.factories import DeviceFactory, PatientFactory, UserFactory, add_records
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_dashboard_v2_browser import log_in

ALLOWED_TOOLS = {"Download plot as a PNG", "Zoom", "Pan", "Zoom in", "Zoom out", "Reset axes"}


@pytest.fixture
def charted_patient(transactional_db):
    """A patient with records over the last six days (enough for every chart of the page)."""
    clinician = UserFactory(username="dr_safety")
    patient = PatientFactory(reference="P-SAFE", display_name="Robin Lee", clinicians=[clinician])
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for day in range(6):
        for hour, mood in ((9, "positive"), (14, "neutral"), (19, "negative")):
            moment = now - timedelta(days=day, hours=hour % 5)
            add_records(patient, moment, mood, n=3)
    return patient


def watch(page) -> dict:
    """Requests to any other host, and CSP violations reported on the console."""
    seen = {"elsewhere": [], "csp": []}
    page.on("request", lambda r: seen["elsewhere"].append(r.url)
            if not r.url.startswith(("http://localhost", "data:", "blob:")) else None)
    page.on("console", lambda m: seen["csp"].append(m.text) if "Content Security Policy" in m.text else None)
    return seen


def test_no_chart_sends_data_anywhere_and_the_tool_bars_are_no_unnamed_tab_stops(live_server, charted_patient,
                                                                                  page):
    seen = watch(page)
    log_in(page, live_server, "dr_safety")
    page.goto(f"{live_server.url}/patients/{charted_patient.pk}/")
    charts = page.locator(".chart-area")
    assert charts.count() >= 3
    page.wait_for_function(f"document.querySelectorAll('.chart-area .modebar').length === {charts.count()}")
    charts.first.hover()
    page.wait_for_timeout(300)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "chart-toolbar.png"), clip=charts.first.bounding_box())
    titles = page.eval_on_selector_all(".modebar-btn", "els => els.map(e => e.getAttribute('data-title'))")
    assert titles and set(titles) <= ALLOWED_TOOLS, set(titles) - ALLOWED_TOOLS
    assert page.locator(".modebar [data-title*='Share' i], .modebar [data-title*='cloud' i], "
                        ".modebar [data-title*='JSON' i], .modebar a[href]").count() == 0
    # every focusable thing in a tool bar: out of the tab order, and named
    tools = page.eval_on_selector_all(
        ".modebar button, .modebar a, .modebar [tabindex]",
        "els => els.map(e => ({tab: e.tabIndex, name: e.getAttribute('aria-label') || ''}))")
    assert tools and all(t["tab"] < 0 and t["name"].strip() for t in tools), tools
    # Tab through the page: the focus never lands in a chart's tool bar, nor on anything unnamed
    stops = []
    for _ in range(80):
        page.keyboard.press("Tab")
        stop = page.evaluate("""() => { const e = document.activeElement;
            return {tool: !!e.closest('.modebar'), tag: e.tagName,
                    name: (e.getAttribute('aria-label') || e.innerText || e.value || e.title || '').trim()
                          || (e.labels && e.labels[0] && e.labels[0].innerText.trim()) || ''}; }""")
        stops.append(stop)
        if stop["tag"] == "BODY":
            break
    assert not [s for s in stops if s["tool"]]
    assert not [s for s in stops if s["tag"] != "BODY" and not s["name"]], stops
    # zooming still works with the mouse, and the bar keeps its rules after Plotly redraws it
    page.locator(".chart-area").first.locator(".modebar-btn[data-title='Zoom in']").click()
    page.wait_for_timeout(300)
    assert page.eval_on_selector_all(".modebar-btn", "els => els.every(e => e.tabIndex < 0)")
    assert not seen["elsewhere"] and not seen["csp"], seen


def test_revoking_a_device_asks_first_cancel_keeps_it_and_confirm_revokes_it(live_server, transactional_db, page):
    clinician = UserFactory(username="dr_devices")
    patient = PatientFactory(reference="P-DEV", display_name="Kim Park", clinicians=[clinician])
    device = DeviceFactory(patient=patient, label="Pixel 7")
    seen = watch(page)
    log_in(page, live_server, "dr_devices")
    page.goto(f"{live_server.url}/patients/{patient.pk}/manage/")
    page.get_by_role("link", name="Revoke… Pixel 7").click()
    page.wait_for_url(f"**/devices/{device.pk}/revoke/")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "revoke-confirm.png"), full_page=True)
    assert "Revoke “Pixel 7”?" in page.inner_text("h1")
    assert Device.objects.get(pk=device.pk).revoked_at is None, "the question changes nothing"
    page.get_by_role("link", name="Cancel, keep it active").click()
    page.wait_for_url(f"**/patients/{patient.pk}/manage/")
    assert Device.objects.get(pk=device.pk).revoked_at is None
    assert "active" in page.locator("tr", has_text="Pixel 7").inner_text()
    page.get_by_role("link", name="Revoke… Pixel 7").click()
    page.get_by_role("button", name="Revoke the device").click()
    page.wait_for_url(f"**/patients/{patient.pk}/manage/")
    assert "revoked" in page.inner_text(".messages")
    assert Device.objects.get(pk=device.pk).revoked_at is not None
    assert "revoked" in page.locator("tr", has_text="Pixel 7").inner_text()
    assert not seen["elsewhere"] and not seen["csp"], seen


def test_the_code_page_shows_the_link_and_qr_code_and_a_reload_issues_no_other(live_server, transactional_db, page):
    clinician = UserFactory(username="dr_codes")
    patient = PatientFactory(reference="P-CODE", display_name="Ana Silva", clinicians=[clinician])
    seen = watch(page)
    log_in(page, live_server, "dr_codes")
    page.goto(f"{live_server.url}/patients/{patient.pk}/manage/")
    page.get_by_role("button", name="Issue enrollment code").click()
    page.wait_for_url(f"**/patients/{patient.pk}/enrollment-code/")
    code = page.inner_text(".code")
    link = page.input_value("#enroll-link")
    assert link.endswith(f"/app/#enroll={code}") and link.startswith(live_server.url)
    assert page.locator(".qr svg").is_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "enrollment-code.png"), full_page=True)
    # the QR code as the browser draws it, read back by OpenCV's decoder: it is the link
    shot = np.frombuffer(page.locator(".qr").screenshot(), dtype=np.uint8)
    assert cv2.QRCodeDetector().detectAndDecode(cv2.imdecode(shot, cv2.IMREAD_COLOR))[0] == link
    page.reload()
    assert page.inner_text(".code") == code
    assert EnrollmentCode.objects.filter(patient=patient).count() == 1
    page.goto(f"{live_server.url}/patients/{patient.pk}/manage/")
    assert "show it" in page.inner_text("main")
    page.get_by_role("button", name="Issue a new code").click()
    page.wait_for_url(f"**/patients/{patient.pk}/enrollment-code/")
    assert page.inner_text(".code") != code
    assert EnrollmentCode.objects.filter(patient=patient, cancelled_at__isnull=True).count() == 1
    assert not seen["elsewhere"] and not seen["csp"], seen


BARS_INSIDE = """(id) => {
  const chart = document.getElementById(id);
  const plot = chart.querySelector('.nsewdrag').getBoundingClientRect();
  const bars = [...chart.querySelectorAll('.bars .point path')].map(p => p.getBoundingClientRect())
    .filter(b => b.width > 0 && b.height > 0);
  return {count: bars.length,
          outside: bars.filter(b => b.left < plot.left - 1 || b.right > plot.right + 1).length,
          widths: bars.map(b => Math.round(b.width)), rightmost: Math.max(...bars.map(b => b.right)),
          plotRight: plot.right};
}"""


@pytest.mark.parametrize("preset", ["24h", "7d", "30d", "90d"])
def test_coverage_and_share_bars_sit_inside_the_plot_and_the_current_bucket_is_whole(live_server, charted_patient,
                                                                                      page, preset):
    add_records(charted_patient, timezone.now() - timedelta(minutes=5), "positive", n=2)  # the current bucket
    log_in(page, live_server, "dr_safety")
    page.goto(f"{live_server.url}/patients/{charted_patient.pk}/?range={preset}")
    page.wait_for_selector("#chart-coverage .bars .point path", state="attached")
    page.wait_for_selector("#chart-mood-share .bars .point path", state="attached")
    for chart in ("chart-coverage", "chart-mood-share"):
        bars = page.evaluate(BARS_INSIDE, chart)
        assert bars["count"] > 0 and bars["outside"] == 0, (chart, bars)
    share = page.evaluate(BARS_INSIDE, "chart-mood-share")
    # the current bucket's bars are as wide as the others (whole, not a sliver at the right edge)
    assert max(share["widths"]) - min(share["widths"]) <= 1, share["widths"]
    assert share["rightmost"] <= share["plotRight"] + 1
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#chart-coverage").screenshot(path=str(SCREENSHOTS / f"coverage-{preset}.png"))
    page.locator("#chart-mood-share").screenshot(path=str(SCREENSHOTS / f"share-{preset}.png"))


def test_the_timeline_hover_shows_date_time_and_zone_in_a_30_day_range(live_server, charted_patient, page):
    log_in(page, live_server, "dr_safety")
    page.goto(f"{live_server.url}/patients/{charted_patient.pk}/?range=30d")
    page.wait_for_selector("#chart-timeline .scatterlayer .point", state="attached")
    page.locator("#chart-timeline").scroll_into_view_if_needed()
    point = page.locator("#chart-timeline .scatterlayer .point").first
    box = point.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("#chart-timeline .hoverlayer .hovertext")
    text = page.locator("#chart-timeline .hoverlayer").text_content()
    assert re.search(r"\w{3} \d{1,2} \w{3} \d{4}, \d{2}:\d{2}:\d{2} " + re.escape(charted_patient.timezone), text), text
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#chart-timeline").screenshot(path=str(SCREENSHOTS / "timeline-hover-30d.png"))
