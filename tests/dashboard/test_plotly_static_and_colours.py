"""Plotly's JavaScript comes from the installed package (no CDN), and each mood has one colour everywhere."""
import re
from datetime import UTC
from pathlib import Path

from django.contrib.staticfiles import finders

from backend.moods.definitions import MOOD_COLORS
from dashboard import charts

CSS = Path(__file__).resolve().parents[2] / "dashboard" / "static" / "dashboard" / "dashboard.css"


def test_the_static_finder_serves_the_plotly_bundle_of_the_installed_package():
    import plotly

    found = finders.find("dashboard/vendor/plotly.min.js")
    assert found is not None and Path(found).resolve().is_relative_to(Path(plotly.__file__).resolve().parent)
    assert Path(found).stat().st_size > 1_000_000


def test_collectstatic_lists_the_bundle_under_the_vendor_prefix():
    finder = finders.get_finder("dashboard.staticfiles.PlotlyFinder")
    (path, storage), = list(finder.list([]))
    assert f"{storage.prefix}/{path}" == "dashboard/vendor/plotly.min.js"


def test_the_css_uses_the_same_mood_colours_as_the_charts():
    css = CSS.read_text()
    for mood, colour in MOOD_COLORS.items():
        assert re.search(rf"--mood-{mood}:\s*{colour};", css, re.I), mood


def test_every_chart_colours_a_mood_with_its_own_colour():
    from datetime import datetime

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
