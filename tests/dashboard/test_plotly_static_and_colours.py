"""Plotly's JavaScript is the pinned npm partial bundle (no CDN) and holds every trace type the
charts draw; each mood has one colour everywhere."""
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.utils import timezone

from backend.moods.definitions import MOOD_COLORS
from dashboard import charts
from dashboard.staticfiles import PACKAGE, STATIC_PATH
from tests.backend.factories import SelfReportFactory, add_records
from tests.dashboard.test_patient_detail_view import figures

ROOT = Path(__file__).resolve().parents[2]
CSS = ROOT / "dashboard" / "static" / "dashboard" / "dashboard.css"
# How a plotly.js bundle registers a trace type (its minified source keeps these literals).
TRACE_MODULE = re.compile(r'moduleType:"trace",name:"(\w+)"')


def bundle_trace_types() -> set[str]:
    return set(TRACE_MODULE.findall(Path(finders.find(STATIC_PATH)).read_text()))


def test_the_static_finder_serves_the_bundle_of_the_npm_package_pinned_exactly():
    found = Path(finders.find(STATIC_PATH)).resolve()
    assert found.is_relative_to((settings.NODE_MODULES / PACKAGE).resolve())
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"][PACKAGE]
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"][f"node_modules/{PACKAGE}"]["version"]
    installed = json.loads((found.parent / "package.json").read_text())["version"]
    assert pinned == locked == installed  # --save-exact: no range, so every install serves the same bytes
    assert f"plotly.js (basic - minified) v{installed}" in found.read_text()[:200]


def test_the_served_bundle_is_the_partial_one():
    # The parse works (it finds the basic bundle's three trace types) and the bundle is not the full one.
    assert bundle_trace_types() == {"scatter", "bar", "pie"}


def test_a_miss_is_an_empty_list_whatever_find_all_says():
    finder = finders.get_finder("dashboard.staticfiles.PlotlyFinder")
    assert finder.find("dashboard/vendor/plotly.min.js") == []
    assert finder.find("dashboard/vendor/plotly.min.js", find_all=True) == []
    assert finder.find(STATIC_PATH, find_all=True) == [finder.find(STATIC_PATH)]


def test_collectstatic_lists_the_bundle_under_the_vendor_prefix():
    finder = finders.get_finder("dashboard.staticfiles.PlotlyFinder")
    (path, storage), = list(finder.list([]))
    assert f"{storage.prefix}/{path}" == STATIC_PATH


@pytest.mark.parametrize("preset", ["24h", "7d", "90d"])
def test_every_trace_type_on_the_patient_page_is_in_the_served_bundle(clinician_web, patient, preset):
    """Every chart the page draws, in short and long ranges, with records and a self-report (the
    timeline's own trace): a trace type missing from the bundle would leave a chart blank."""
    now = timezone.now()
    for hours_ago, mood in [(2, "positive"), (5, "negative"), (30, "neutral"), (80, "other")]:
        add_records(patient, now - timedelta(hours=hours_ago), mood, 3)
    SelfReportFactory(device__patient=patient, reported_at=now - timedelta(hours=3))
    drawn = figures(clinician_web.get(f"/patients/{patient.pk}/", {"range": preset}))
    assert set(drawn) >= {"mood-share", "valence", "timeline", "coverage"}
    used = {trace.get("type", "scatter") for figure in drawn.values() for trace in figure["data"]}
    assert used and used <= bundle_trace_types(), used - bundle_trace_types()


def test_the_css_uses_the_same_mood_colours_as_the_charts():
    css = CSS.read_text()
    for mood, colour in MOOD_COLORS.items():
        assert re.search(rf"--mood-{mood}:\s*{colour};", css, re.I), mood


def test_every_chart_colours_a_mood_with_its_own_colour():
    row = {"bucket_start": datetime(2026, 3, 1, tzinfo=UTC), "records": 4, "valence": 0.0,
           **{f"count_{m}": 1 for m in MOOD_COLORS}, **{f"share_{m}": 0.25 for m in MOOD_COLORS}}
    share = charts.mood_share_figure(rows=[row], starts=[row["bucket_start"]], tz_name="Europe/Paris")
    timeline = charts.timeline_figure(records=[], tz_name="Europe/Paris")
    for figure in (share, timeline):
        assert {t["name"].lower(): t["marker"]["color"] for t in figure["data"]} == MOOD_COLORS


def _contrast(colour: str, background: str = "#ffffff") -> float:
    def luminance(hex_colour):
        channels = [int(hex_colour.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(colour), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_every_mood_colour_reaches_3_to_1_contrast_against_the_white_page():
    assert {mood: _contrast(colour) >= 3.0 for mood, colour in MOOD_COLORS.items()} == dict.fromkeys(MOOD_COLORS, True)
    assert round(_contrast("#56B4E9"), 2) == 2.31  # the check itself: the old neutral fails it
