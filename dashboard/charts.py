"""Plotly figure builders. Each returns a plain figure dict (data + layout) for Plotly.newPlot.

Times are shown in the patient's time zone: x values are local wall-clock strings, and the axis
title names the zone (Plotly itself has no time zone support).

The charts do not flatter the data: every bucket of the range is on the axis, so an empty one is a
gap (a break in the lines, no bar), and the number of records behind a bucket shows (bar opacity,
marker size). Tick spacing follows the length of the range, not the days that have data.
"""
import math
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from backend.moods.definitions import (
    BUCKET_STEPS,
    MOOD_COLORS,
    MOOD_LABELS,
    MOOD_ORDER,
    bucket_back,
    bucket_floor,
    valence_of_counts,
)
from backend.moods.models import RecordSource

ROLLING_WINDOW = {"hour": 24, "day": 7, "week": 4}
BUCKET_MS = {name: step.total_seconds() * 1000 for name, step in BUCKET_STEPS.items()}  # Plotly's time unit


def _bucket_bars(bucket: str) -> dict:
    """Bars that span their own bucket (x is its start); Plotly would otherwise size them from
    the smallest gap between the buckets that have data, so sparse hours look hours wide."""
    return {"width": BUCKET_MS[bucket] * 0.85, "offset": BUCKET_MS[bucket] * 0.075}
ROLLING_LABEL = {"hour": "24-hour", "day": "7-day", "week": "4-week"}
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 13, "color": "#1f2933"}
# Plotly's options for every chart (the page hands them to charts.js). The mode bar holds only
# buttons that act in the browser (zoom, pan, reset, save as PNG on this computer): no "Share chart"
# (it uploads the figure to cloud.plotly.com), no JSON download, no Plotly logo link; plotlyServerURL
# empty, so nothing has a server to send to (plotly.js 4 has no Chart Studio link left to turn off).
# charts.js names the buttons and keeps them out of the tab order.
MODE_BAR_BUTTONS = [["toImage"], ["zoom2d", "pan2d", "zoomIn2d", "zoomOut2d", "resetScale2d"]]
CONFIG = {
    "displaylogo": False, "responsive": True, "showSendToCloud": False, "plotlyServerURL": "",
    "modeBarButtons": MODE_BAR_BUTTONS,
    "toImageButtonOptions": {"filename": "moodwatch-chart"},
}


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
        layout["xaxis"].update(time_ticks(span))
    layout.update(extra)
    return layout


# (longest range in days, tick spacing in ms or Plotly's "M<n>" months, tick label format)
_TICKS = [
    (1.5, 3 * 3600 * 1000, "%H:%M\n%a %-d %b"),
    (3.5, 6 * 3600 * 1000, "%H:%M\n%a %-d %b"),
    (10, 24 * 3600 * 1000, "%a\n%-d %b"),
    (35, 7 * 24 * 3600 * 1000, "%-d %b"),
    (120, 14 * 24 * 3600 * 1000, "%-d %b"),
    (400, "M1", "%b %Y"),
    (math.inf, "M3", "%b %Y"),
]


def time_ticks(span: list[str]) -> dict:
    """Tick spacing and format for a time axis, from the length of the range shown: about 5 to 12
    readable labels whatever the range (30 days: weekly; 90 days: fortnightly), aligned on local
    midnight (weekly ones on a Monday)."""
    start, end = (datetime.fromisoformat(text) for text in span)
    days = (end - start) / timedelta(days=1)
    dtick, fmt = next((dtick, fmt) for longest, dtick, fmt in _TICKS if days <= longest)
    tick0 = start.replace(hour=0, minute=0, second=0, microsecond=0)
    if dtick == 7 * 24 * 3600 * 1000 or dtick == 14 * 24 * 3600 * 1000:
        tick0 -= timedelta(days=tick0.weekday())
    elif isinstance(dtick, str):
        tick0 = tick0.replace(day=1)
    return {"dtick": dtick, "tick0": tick0.strftime("%Y-%m-%d %H:%M:%S"), "tickformat": fmt}


def _weight(records: int | None, most: int) -> float:
    """0..1: how much a bucket's figure rests on (square root: 1 record vs 100 is visible, 100 vs 400 less so)."""
    if not records or not most:
        return 0.0
    return math.sqrt(records / most)


def _bucketed(rows: list[dict], starts: list[datetime], tz: ZoneInfo) -> tuple[list[str], list[dict | None]]:
    """Every bucket of the range (x, local wall-clock) with its row, or None where it is empty."""
    by_start = {_local(r["bucket_start"], tz): r for r in rows}
    x = [_local(start, tz) for start in starts]
    for key in by_start.keys() - set(x):  # a row outside the generated buckets (cannot happen; never drop data)
        x.append(key)
    x.sort()
    return x, [by_start.get(key) for key in x]


def mood_share_figure(
    *, rows: list[dict], starts: list[datetime], tz_name: str, bucket: str = "day", span: list[str] | None = None,
    baseline: tuple[float, float, float] | None = None,
) -> dict:
    """Stacked bars: the share of each mood per bucket, with counts on hover. A bar's opacity
    follows the number of records behind it, so a bucket of 2 records does not look like one of 200.
    `baseline` (share, low, high of a usual day, 0-1) draws the patient's own negative-share baseline
    as a band where the negative segment (the top of each bar) would begin."""
    tz = ZoneInfo(tz_name)
    x, cells = _bucketed(rows, starts, tz)
    most = max((r["records"] for r in rows), default=0)
    opacity = [round(0.3 + 0.7 * _weight(c["records"], most), 3) if c else 0 for c in cells]
    data = [
        {
            "type": "bar",
            "name": MOOD_LABELS[mood],
            "x": x,
            "y": [round(c[f"share_{mood}"] * 100, 1) if c else None for c in cells],
            "customdata": [[c[f"count_{mood}"], c["records"]] if c else [0, 0] for c in cells],
            "marker": {"color": MOOD_COLORS[mood], "opacity": opacity, "line": {"width": 0}},
            "hovertemplate": (
                f"{MOOD_LABELS[mood]}: %{{y:.1f}}% (%{{customdata[0]}} of %{{customdata[1]}} records)<extra></extra>"
            ),
            **_bucket_bars(bucket),
        }
        for mood in MOOD_ORDER
    ]
    layout = _layout(
        title="Mood share per bucket (fainter bars: fewer records)", y_title="share of records (%)",
        tz_name=tz_name, span=span, barmode="stack", bargap=0.15,
        yaxis={"title": {"text": "share of records (%)"}, "range": [0, 100], "gridcolor": "#e5e9f0"},
    )
    if baseline is not None:
        layout.update(_baseline_band(*baseline))
    return {"data": data, "layout": layout}


def _baseline_band(share: float, low: float, high: float) -> dict:
    """Negative is stacked last, so its segment spans 100 - share .. 100: the band sits at 100 - high
    .. 100 - low, a dashed line at 100 - share. A negative segment reaching below the band is a day
    more negative than this patient's usual."""
    edge = {"xref": "paper", "x0": 0, "x1": 1, "yref": "y"}
    return {
        "shapes": [
            {"type": "rect", **edge, "y0": round(100 - high * 100, 1), "y1": round(100 - low * 100, 1),
             "fillcolor": MOOD_COLORS["negative"], "opacity": 0.12, "line": {"width": 0}, "layer": "above"},
            {"type": "line", **edge, "y0": round(100 - share * 100, 1), "y1": round(100 - share * 100, 1),
             "line": {"color": MOOD_COLORS["negative"], "width": 1.5, "dash": "dash"}, "layer": "above"},
        ],
        "annotations": [{
            "xref": "paper", "x": 1, "xanchor": "right", "yref": "y", "y": round(100 - low * 100, 1),
            "yanchor": "top", "showarrow": False, "font": {"size": 11}, "bgcolor": "rgba(255,255,255,0.85)",
            "text": f"own baseline: negative {share:.0%} (usual day {low:.0%}–{high:.0%})",
        }],
    }


def rolling_valence(cells: list[dict | None], window: int) -> list[float | None]:
    """Valence of the records of the last `window` buckets (time, not buckets with data), pooled.
    None where the whole window is empty, so the line breaks."""
    out = []
    for i in range(len(cells)):
        chunk = [c for c in cells[max(0, i - window + 1): i + 1] if c]
        out.append(valence_of_counts(positive=sum(c["count_positive"] for c in chunk),
                                     negative=sum(c["count_negative"] for c in chunk),
                                     records=sum(c["records"] for c in chunk)))
    return out


def rolling_start(*, start: datetime, bucket: str, tz_name: str) -> datetime:
    """Where the records behind the range's rolling figures begin: the window of the range's first
    bucket reaches back ROLLING_WINDOW - 1 whole buckets before it. Reading from here, a day's
    rolling valence is the same in every range that shows that day (the 24-hour view, 7, 30 or 90
    days), not cut at the range's start."""
    tz = ZoneInfo(tz_name)
    first = bucket_floor(start, bucket=bucket, tz=tz)
    return bucket_back(first, count=ROLLING_WINDOW[bucket] - 1, bucket=bucket, tz=tz)


def _rolling_by_x(*, rows: list[dict], starts: list[datetime], tz: ZoneInfo, bucket: str) -> dict[str, float | None]:
    x, cells = _bucketed(rows, starts, tz)
    return dict(zip(x, rolling_valence(cells, ROLLING_WINDOW[bucket])))


def valence_figure(
    *, rows: list[dict], starts: list[datetime], tz_name: str, bucket: str, span: list[str] | None = None,
    rolling_rows: list[dict] | None = None, rolling_starts: list[datetime] | None = None,
) -> dict:
    """Valence per bucket (marker size: records behind it) and its rolling average; both break at
    empty buckets instead of joining across them. The rolling line is computed over
    `rolling_rows`/`rolling_starts`, the buckets from rolling_start() to the range's end, so every
    point has its whole window (the range's own rows when they are not given)."""
    tz = ZoneInfo(tz_name)
    x, cells = _bucketed(rows, starts, tz)
    most = max((r["records"] for r in rows), default=0)
    rolling = _rolling_by_x(rows=rows if rolling_rows is None else rolling_rows,
                            starts=starts if rolling_starts is None else rolling_starts, tz=tz, bucket=bucket)
    data = [
        {
            "type": "scatter", "mode": "lines+markers", "name": "valence per bucket (dot size: records)", "x": x,
            "y": [round(c["valence"], 3) if c else None for c in cells],
            "customdata": [c["records"] if c else 0 for c in cells], "connectgaps": False,
            "line": {"color": "#52606d", "width": 1},
            "marker": {"size": [round(4 + 10 * _weight(c["records"], most), 1) if c else 0 for c in cells],
                       "color": "#52606d"},
            "hovertemplate": "valence %{y:+.2f} (%{customdata} records)<extra></extra>",
        },
        {
            "type": "scatter", "mode": "lines", "name": f"{ROLLING_LABEL[bucket]} rolling valence", "x": x,
            "y": [None if (v := rolling.get(key)) is None else round(v, 3) for key in x], "connectgaps": False,
            "line": {"color": "#1d4ed8", "width": 3},
            "hovertemplate": "rolling valence %{y:+.2f}<extra></extra>",
        },
    ]
    return {"data": data, "layout": _layout(
        title="Valence index (positive share − negative share)", y_title="valence", tz_name=tz_name, span=span,
        yaxis={"title": {"text": "valence"}, "range": [-1.05, 1.05], "zeroline": True, "zerolinewidth": 2,
               "zerolinecolor": "#9aa5b1", "gridcolor": "#e5e9f0", "tickvals": [-1, -0.5, 0, 0.5, 1]},
    )}


def _source_label(record: dict) -> str:
    """Which inference mode a record came from, in the clinician's words (RecordSource's labels)."""
    source = record.get("source") or RecordSource.SERVER
    return RecordSource(source).label


def timeline_figure(
    *, records: list[dict], tz_name: str, span: list[str] | None = None, self_reports: list[dict] = ()
) -> dict:
    """One dot per record, on the row of its mood, with the four probabilities on hover; the patient's
    self-reports as larger outlined diamonds on the row of the reported mood, in its colour, one
    "Self-report" legend entry for all.

    Records and self-reports carry `local_time`, wall-clock text in the patient's zone (see
    moods.selectors.mood_timeline and self_report_list).
    """
    data = []
    for mood in MOOD_ORDER:
        mine = [r for r in records if r["mood"] == mood]
        data.append({
            "type": "scatter", "mode": "markers", "name": MOOD_LABELS[mood],
            "x": [r["local_time"] for r in mine],
            "y": [MOOD_LABELS[mood]] * len(mine),
            # the last item: where the mood was computed (on the phone, or by the server from a frame)
            "customdata": [[round(r[f"p_{m}"], 3) for m in MOOD_ORDER] + [_source_label(r)] for r in mine],
            "marker": {"color": MOOD_COLORS[mood], "size": 7, "opacity": 0.75},
            "hovertemplate": (
                # date and time whatever the range (the axis' own format shows only dates from 7 days
                # on), and the zone the times are in
                "%{x|%a %-d %b %Y, %H:%M:%S} " + tz_name + "<br><b>" + MOOD_LABELS[mood]
                + "</b><br>positive %{customdata[0]:.0%}<br>"
                "neutral %{customdata[1]:.0%}<br>other %{customdata[2]:.0%}<br>negative %{customdata[3]:.0%}"
                "<br>%{customdata[4]}<extra></extra>"
            ),
        })
    if self_reports:
        data.append({
            "type": "scatter", "mode": "markers", "name": "Self-report",
            "x": [r["local_time"] for r in self_reports],
            "y": [MOOD_LABELS[r["mood"]] for r in self_reports],
            "marker": {"symbol": "diamond", "size": 13, "color": [MOOD_COLORS[r["mood"]] for r in self_reports],
                       "line": {"color": "#1f2933", "width": 1.5}},
            "hovertemplate": "%{x}<br><b>Self-report: %{y}</b><extra></extra>",
        })
    return {"data": data, "layout": _layout(
        title="Timeline of records", y_title="", tz_name=tz_name, span=span, hovermode="closest",
        yaxis={"type": "category", "categoryorder": "array", "range": [-0.5, len(MOOD_ORDER) - 0.5], "automargin": True,
               "categoryarray": [MOOD_LABELS[m] for m in reversed(MOOD_ORDER)], "gridcolor": "#e5e9f0"},
    )}


def coverage_figure(
    *, rows: list[dict], starts: list[datetime], tz_name: str, bucket: str, span: list[str] | None = None
) -> dict:
    """Frames per bucket of capture (the range's own buckets, so every bar sits on its bucket):
    received, and with a face, side by side within the bucket. A bucket without frames shows 0."""
    tz = ZoneInfo(tz_name)
    x, cells = _bucketed(rows, starts, tz)
    step = BUCKET_MS[bucket]
    data = [
        {"type": "bar", "name": "frames received", "x": x, "y": [c["frames"] or 0 if c else 0 for c in cells],
         "marker": {"color": "#9fb3c8"}, "hovertemplate": "%{y} frames received<extra></extra>",
         "width": step * 0.42, "offset": step * 0.08},
        {"type": "bar", "name": "frames with a face", "x": x,
         "y": [c["frames_with_face"] or 0 if c else 0 for c in cells],
         "marker": {"color": "#334e68"}, "hovertemplate": "%{y} frames with a face<extra></extra>",
         "width": step * 0.42, "offset": step * 0.5},
    ]
    return {"data": data, "layout": _layout(
        title=f"Coverage per {bucket} (by capture time)", y_title="frames", tz_name=tz_name, span=span,
        barmode="overlay",
    )}


def records_per_bucket(rows: list[dict], tz_name: str) -> dict[str, int]:
    """How many records are behind each bucket, keyed like the figures' x values."""
    tz = ZoneInfo(tz_name)
    return {_local(r["bucket_start"], tz): r["records"] for r in rows}


def figure_table(figure: dict, *, value_format: str = "{:g}", records: dict[str, int] | None = None) -> dict:
    """The figure's numbers as a table (its text alternative): one row per x, one column per trace,
    and with `records` a last column with the number of records behind each bucket (0 for an empty
    one). Empty buckets show as an em dash."""
    traces = [t for t in figure["data"] if t.get("x")]
    xs = sorted({x for t in traces for x in t["x"]})
    columns = [t["name"] for t in traces] + (["records"] if records is not None else [])
    lookup = [dict(zip(t["x"], t["y"])) for t in traces]
    rows = [
        [x.replace("T", " ")[:16]] + [
            "—" if (value := values.get(x)) is None else value_format.format(value) for values in lookup
        ] + ([str(records.get(x, 0))] if records is not None else [])
        for x in xs
    ]
    return {"columns": columns, "rows": rows}
