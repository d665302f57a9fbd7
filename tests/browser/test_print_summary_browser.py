"""Issue 29 part 6: the printed summary reads well on A4 and on Letter. For each paper: under print
media, at the paper's text width, every chart's title, tick labels and legend lie inside the chart;
nothing on paper is a link or control that does nothing there ("Change", "Manage patient", the
exports); the PDF that Chromium makes has that text, and its pages are rendered to PNG
(var/screenshots/print-<paper>-<n>.png) to be looked at."""
import re
import shutil
import subprocess

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_dashboard_v2_browser import log_in

# Paper (Playwright's format) -> its width, less the 14 mm margins of @page, in CSS pixels (96 per inch).
MM = 96 / 25.4
PAPERS = {"A4": round((210 - 2 * 14) * MM), "Letter": round((215.9 - 2 * 14) * MM)}
CHARTS = ("mood-share", "valence", "timeline", "coverage")
# What a chart draws in text: title, axis titles, tick labels, legend entries, annotations.
TEXT = ".gtitle, .g-xtitle text, .g-ytitle text, .xtick text, .ytick text, .legendtext, .annotation-text"
# Each text element of a chart that is not inside the chart's own box, and the box (CSS pixels).
OUTSIDE = """(chart) => {
  const box = document.querySelector('#chart-' + chart + ' .main-svg').getBoundingClientRect();
  const page = document.documentElement.clientWidth;
  const out = [];
  document.querySelectorAll('#chart-' + chart + ' :is(""" + TEXT + """)').forEach((el) => {
    const r = el.getBoundingClientRect();
    if (!r.width || !el.textContent.trim()) { return; }
    if (r.left < box.left - 0.5 || r.right > box.right + 0.5 || r.top < box.top - 0.5
        || r.bottom > box.bottom + 0.5 || r.right > page) {
      out.push(el.textContent.trim() + ' ' + [r.left, r.right, r.top, r.bottom].map(Math.round).join(','));
    }
  });
  return {out: out, box: [box.left, box.right, box.width].map(Math.round), texts:
    document.querySelectorAll('#chart-' + chart + ' :is(""" + TEXT + """)').length};
}"""
RANGES = ("24h", "90d", "7d")  # the PDF below is made of the last
DEAD_ON_PAPER = ["Change", "Manage patient", "Print summary", "Records (CSV)", "records export (CSV)", "Show"]


def visible_texts(page, selector: str) -> list[str]:
    return [el.inner_text().strip() for el in page.locator(selector).all() if el.is_visible()]


@pytest.mark.parametrize("paper", PAPERS)
def test_the_summary_prints_whole_on_a4_and_letter(live_server, monitored_patient, page, tmp_path, paper):
    if not shutil.which("pdftoppm"):
        pytest.fail("pdftoppm is missing: `make chromium` installs poppler-utils")
    log_in(page, live_server, "dr_browser")
    page.set_viewport_size({"width": PAPERS[paper], "height": 1000})
    for preset in RANGES:  # hourly ticks for a day, daily for a week, fortnightly for 90 days
        page.emulate_media(media="screen")
        page.goto(f"{live_server.url}/patients/{monitored_patient.pk}/?range={preset}")
        page.wait_for_selector("html[data-charts-for=screen]", state="attached")
        page.emulate_media(media="print")
        page.wait_for_selector("html[data-charts-for=print]", state="attached")  # charts.js drew them for paper
        assert not page.locator(".topbar").is_visible()
        for text in DEAD_ON_PAPER:
            assert not visible_texts(page, f"main a:text-is('{text}'), main button:text-is('{text}')"), text
        for chart in CHARTS:
            found = page.evaluate(OUTSIDE, chart)
            assert found["texts"] >= 4, (chart, found)
            assert found["box"][1] <= PAPERS[paper], (chart, found["box"])  # the chart fits the paper's width
            assert not found["out"], (paper, preset, chart, found)

    pdf = tmp_path / f"summary-{paper}.pdf"
    page.pdf(path=str(pdf), format=paper, print_background=True)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "MoodWatch summary for the clinical record" in text and "Alert rules for this patient" in text
    for dead in DEAD_ON_PAPER:
        assert not re.search(rf"\b{re.escape(dead)}\b", text), dead
    prefix = SCREENSHOTS / f"print-{paper}"
    for old in SCREENSHOTS.glob(f"print-{paper}-*.png"):
        old.unlink()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "80", str(pdf), str(prefix)], check=True)
    pages = sorted(SCREENSHOTS.glob(f"print-{paper}-*.png"))
    assert 1 <= len(pages) <= 3, pages
