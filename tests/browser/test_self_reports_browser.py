"""Self-reports on the patient page in a real browser (Debian's chromium via Playwright): the timeline
draws them as diamonds with a "Self-report" legend entry, and the agreement figure is shown.
Records and reports come from factories (the endpoint and the pipeline are tested elsewhere)."""
from datetime import timedelta

from django.utils import timezone

from tests.backend.factories import PatientFactory, SelfReportFactory, UserFactory, add_records
from tests.browser.conftest import SCREENSHOTS
from tests.support import PASSWORD


def test_the_timeline_shows_self_reports_beside_the_expressions(live_server, transactional_db, page):
    clinician = UserFactory(username="dr_reports")
    patient = PatientFactory(reference="P-REPORTS", clinicians=[clinician], timezone="Europe/Paris")
    now = timezone.now()
    for days_ago, mood in [(1, "positive"), (2, "negative"), (3, "neutral")]:
        add_records(patient, now - timedelta(days=days_ago), mood, 3)
        SelfReportFactory(device__patient=patient, patient=patient, mood="positive",
                          reported_at=now - timedelta(days=days_ago, minutes=-3))
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", "dr_reports")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/patients/{patient.pk}/")
    page.wait_for_selector("#chart-timeline .main-svg")
    assert "Self-report" in page.locator("#chart-timeline .legend").text_content()
    # 9 expression records and 3 self-reports: every one drawn (the reports' trace is the last one)
    assert page.locator("#chart-timeline .scatterlayer .point").count() == 12
    assert page.locator("#chart-timeline .scatterlayer .trace").last.locator(".point").count() == 3
    agreement = page.locator("#self-report-agreement").inner_text()
    assert "33%" in agreement and "1 of 3 self-reports" in agreement
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#chart-timeline").screenshot(path=str(SCREENSHOTS / "timeline-self-reports.png"))
