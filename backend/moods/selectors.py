"""Reads of mood records (per-patient time ranges and SQL-bucketed summaries: the dashboard's hot path)
and of self-reports (the list, and their agreement with the expression records)."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, TruncDay, TruncHour, TruncWeek

from backend.patients.models import Patient

from .agreement import AGREEMENT_DAYS, AGREEMENT_WINDOW, Agreement, agreement_of
from .definitions import valence
from .models import Mood, MoodRecord, SelfReport

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

    fields = ["mood", "p_positive", "p_negative", "p_neutral", "p_other", "source"]
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


# --- self-reports ----------------------------------------------------------------------------------

def self_report_list(*, patient: Patient, start: datetime, end: datetime, limit: int) -> list[dict]:
    """The `limit` most recent self-reports with start <= reported_at < end, newest first, each with
    `local_time`, wall-clock text in the patient's time zone (as mood_timeline gives it)."""
    tz = ZoneInfo(patient.timezone)
    reports = (SelfReport.objects.filter(patient=patient, reported_at__gte=start, reported_at__lt=end)
               .order_by("-reported_at", "-id").values("reported_at", "mood")[:limit])
    return [{**row, "local_time": row["reported_at"].astimezone(tz).strftime("%Y-%m-%dT%H:%M:%S")}
            for row in reports]


def self_report_agreement(*, patient: Patient, end: datetime, days: int = AGREEMENT_DAYS) -> Agreement:
    """Agreement between the patient's self-reports of the `days` days before `end` and the majority
    mood of their expression records within AGREEMENT_WINDOW of each (see moods.agreement). The
    records of each window are counted by the database (one indexed count per mood and report)."""
    window = Value(AGREEMENT_WINDOW, output_field=DurationField())

    def in_window(mood: str):
        records = MoodRecord.objects.filter(
            patient_id=OuterRef("patient_id"), mood=mood,
            captured_at__gte=ExpressionWrapper(OuterRef("reported_at") - window, output_field=DateTimeField()),
            captured_at__lte=ExpressionWrapper(OuterRef("reported_at") + window, output_field=DateTimeField()),
        ).order_by().values("patient_id").annotate(n=Count("id")).values("n")
        return Coalesce(Subquery(records, output_field=IntegerField()), 0)

    reports = (SelfReport.objects.filter(patient=patient, reported_at__gte=end - timedelta(days=days),
                                         reported_at__lt=end)
               .order_by("reported_at", "id")
               .annotate(**{f"n_{mood}": in_window(mood) for mood in Mood.values})
               .values("mood", *(f"n_{mood}" for mood in Mood.values)))
    return agreement_of((row["mood"], {mood: row[f"n_{mood}"] for mood in Mood.values}) for row in reports)
