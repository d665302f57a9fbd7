"""Issue 29 part 3 in a real browser: the same day's 7-day rolling valence read from the page in the
24-hour, 7-, 30- and 90-day views; coverage by capture time named on the list and the page; and
patients who cannot send anything (deactivated, phone revoked, no phone, data deleted) shown as
such. Screenshots at 1366 and 390 px go to var/screenshots/ (figures-*.png)."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from backend.devices.services import device_revoke
from backend.ingest.models import FrameBatch
from backend.moods.definitions import bucket_back, bucket_floor
from backend.patients.services import patient_active_set
from backend.workflows.services import patient_data_delete
from tests.backend.factories import PatientFactory, UserFactory, add_records
from tests.browser.conftest import SCREENSHOTS, log_in

WIDTHS = (1366, 390)


@pytest.fixture
def history(transactional_db):
    """40 days whose mix changes every day: a window cut short gives another rolling figure."""
    clinician = UserFactory(username="dr_figures")
    patient = PatientFactory(reference="P-ROLL", display_name="Dana Roll", clinicians=[clinician])
    now = timezone.now()
    made = []
    for k in range(40):
        for hours, mood, n in ((1, "positive", 1 + k % 5), (5, "negative", 1 + (k * 7) % 4), (9, "neutral", 2)):
            add_records(patient, now - timedelta(days=k, hours=hours), mood, n)
            made.append((now - timedelta(days=k, hours=hours), mood, n))
    return patient, now, made


def test_a_days_rolling_valence_reads_the_same_in_every_range(live_server, history, page):
    patient, now, made = history
    tz = ZoneInfo(patient.timezone)
    today = bucket_floor(now, bucket="day", tz=tz)
    # yesterday (in every view, the 24-hour one included) and the 7-day view's first day, whose
    # window reaches 6 days before that view
    days = [bucket_back(today, count=back, bucket="day", tz=tz) for back in (1, 6)]

    def expected(day):
        start, end = bucket_back(day, count=6, bucket="day", tz=tz), bucket_back(day, count=-1, bucket="day", tz=tz)
        inside = [(mood, n) for moment, mood, n in made if start <= moment < end]
        value = (sum(n for m, n in inside if m == "positive") - sum(n for m, n in inside if m == "negative"))
        return f"{value / sum(n for _, n in inside):+.2f}"

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log_in(page, live_server, "dr_figures")
    seen = {}
    for preset in ("24h", "7d", "30d", "90d"):
        page.goto(f"{live_server.url}/patients/{patient.pk}/?range={preset}&bucket=day")
        page.wait_for_selector("#chart-valence .main-svg")
        table = page.locator("figure", has=page.locator("#chart-valence")).locator("details.chart-table")
        table.locator("summary").click()
        header = [text.strip() for text in table.locator("thead th").all_text_contents()]  # CSS capitalises
        column = header.index("7-day rolling valence")
        for day in days if preset != "24h" else days[:1]:
            row = table.locator("tbody tr", has=page.locator(f"th:text-is('{day:%Y-%m-%d} 00:00')"))
            seen[preset, f"{day:%Y-%m-%d}"] = row.locator("th, td").nth(column).inner_text()
        if preset in ("7d", "30d"):
            for width in WIDTHS:  # laid out afresh at each width
                page.set_viewport_size({"width": width, "height": 900})
                page.reload()
                page.wait_for_selector("#chart-valence .main-svg")
                shot = SCREENSHOTS / f"figures-valence-{preset}-{width}.png"
                page.locator("#chart-valence").screenshot(path=str(shot))
            page.set_viewport_size({"width": 1280, "height": 900})
    assert len(seen) == 7
    assert seen == {(preset, day): expected(datetime.fromisoformat(day).replace(tzinfo=tz)) for preset, day in seen}


@pytest.fixture
def cohort(transactional_db):
    """One patient per state, and one whose frames were uploaded days after they were taken."""
    clinician = UserFactory(username="dr_states")
    now = timezone.now()

    def patient(reference, name):
        return PatientFactory(reference=reference, display_name=name, clinicians=[clinician],
                              consent_recorded_at=now - timedelta(days=20))

    late = patient("P-LATE", "Lee Late")
    batch = add_records(late, now - timedelta(days=6), "neutral", 5, frame_count=6)  # taken 6 days ago ...
    FrameBatch.objects.filter(pk=batch.pk).update(received_at=now - timedelta(minutes=3))  # ... uploaded now
    stopped = patient("P-STOP", "Sam Stopped")
    add_records(stopped, now - timedelta(days=9), "neutral", 2)
    patient_active_set(patient=stopped, active=False, actor=clinician)
    revoked = patient("P-REVOKED", "Rae Revoked")
    add_records(revoked, now - timedelta(days=9), "neutral", 2)
    for device in revoked.devices.all():
        device_revoke(device=device, actor=clinician)
    deleted = patient("P-DELETED", "Dee Deleted")
    add_records(deleted, now - timedelta(days=3), "neutral", 2)
    patient_data_delete(patient=deleted, actor=clinician)
    patient("P-NOPHONE", "Nat Nophone")
    return {"late": late, "revoked": revoked, "deleted": deleted}


def test_the_list_and_the_page_name_why_a_patient_sends_nothing_and_count_by_capture_time(
        live_server, cohort, page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    log_in(page, live_server, "dr_states")
    expected = {
        "P-STOP": "Monitoring stopped (deactivated) since", "P-REVOKED": "Phone revoked since",
        "P-DELETED": "Data deleted on request", "P-NOPHONE": "No phone enrolled",
    }
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/patients/?inactive=1")
        if width >= 960:  # a table; below, each patient is a card with labelled cells
            header = page.locator("table.patients thead th", has_text="Coverage (7 d)")
            assert header.locator(".th-note").inner_text() == "by capture time" and header.is_visible()
        wrap = page.evaluate("(w => [w.scrollWidth, w.clientWidth])(document.querySelector('.table-wrap'))")
        assert wrap[0] <= wrap[1], f"the list scrolls sideways at {width} px: {wrap}"
        for reference, words in expected.items():
            row = page.locator("table.patients tbody tr", has_text=reference)
            cell = row.locator("td[data-label='Coverage, 7 d, by capture time']")
            assert cell.is_visible() and words in cell.inner_text(), (width, reference, cell.inner_text())
        late = page.locator("table.patients tbody tr", has_text="P-LATE")
        assert "6 frames" in late.inner_text()
        assert page.evaluate("document.scrollingElement.scrollWidth") <= width
        page.screenshot(path=str(SCREENSHOTS / f"figures-states-list-{width}.png"), full_page=True)

    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/patients/{cohort['late'].pk}/?range=7d")
    assert "Frames, by capture time\n6" in page.inner_text(".figures")
    for key, words in (("revoked", "The patient's phone was revoked on"),
                       ("deleted", "The patient's data were deleted on request on")):
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.goto(f"{live_server.url}/patients/{cohort[key].pk}/")
            body = page.inner_text("main")
            assert words in body and "check that the app is running" not in body
            page.screenshot(path=str(SCREENSHOTS / f"figures-state-{key}-{width}.png"), full_page=True)
