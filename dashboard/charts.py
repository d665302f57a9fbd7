"""Plotly figure builders. Each returns a plain figure dict (data + layout) for Plotly.newPlot.

Times are shown in the patient's time zone: x values are local wall-clock strings, and the axis
title names the zone (Plotly itself has no time zone support).
"""
from datetime import datetime
from zoneinfo import ZoneInfo

from backend.moods.definitions import BUCKET_STEPS, MOOD_COLORS, MOOD_LABELS, MOOD_ORDER

ROLLING_WINDOW = {"hour": 24, "day": 7, "week": 4}
BUCKET_MS = {name: step.total_seconds() * 1000 for name, step in BUCKET_STEPS.items()}  # Plotly's time unit


def _bucket_bars(bucket: str) -> dict:
    """Bars that span their own bucket (x is its start); Plotly would otherwise size them from
    the smallest gap between the buckets that have data, so sparse hours look hours wide."""
    return {"width": BUCKET_MS[bucket] * 0.85, "offset": BUCKET_MS[bucket] * 0.075}
ROLLING_LABEL = {"hour": "24-hour", "day": "7-day", "week": "4-week"}
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13, "color": "#1f2933"}
CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"]}


def _local(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S")


def period_span(*, start: datetime, end: datetime, tz_name: str) -> list[str]:
    """The selected range as local wall-clock strings: every chart shows the whole range, so gaps show."""
    tz = ZoneInfo(tz_name)
    return [_local(start, tz), _local(end, tz)]


def _layout(*, title: str, y_title: str, tz_name: str, span: list[str] | None = None, **extra) -> dict:
    layout = {
        "title": {"text": title, "x": 0, "font": {"size": 15}},
        "font": FONT,
        "margin": {"l": 56, "r": 16, "t": 44, "b": 56},
        "height": 320,
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": -0.2, "x": 0, "traceorder": "normal"},
        # Times are the patient's local time; the page header names the zone (no axis title: it
        # would collide with the legend on a tablet-width chart).
        "xaxis": {"type": "date", "gridcolor": "#e5e9f0", "automargin": True},
        "yaxis": {"title": {"text": y_title}, "gridcolor": "#e5e9f0", "zerolinecolor": "#9aa5b1"},
    }
    if span:
        layout["xaxis"]["range"] = span
    layout.update(extra)
    return layout


def mood_share_figure(*, rows: list[dict], tz_name: str, bucket: str = "day", span: list[str] | None = None) -> dict:
    """Stacked bars: the share of each mood per bucket, with counts on hover."""
    tz = ZoneInfo(tz_name)
    x = [_local(r["bucket_start"], tz) for r in rows]
    data = [
        {
            "type": "bar",
            "name": MOOD_LABELS[mood],
            "x": x,
            "y": [round(r[f"share_{mood}"] * 100, 1) for r in rows],
            "customdata": [[r[f"count_{mood}"], r["records"]] for r in rows],
            "marker": {"color": MOOD_COLORS[mood]},
            "hovertemplate": (
                f"{MOOD_LABELS[mood]}: %{{y:.1f}}% (%{{customdata[0]}} of %{{customdata[1]}})<extra></extra>"
            ),
            **_bucket_bars(bucket),
        }
        for mood in MOOD_ORDER
    ]
    return {"data": data, "layout": _layout(
        title="Mood share per bucket", y_title="share of records (%)", tz_name=tz_name, span=span,
        barmode="stack", bargap=0.15,
        yaxis={"title": {"text": "share of records (%)"}, "range": [0, 100], "gridcolor": "#e5e9f0"},
    )}


def rolling_mean(values: list[float], window: int) -> list[float]:
    """Mean of the last `window` buckets (fewer at the start) — over non-empty buckets only."""
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1): i + 1]
        out.append(sum(chunk) / len(chunk))
    return out


def valence_figure(*, rows: list[dict], tz_name: str, bucket: str, span: list[str] | None = None) -> dict:
    tz = ZoneInfo(tz_name)
    x = [_local(r["bucket_start"], tz) for r in rows]
    valence = [round(r["valence"], 3) for r in rows]
    window = ROLLING_WINDOW[bucket]
    data = [
        {
            "type": "scatter", "mode": "lines+markers", "name": "valence per bucket", "x": x, "y": valence,
            "customdata": [r["records"] for r in rows],
            "line": {"color": "#52606d", "width": 1}, "marker": {"size": 5, "color": "#52606d"},
            "hovertemplate": "valence %{y:+.2f} (%{customdata} records)<extra></extra>",
        },
        {
            "type": "scatter", "mode": "lines", "name": f"{ROLLING_LABEL[bucket]} rolling average", "x": x,
            "y": [round(v, 3) for v in rolling_mean(valence, window)],
            "line": {"color": "#1d4ed8", "width": 3},
            "hovertemplate": "rolling average %{y:+.2f}<extra></extra>",
        },
    ]
    return {"data": data, "layout": _layout(
        title="Valence index (positive share − negative share)", y_title="valence", tz_name=tz_name, span=span,
        yaxis={"title": {"text": "valence"}, "range": [-1.05, 1.05], "zeroline": True, "zerolinewidth": 2,
               "zerolinecolor": "#9aa5b1", "gridcolor": "#e5e9f0", "tickvals": [-1, -0.5, 0, 0.5, 1]},
    )}


def timeline_figure(*, records: list[dict], tz_name: str, span: list[str] | None = None) -> dict:
    """One dot per record, on the row of its mood, with the four probabilities on hover.

    Records carry `local_time`, wall-clock text in the patient's zone (see moods.selectors.mood_timeline).
    """
    data = []
    for mood in MOOD_ORDER:
        mine = [r for r in records if r["mood"] == mood]
        data.append({
            "type": "scatter", "mode": "markers", "name": MOOD_LABELS[mood],
            "x": [r["local_time"] for r in mine],
            "y": [MOOD_LABELS[mood]] * len(mine),
            "customdata": [[round(r[f"p_{m}"], 3) for m in MOOD_ORDER] for r in mine],
            "marker": {"color": MOOD_COLORS[mood], "size": 7, "opacity": 0.75},
            "hovertemplate": (
                "%{x}<br><b>" + MOOD_LABELS[mood] + "</b><br>positive %{customdata[0]:.0%}<br>"
                "neutral %{customdata[1]:.0%}<br>other %{customdata[2]:.0%}<br>negative %{customdata[3]:.0%}"
                "<extra></extra>"
            ),
        })
    return {"data": data, "layout": _layout(
        title="Timeline of records", y_title="", tz_name=tz_name, span=span, hovermode="closest",
        yaxis={"type": "category", "categoryorder": "array", "range": [-0.5, len(MOOD_ORDER) - 0.5], "automargin": True,
               "categoryarray": [MOOD_LABELS[m] for m in reversed(MOOD_ORDER)], "gridcolor": "#e5e9f0"},
    )}


def coverage_figure(*, days: list[dict], tz_name: str, span: list[str] | None = None) -> dict:
    tz = ZoneInfo(tz_name)
    x = [days_row["day"].astimezone(tz).strftime("%Y-%m-%d") for days_row in days]
    data = [
        {"type": "bar", "name": "frames received", "x": x, "y": [d["frames"] or 0 for d in days],
         "marker": {"color": "#9fb3c8"}, "hovertemplate": "%{y} frames received<extra></extra>",
         "width": BUCKET_MS["day"] * 0.42, "offset": BUCKET_MS["day"] * 0.08},
        {"type": "bar", "name": "frames with a face", "x": x, "y": [d["frames_with_face"] or 0 for d in days],
         "marker": {"color": "#334e68"}, "hovertemplate": "%{y} frames with a face<extra></extra>",
         "width": BUCKET_MS["day"] * 0.42, "offset": BUCKET_MS["day"] * 0.5},
    ]
    layout = _layout(
        title="Coverage per day (by upload day)", y_title="frames", tz_name=tz_name, span=span, barmode="overlay"
    )
    if len(x) <= 14:
        layout["xaxis"]["dtick"] = 86400000.0  # one tick per day
    return {"data": data, "layout": layout}
