"""My patients (list) and the patient page."""

from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from backend.alerts.definitions import BASELINE_DAYS, GUARD_DAYS, INTERVAL_LEVEL, MIN_EFFECT
from backend.alerts.models import Alert
from backend.alerts.selectors import (
    alert_list_for_patient,
    alert_rule_for,
    alert_thresholds_for,
    baseline_deviation_for,
)
from backend.audit.models import AuditAction
from backend.audit.services import patient_data_read_record, patient_list_read_record
from backend.demo.selectors import demo_patient_is
from backend.devices.selectors import device_list_active
from backend.moods.agreement import AGREEMENT_DAYS
from backend.moods.definitions import (
    BUCKET_LABELS,
    MOOD_COLORS,
    MOOD_LABELS,
    MOOD_ORDER,
    OVERVIEW_DAYS,
    VALENCE_CHANGE_MIN_RECORDS,
    bucket_end,
    bucket_starts,
)
from backend.moods.selectors import self_report_agreement, self_report_list
from backend.patients.selectors import patient_list_search

from .. import charts
from ..access import audit_context, patient_for_request
from ..forms import PRESETS, RangeForm, bucket_fits, period_resolve
from ..selectors import (
    DEFAULT_SORT,
    SORT_KEYS,
    baseline_texts,
    monitoring_states,
    patient_list_rows,
    patient_period_read,
)
from .alerts import alert_workflow_context

TIMELINE_LIMIT = 1500  # the most recent records of the range; more only slows the page down
PAGE_SIZE = 50


@login_required
@require_GET
def patient_list(request):
    query = request.GET.get("q", "").strip()[:100]
    include_inactive = request.GET.get("inactive") == "1"
    sort = request.GET.get("sort", DEFAULT_SORT)
    sort = sort if sort in SORT_KEYS else DEFAULT_SORT
    descending = request.GET.get("dir") == "desc"
    patients = patient_list_search(user=request.user, query=query, include_inactive=include_inactive)
    rows = patient_list_rows(patients=patients, now=timezone.now(), sort=sort, descending=descending)
    patient_list_read_record(actor=request.user, patients=len(rows), query=query, context=audit_context(request))
    # Figures are computed for every patient (sorting needs them); a page shows PAGE_SIZE rows.
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "dashboard/patient_list.html", {
        "rows": page.object_list, "page": page, "total": len(rows), "query": query, "sort": sort,
        "descending": descending, "include_inactive": include_inactive,
        "mood_order": MOOD_ORDER, "mood_colors": MOOD_COLORS, "mood_labels": MOOD_LABELS,
        "change_min_records": VALENCE_CHANGE_MIN_RECORDS,
        "overview_days": OVERVIEW_DAYS, "overview_days_str": str(OVERVIEW_DAYS),
        "interval_level": f"{INTERVAL_LEVEL:.0%}",
    })


def _figures(*, patient, period, read, rolling_from, self_reports=(), baseline=None) -> dict:
    """The page's charts, each with its title and its numbers as a table (the text alternative)."""
    rows, coverage, timeline = read.rows, read.coverage, read.timeline
    tz = ZoneInfo(patient.timezone)
    starts = bucket_starts(start=period.start, end=period.end, bucket=period.bucket, tz=tz)
    rolling_starts = bucket_starts(start=rolling_from, end=period.end, bucket=period.bucket, tz=tz)
    # The axis runs from the first bucket's start to the last one's end, so the buckets at both edges
    # (the current hour, today, this week) show whole, not as a sliver.
    span = charts.period_span(start=min(starts[0], period.start) if starts else period.start,
                              end=max(bucket_end(starts[-1], bucket=period.bucket, tz=tz), period.end)
                              if starts else period.end, tz_name=patient.timezone)
    figures = {}
    if rows:
        share = charts.mood_share_figure(rows=rows, starts=starts, tz_name=patient.timezone, bucket=period.bucket,
                                         span=span, baseline=baseline)
        valence = charts.valence_figure(rows=rows, starts=starts, tz_name=patient.timezone, bucket=period.bucket,
                                        span=span, rolling_rows=read.rolling_rows, rolling_starts=rolling_starts)
        records = charts.records_per_bucket(rows, patient.timezone)
        figures["mood-share"] = (share, charts.figure_table(share, value_format="{:.1f}%", records=records))
        figures["valence"] = (valence, charts.figure_table(valence, value_format="{:+.2f}", records=records))
        figures["timeline"] = (charts.timeline_figure(records=timeline, tz_name=patient.timezone, span=span,
                                                      self_reports=self_reports), None)
    if coverage:
        figure = charts.coverage_figure(rows=coverage, starts=starts, tz_name=patient.timezone, bucket=period.bucket,
                                        span=span)
        figures["coverage"] = (figure, charts.figure_table(figure))
    return {key: {"figure": figure, "title": figure["layout"]["title"]["text"], "table": table}
            for key, (figure, table) in figures.items()}


@login_required
@require_GET
def patient_detail(request, patient_id):
    patient = patient_for_request(request, patient_id)
    now = timezone.now()
    form = RangeForm(request.GET or None)
    # An invalid range: the page of the default period, with the form's message, answered 400.
    invalid = form.is_bound and not form.is_valid()
    period = period_resolve(data={} if invalid or not form.is_bound else form.cleaned_data, patient=patient, now=now)
    # The rolling figures read the whole window of the range's first bucket, from before the range.
    rolling_from = charts.rolling_start(start=period.start, bucket=period.bucket, tz_name=patient.timezone)
    read = patient_period_read(patient=patient, start=period.start, end=period.end, bucket=period.bucket,
                               timeline_limit=TIMELINE_LIMIT, rolling_start=rolling_from)
    summary, timeline = read.summary, read.timeline
    self_reports = self_report_list(patient=patient, start=period.start, end=period.end, limit=TIMELINE_LIMIT)
    baseline = baseline_deviation_for(patient=patient, now=now)
    band = baseline.baseline.day_range() if baseline.baseline.ready else None
    figures = _figures(patient=patient, period=period, read=read, rolling_from=rolling_from, self_reports=self_reports,
                       baseline=(baseline.baseline.share, *band) if band else None)
    length = period.end - period.start
    state = monitoring_states(patients=[patient])[patient.pk]
    alerts = list(alert_list_for_patient(patient=patient, now=now)[:20])
    patient_data_read_record(action=AuditAction.PATIENT_VIEW, actor=request.user, patient=patient,
                             start=period.start, end=period.end, bucket=period.bucket, range=period.preset,
                             context=audit_context(request))
    return render(request, "dashboard/patient_detail.html", {
        "patient": patient, "form": form, "period": period, "presets": PRESETS,
        "buckets": [(key, label, bucket_fits(bucket=key, length=length)) for key, label in BUCKET_LABELS.items()],
        "summary": summary,
        "bucket_count": len(bucket_starts(start=period.start, end=period.end, bucket=period.bucket,
                                          tz=ZoneInfo(patient.timezone))),
        "figures": figures, "chart_config": charts.CONFIG,
        "timeline_shown": len(timeline),
        "timeline_limited": len(timeline) == TIMELINE_LIMIT and summary["records"] > TIMELINE_LIMIT,
        "open_alerts": [a for a in alerts if a.status != Alert.State.RESOLVED],
        "past_alerts": [a for a in alerts if a.status == Alert.State.RESOLVED][:5],
        **alert_workflow_context(now=now, zone_name=patient.timezone),
        "thresholds": alert_thresholds_for(patient=patient),
        "alert_rule": alert_rule_for(patient=patient), "baseline": baseline_texts(baseline),
        "baseline_days": BASELINE_DAYS, "guard_days": GUARD_DAYS, "min_effect_points": f"{MIN_EFFECT * 100:.0f}",
        "export_query": period.query(), "mood_colors": MOOD_COLORS, "demo_replay": demo_patient_is(patient=patient),
        "active_devices": list(device_list_active(patient=patient)),
        "self_reports": self_reports, "agreement": self_report_agreement(patient=patient, end=now),
        "agreement_days": AGREEMENT_DAYS, "state": state,
        # a deletion after the range began explains why the range is (partly) empty
        "deleted_in_range": bool(state.data_deleted_at and state.data_deleted_at > period.start),
    }, status=400 if invalid else 200)
