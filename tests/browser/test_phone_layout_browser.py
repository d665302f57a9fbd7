"""The patient page on a phone (390 x 844, issue 29 part 6) and on a laptop (1366 px): no sideways
scrolling, every chart inside the window, and every chart title whole, inside the window and clear of
the chart's legend and mode bar. Screenshots go to var/screenshots/ (phone-patient-*.png)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.moods.definitions import MOOD_ORDER
from tests.backend.factories import PatientFactory, SelfReportFactory, UserFactory, add_records
from tests.browser.conftest import SCREENSHOTS
from tests.support import PASSWORD

# Per chart: the boxes (in page pixels) of its title, legend, mode bar and the chart itself.
CHART_BOXES = """() => [...document.querySelectorAll("[data-figure]")].map(el => {
  const box = node => { if (!node) return null; const r = node.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom, width: r.width, height: r.height}; };
  return {id: el.id, chart: box(el), title: box(el.querySelector(".gtitle")),
          legend: box(el.querySelector(".legend")), modebar: box(el.querySelector(".modebar"))};
})"""


def overlap(a: dict | None, b: dict | None) -> bool:
    if not a or not b or not a["width"] or not b["width"]:
        return False
    return a["left"] < b["right"] and b["left"] < a["right"] and a["top"] < b["bottom"] and b["top"] < a["bottom"]


@pytest.fixture
def week_patient(transactional_db):
    """A week of records in every mood at several times of day, and a self-report: all four charts."""
    clinician = UserFactory(username="dr_phone")
    patient = PatientFactory(reference="P-PHONE", display_name="Robin Okafor-Lindqvist", clinicians=[clinician])
    now = timezone.now()
    for day in range(7):
        for slot, hour in enumerate((8, 12, 17, 21)):
            moment = (now - timedelta(days=day)).replace(hour=hour, minute=0)
            if moment < now:
                add_records(patient, moment, MOOD_ORDER[(day + slot) % len(MOOD_ORDER)], 3 + slot)
    SelfReportFactory(device__patient=patient, reported_at=now - timedelta(hours=5), mood="positive")
    return patient


def open_patient_page(page, live_server, patient, width: int, height: int, preset: str):
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{live_server.url}/patients/{patient.pk}/?range={preset}")
    if "/login/" in page.url:
        page.fill("input[name=username]", "dr_phone")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"**/patients/{patient.pk}/?range={preset}")
    page.wait_for_function("() => [...document.querySelectorAll('[data-figure]')]"
                           ".every(e => e.querySelector('.main-svg'))")


def title_problems(chart: dict, inner: int) -> list[str]:
    """What is wrong with one chart's title (1 px of slack for the first glyph's side bearing)."""
    title, box = chart["title"], chart["chart"]
    if not title or not title["width"]:
        return ["no title"]
    problems = []
    if title["left"] < box["left"] - 1 or title["right"] > box["right"] or title["top"] < box["top"] \
            or title["bottom"] > box["bottom"]:
        problems.append(f"title cut at the chart's edge: {title} in {box}")
    if title["left"] < 0 or title["right"] > inner:
        problems.append("title outside the window")
    if overlap(title, chart["modebar"]):
        problems.append("the mode bar covers the title")
    if overlap(title, chart["legend"]):
        problems.append("the legend covers the title")
    return problems


def hover_each_chart(page):
    """Show each chart's mode bar, as a finger or the mouse does, so its box is where a user sees it."""
    for chart in page.evaluate(CHART_BOXES):
        page.hover(f"#{chart['id']}")
        page.wait_for_timeout(100)


@pytest.mark.parametrize("width, height, preset", [(390, 844, "7d"), (390, 844, "24h"), (390, 844, "90d"),
                                                   (1366, 900, "7d")])
def test_the_patient_page_fits_the_window_and_every_chart_title_is_whole_and_uncovered(
    live_server, week_patient, page, width, height, preset,
):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    open_patient_page(page, live_server, week_patient, width, height, preset)
    hover_each_chart(page)
    charts = page.evaluate(CHART_BOXES)
    inner = page.evaluate("innerWidth")
    assert inner == width and len(charts) == 4
    assert page.evaluate("document.scrollingElement.scrollWidth") <= inner, "the page scrolls sideways"
    for chart in charts:
        assert chart["chart"]["left"] >= 0 and chart["chart"]["right"] <= inner, f"{chart['id']} overflows"
        assert title_problems(chart, inner) == [], chart["id"]
    page.screenshot(path=str(SCREENSHOTS / f"phone-patient-{width}-{preset}.png"), full_page=True)


def test_the_checks_see_the_titles_plotly_draws_unbroken_on_a_phone(live_server, week_patient, page):
    """The checks above can fail: the same figures drawn by Plotly alone (as before charts.js broke
    the titles) run past the chart or under the mode bar on a 390 px phone."""
    open_patient_page(page, live_server, week_patient, 390, 844, "7d")
    page.evaluate("""() => document.querySelectorAll("[data-figure]").forEach(el => {
      const figure = JSON.parse(document.getElementById(el.dataset.figure).textContent);
      Plotly.purge(el);
      return Plotly.newPlot(el, figure.data, figure.layout, {responsive: true});
    })""")
    hover_each_chart(page)
    problems = [title_problems(chart, 390) for chart in page.evaluate(CHART_BOXES)]
    assert any(problems), problems
