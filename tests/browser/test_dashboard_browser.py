"""The dashboard in a real browser (Debian's chromium via Playwright), on the live server, with records
produced by the real pipeline: enrollment, the upload API, face detection and the mood model.

Screenshots go to var/screenshots/ (git-ignored); look at them after a change to the pages.
"""
from backend.moods.models import MoodRecord
from tests.browser.conftest import SCREENSHOTS
from tests.support import PASSWORD


def plot_points(page, chart: str) -> int:
    return page.locator(f"#chart-{chart} .main-svg .point, #chart-{chart} .main-svg .bars path").count()


def test_a_clinician_logs_in_sees_the_list_and_the_charts_and_changes_the_range(live_server, monitored_patient, page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/patients/")
    assert "/login/" in page.url
    page.fill("input[name=username]", "dr_browser")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/patients/")
    row = page.locator("table.patients tbody tr", has_text="P-BROWSER")
    assert row.count() == 1
    assert row.locator(".moodbar span").count() == 4
    page.screenshot(path=str(SCREENSHOTS / "patient-list.png"), full_page=True)

    page.click("text=Alex Martin")
    page.wait_for_selector("#chart-timeline .main-svg")
    for chart in ("mood-share", "valence", "timeline", "coverage"):
        assert page.locator(f"#chart-{chart}.js-plotly-plot svg.main-svg").count() >= 1, chart
        assert plot_points(page, chart) > 0, f"{chart} drew no data points"
    records = MoodRecord.objects.filter(patient=monitored_patient).count()
    assert page.locator("#chart-timeline .main-svg .point").count() == records
    assert "Europe/Paris" in page.inner_text(".page-head")
    page.screenshot(path=str(SCREENSHOTS / "patient-7d.png"), full_page=True)

    page.click("label.pill:has-text('24 hours')")
    page.wait_for_url("**range=24h**")
    assert page.locator("input[name=bucket][value=hour]").is_checked()
    page.wait_for_load_state("networkidle")
    if page.locator("#chart-mood-share").count():
        assert plot_points(page, "mood-share") > 0
    else:
        assert page.locator(".empty h2").inner_text() == "No data in this range"
    page.screenshot(path=str(SCREENSHOTS / "patient-24h.png"), full_page=True)
