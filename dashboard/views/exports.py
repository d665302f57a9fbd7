"""Exports of the selected range: records (CSV, streamed), bucketed summary (CSV, streamed), FHIR R4 Bundle."""
import csv
import json
import re
from zoneinfo import ZoneInfo

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from backend.audit.models import AuditAction
from backend.audit.services import patient_data_read_record
from backend.moods.definitions import MOOD_ORDER, PROBABILITY_DECIMALS
from backend.moods.selectors import mood_record_list
from backend.rollups.selectors import mood_buckets

from .. import fhir
from ..access import audit_context, patient_for_request
from ..forms import RangeForm, period_resolve
from .errors import InvalidQuery

RECORD_COLUMNS = ["captured_at", "mood", *[f"p_{m}" for m in MOOD_ORDER], "detection_score", "model_version"]


def _probability(value: float | None) -> str:
    """A probability or detection score as the model can claim it (PROBABILITY_DECIMALS), e.g. 0.70."""
    return "" if value is None else f"{value:.{PROBABILITY_DECIMALS}f}"


class _Echo:
    """csv.writer target that hands each formatted line straight back (nothing is buffered)."""

    def write(self, value):
        return value


def _context(request, patient_id):
    """The patient and the period asked for; InvalidQuery (a 400 page) before anything is read or
    audited when the range is not valid."""
    patient = patient_for_request(request, patient_id)
    form = RangeForm(request.GET or None)
    if request.GET and not form.is_valid():
        raise InvalidQuery(form)
    period = period_resolve(data=form.cleaned_data if form.is_bound else {}, patient=patient, now=timezone.now())
    return patient, period


def _filename(patient, period, kind: str, ext: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", patient.reference)
    return f"{safe}_{kind}_{period.start:%Y%m%d}-{period.end:%Y%m%d}.{ext}"


def _audit(request, patient, period, action, **extra):
    patient_data_read_record(action=action, actor=request.user, patient=patient, start=period.start, end=period.end,
                             bucket=period.bucket, context=audit_context(request), **extra)


def _stream_csv(header: list[str], rows, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow(row)

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_GET
def records_csv(request, patient_id):
    patient, period = _context(request, patient_id)
    _audit(request, patient, period, AuditAction.EXPORT_RECORDS_CSV)
    tz = ZoneInfo(patient.timezone)
    records = (
        mood_record_list(patient=patient, start=period.start, end=period.end)
        .values_list(*RECORD_COLUMNS)
        .iterator(chunk_size=2000)  # a server-side cursor on PostgreSQL: memory stays flat
    )
    rows = ([captured_at.astimezone(tz).isoformat(), mood, *map(_probability, scores), model_version]
            for captured_at, mood, *scores, model_version in records)
    return _stream_csv(RECORD_COLUMNS, rows, _filename(patient, period, "records", "csv"))


@login_required
@require_GET
def summary_csv(request, patient_id):
    patient, period = _context(request, patient_id)
    _audit(request, patient, period, AuditAction.EXPORT_SUMMARY_CSV)
    buckets = mood_buckets(patient=patient, start=period.start, end=period.end, bucket=period.bucket)
    header = [
        "bucket_start", "bucket", "records", *[f"count_{m}" for m in MOOD_ORDER], *[f"share_{m}" for m in MOOD_ORDER],
        "valence",
    ]
    rows = (
        [r["bucket_start"].isoformat(), period.bucket, r["records"], *[r[f"count_{m}"] for m in MOOD_ORDER],
         *[f"{r[f'share_{m}']:.4f}" for m in MOOD_ORDER], f"{r['valence']:.4f}"]
        for r in buckets
    )
    return _stream_csv(header, rows, _filename(patient, period, f"summary-{period.bucket}", "csv"))


@login_required
@require_GET
def summary_fhir(request, patient_id):
    patient, period = _context(request, patient_id)
    rows = mood_buckets(patient=patient, start=period.start, end=period.end, bucket=period.bucket)
    _audit(request, patient, period, AuditAction.EXPORT_FHIR, observations=len(rows))
    body = fhir.bundle(patient=patient, rows=rows, bucket=period.bucket, issued=timezone.now())
    response = HttpResponse(json.dumps(body, indent=1), content_type="application/fhir+json")
    filename = _filename(patient, period, f"fhir-{period.bucket}", "json")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
