"""Reads of mood records: per-patient time ranges and SQL-bucketed summaries (the dashboard's hot path)."""
from datetime import datetime
from zoneinfo import ZoneInfo

from django.db.models import Count, F, FloatField, Q, QuerySet
from django.db.models.functions import Cast, TruncDay, TruncHour, TruncWeek

from backend.patients.models import Patient

from .definitions import valence
from .models import Mood, MoodRecord

# How the database truncates a timestamp to each bucket of definitions.BUCKET_STEPS.
BUCKET_TRUNCATE = {"hour": TruncHour, "day": TruncDay, "week": TruncWeek}


def mood_record_list(
    *, patient: Patient, start: datetime | None = None, end: datetime | None = None
) -> QuerySet[MoodRecord]:
    """Records of one patient with start <= captured_at < end, oldest first."""
    records = MoodRecord.objects.filter(patient=patient)
    if start is not None:
        records = records.filter(captured_at__gte=start)
    if end is not None:
        records = records.filter(captured_at__lt=end)
    return records.order_by("captured_at", "id")


def mood_summary(*, patient: Patient, start: datetime, end: datetime, bucket: str) -> QuerySet:
    """One row per non-empty bucket, in the patient's time zone, all computed by the database.

    Row keys: bucket_start, records, count_<mood>, share_<mood>, valence (positive share minus
    negative share).
    """
    truncate = BUCKET_TRUNCATE[bucket]
    counts = {f"count_{m}": Count("id", filter=Q(mood=m)) for m in Mood.values}
    shares = {
        f"share_{m}": Cast(F(f"count_{m}"), FloatField()) / Cast(F("records"), FloatField()) for m in Mood.values
    }
    return (
        mood_record_list(patient=patient, start=start, end=end)
        .order_by()
        .annotate(bucket_start=truncate("captured_at", tzinfo=ZoneInfo(patient.timezone)))
        .values("bucket_start")
        .annotate(records=Count("id"), **counts)
        .annotate(**shares)
        .annotate(valence=valence(F("share_positive"), F("share_negative")))
        .order_by("bucket_start")
    )



def mood_timeline(*, patient: Patient, start: datetime, end: datetime, limit: int) -> list[dict]:
    """The `limit` most recent records of the range, newest first, for the dashboard's timeline.

    `local_time` is the capture time as wall-clock text in the patient's time zone. PostgreSQL
    formats it (cheaper than parsing and reformatting thousands of datetimes in Python).
    """
    from django.db import connection
    from django.db.models import CharField, Func, Value

    fields = ["mood", "p_positive", "p_negative", "p_neutral", "p_other"]
    records = mood_record_list(patient=patient, start=start, end=end).order_by("-captured_at")
    if connection.vendor != "postgresql":
        tz = ZoneInfo(patient.timezone)
        return [
            {**row, "local_time": row.pop("captured_at").astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S")}
            for row in records.values("captured_at", *fields)[:limit]
        ]
    local = Func(Value(patient.timezone), F("captured_at"), function="timezone", output_field=CharField())
    text = Func(local, Value('YYYY-MM-DD"T"HH24:MI:SS'), function="to_char", output_field=CharField())
    return list(records.annotate(local_time=text).values("local_time", *fields)[:limit])
