"""Mood counts per bucket and per patient, computed by PostgreSQL from the 15-minute rollup.

The rollup services (rollups.services) fold each batch into the slots once it lands, and beat
refreshes them periodically; these readers never write. They sum whole slots inside the range and
count raw records only in the partial slots at its edges (through the (patient, captured_at) index),
so results equal a direct count of the records of every folded batch.

Other databases (the SQLite `make run` default) skip the rollup and count records with the ORM:
same results, fine at demo sizes.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncDay, TruncHour, TruncWeek

from backend.ingest.models import Frame, FrameBatch
from backend.moods.definitions import OVERVIEW_DAYS, VALENCE_CHANGE_MIN_RECORDS, valence, valence_of_counts
from backend.moods.models import Mood, MoodRecord
from backend.moods.selectors import mood_summary
from backend.patients.models import Patient

from .models import CaptureSlotCount
from .services import SLOT_SECONDS, slot_floor, uses_rollup

SLOT = timedelta(seconds=SLOT_SECONDS)
MOODS = list(Mood.values)  # positive, negative, neutral, other

# Whole slots in [a, b) from the rollup, single records in [start, a) and [b, end).
_COUNTS_CTE = """
counts AS (
    SELECT s.slot_start AS t, s.positive, s.negative, s.neutral, s.other
    FROM rollups_moodslotcount s
    WHERE s.patient_id = %(patient)s AND s.slot_start >= %(a)s AND s.slot_start < %(b)s
    UNION ALL
    SELECT m.captured_at, (m.mood = 'positive')::int, (m.mood = 'negative')::int,
           (m.mood = 'neutral')::int, (m.mood = 'other')::int
    FROM moods_moodrecord m
    WHERE m.patient_id = %(patient)s
      AND ((m.captured_at >= %(start)s AND m.captured_at < %(a)s)
           OR (m.captured_at >= %(b)s AND m.captured_at < %(end)s))
)
"""

_SUMMARY_SQL = "WITH " + _COUNTS_CTE + """
SELECT date_trunc(%(bucket)s, t AT TIME ZONE %(tz)s) AT TIME ZONE %(tz)s AS bucket_start,
       sum(positive), sum(negative), sum(neutral), sum(other)
FROM counts GROUP BY 1 HAVING sum(positive + negative + neutral + other) > 0 ORDER BY 1
"""

_OVERVIEW_SQL = """
WITH p AS (
    SELECT id, timezone,
           (date_trunc('day', %(now)s AT TIME ZONE timezone) - make_interval(days => %(cur_back)s))
               AT TIME ZONE timezone AS cur_start,
           (date_trunc('day', %(now)s AT TIME ZONE timezone) - make_interval(days => %(prev_back)s))
               AT TIME ZONE timezone AS prev_start
    FROM patients_patient WHERE id = ANY(%(ids)s)
), counts AS (
    SELECT s.patient_id, s.slot_start AS t, s.positive, s.negative, s.neutral, s.other
    FROM rollups_moodslotcount s JOIN p ON p.id = s.patient_id
    WHERE s.slot_start >= p.prev_start AND s.slot_start < %(b)s
    UNION ALL
    SELECT m.patient_id, m.captured_at, (m.mood = 'positive')::int, (m.mood = 'negative')::int,
           (m.mood = 'neutral')::int, (m.mood = 'other')::int
    FROM moods_moodrecord m
    WHERE m.patient_id = ANY(%(ids)s) AND m.captured_at >= %(b)s AND m.captured_at < %(now)s
)
SELECT p.id,
       coalesce(sum(c.positive) FILTER (WHERE c.t >= p.cur_start), 0),
       coalesce(sum(c.negative) FILTER (WHERE c.t >= p.cur_start), 0),
       coalesce(sum(c.neutral) FILTER (WHERE c.t >= p.cur_start), 0),
       coalesce(sum(c.other) FILTER (WHERE c.t >= p.cur_start), 0),
       coalesce(sum(c.positive) FILTER (WHERE c.t < p.cur_start), 0),
       coalesce(sum(c.negative) FILTER (WHERE c.t < p.cur_start), 0),
       coalesce(sum(c.positive + c.negative + c.neutral + c.other) FILTER (WHERE c.t < p.cur_start), 0),
       count(DISTINCT date_trunc('day', c.t AT TIME ZONE p.timezone))
           FILTER (WHERE c.t >= p.cur_start AND c.positive + c.negative + c.neutral + c.other > 0)
FROM p LEFT JOIN counts c ON c.patient_id = p.id
GROUP BY p.id
"""


def _slot_ceil(moment: datetime) -> datetime:
    floor = slot_floor(moment)
    return floor if floor == moment else floor + SLOT


def _row(bucket_start: datetime, counts: dict[str, int]) -> dict:
    records = sum(counts.values())
    row = {"bucket_start": bucket_start, "records": records}
    for mood in MOODS:
        row[f"count_{mood}"] = counts[mood]
        row[f"share_{mood}"] = counts[mood] / records if records else 0.0
    row["valence"] = valence(row["share_positive"], row["share_negative"])
    return row


def mood_buckets(*, patient: Patient, start: datetime, end: datetime, bucket: str) -> list[dict]:
    """Non-empty buckets in the patient's time zone, shaped like backend.moods.selectors.mood_summary rows."""
    tz = ZoneInfo(patient.timezone)
    if not uses_rollup():
        rows = mood_summary(patient=patient, start=start, end=end, bucket=bucket)
        return [_row(r["bucket_start"].astimezone(tz), {m: r[f"count_{m}"] for m in MOODS}) for r in rows]
    a, b = _slot_ceil(start), slot_floor(end)
    if a >= b:  # no whole slot inside: count the records themselves
        a = b = end
    params = {
        "patient": patient.pk, "start": start, "end": end, "a": a, "b": b, "bucket": bucket, "tz": patient.timezone,
    }
    with connection.cursor() as cursor:
        cursor.execute(_SUMMARY_SQL, params)
        fetched = cursor.fetchall()
    return [_row(bucket_start.astimezone(tz), dict(zip(MOODS, map(int, sums)))) for bucket_start, *sums in fetched]


@dataclass(frozen=True)
class MoodOverview:
    """One patient's last OVERVIEW_DAYS days (today and the days before, in their time zone) against as
    many days before those."""

    counts: dict[str, int]
    previous_positive: int
    previous_negative: int
    previous_records: int
    days_with_data: int

    @property
    def records(self) -> int:
        return sum(self.counts.values())

    def share(self, mood: str) -> float:
        return self.counts[mood] / self.records if self.records else 0.0

    @property
    def valence(self) -> float | None:
        return valence_of_counts(positive=self.counts["positive"], negative=self.counts["negative"],
                                 records=self.records)

    @property
    def previous_valence(self) -> float | None:
        return valence_of_counts(positive=self.previous_positive, negative=self.previous_negative,
                                 records=self.previous_records)

    @property
    def valence_change(self) -> float | None:
        """Last 7 days minus the 7 before; None unless both rest on enough records to compare."""
        if min(self.records, self.previous_records) < VALENCE_CHANGE_MIN_RECORDS:
            return None
        return self.valence - self.previous_valence

    @property
    def days_without_data(self) -> int:
        return OVERVIEW_DAYS - self.days_with_data


def _days_back(weeks_back: int) -> int:
    """Days from today back to the first day of the window (weeks_back=0) or of the one before (1)."""
    return OVERVIEW_DAYS - 1 + OVERVIEW_DAYS * weeks_back


def _window_params() -> dict:
    return {"cur_back": _days_back(0), "prev_back": _days_back(1)}


def week_start(*, patient: Patient, now: datetime, weeks_back: int = 0) -> datetime:
    """Local midnight at the start of the overview window (weeks_back=0), or of the one before (1)."""
    tz = ZoneInfo(patient.timezone)
    local_today = now.astimezone(tz).date()
    day = local_today - timedelta(days=_days_back(weeks_back))
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def mood_overview(*, patients: list[Patient], now: datetime) -> dict:
    """patient pk -> MoodOverview, for many patients at once."""
    if not patients:
        return {}
    if not uses_rollup():
        return {p.pk: _overview_orm(patient=p, now=now) for p in patients}
    ids = [p.pk for p in patients]
    with connection.cursor() as cursor:
        cursor.execute(_OVERVIEW_SQL, {"ids": ids, "now": now, "b": slot_floor(now), **_window_params()})
        fetched = cursor.fetchall()
    return {
        pk: MoodOverview(
            counts=dict(zip(MOODS, map(int, (pos, neg, neu, oth)))),
            previous_positive=int(ppos), previous_negative=int(pneg), previous_records=int(prec),
            days_with_data=int(days),
        )
        for pk, pos, neg, neu, oth, ppos, pneg, prec, days in fetched
    }


def _overview_orm(*, patient: Patient, now: datetime) -> MoodOverview:
    current = week_start(patient=patient, now=now)
    previous = week_start(patient=patient, now=now, weeks_back=1)
    recent = Q(captured_at__gte=current)
    earlier = Q(captured_at__lt=current)
    totals = MoodRecord.objects.filter(patient=patient, captured_at__gte=previous, captured_at__lt=now).aggregate(
        **{m: Count("id", filter=recent & Q(mood=m)) for m in MOODS},
        previous_positive=Count("id", filter=earlier & Q(mood="positive")),
        previous_negative=Count("id", filter=earlier & Q(mood="negative")),
        previous_records=Count("id", filter=earlier),
    )
    days = (
        MoodRecord.objects.filter(patient=patient, captured_at__gte=current, captured_at__lt=now)
        .annotate(day=TruncDay("captured_at", tzinfo=ZoneInfo(patient.timezone)))
        .values("day").distinct().count()
    )
    return MoodOverview(
        counts={m: totals[m] for m in MOODS},
        previous_positive=totals["previous_positive"], previous_negative=totals["previous_negative"],
        previous_records=totals["previous_records"], days_with_data=days,
    )


def _upload_overview_orm(*, patient: Patient, now: datetime) -> dict:
    """upload_overview of one patient from the batches themselves: last upload (ever), and frames
    received / processed / with a face since the window's start."""
    recent = Q(received_at__gte=week_start(patient=patient, now=now))
    done = recent & Q(status=FrameBatch.Status.DONE)
    row = FrameBatch.objects.filter(patient=patient).aggregate(
        last_upload=Max("received_at"),
        frames=Sum("frame_count", filter=recent),
        frames_processed=Sum("frame_count", filter=done),
        frames_with_face=Sum("frames_with_face", filter=done),
    )
    return {**{k: row[k] or 0 for k in ("frames", "frames_processed", "frames_with_face")},
            "last_upload": row["last_upload"]}


# --- uploads: frames received, processed and with a face ------------------------------------------
# Finished batches come from the upload slots (15-minute granularity: a range edge includes the
# whole slot it falls in); queued and processing batches are added live (a small partial index).

_UPLOAD_OVERVIEW_SQL = """
WITH p AS (
    SELECT id,
           (date_trunc('day', %(now)s AT TIME ZONE timezone) - make_interval(days => %(cur_back)s))
               AT TIME ZONE timezone AS cur_start
    FROM patients_patient WHERE id = ANY(%(ids)s)
), u AS (
    SELECT s.patient_id, s.frames, s.frames_processed, s.frames_with_face, s.last_received_at AS last
    FROM rollups_uploadslotcount s JOIN p ON p.id = s.patient_id
    WHERE s.slot_start >= p.cur_start
    UNION ALL
    SELECT b.patient_id, b.frame_count, 0, 0, b.received_at FROM ingest_framebatch b JOIN p ON p.id = b.patient_id
    WHERE b.status IN ('queued', 'processing') AND b.received_at >= p.cur_start
)
SELECT p.id, coalesce(sum(u.frames), 0), coalesce(sum(u.frames_processed), 0), coalesce(sum(u.frames_with_face), 0),
       greatest(max(u.last), (SELECT s.last_received_at FROM rollups_uploadslotcount s
                              WHERE s.patient_id = p.id ORDER BY s.slot_start DESC LIMIT 1))
FROM p LEFT JOIN u ON u.patient_id = p.id
GROUP BY p.id
"""


# How the coverage is cut into the page's buckets, as bucket_floor cuts them (weeks: Monday).
_CAPTURE_TRUNC = {"hour": TruncHour, "day": TruncDay, "week": TruncWeek}


def capture_coverage(*, patient: Patient, start: datetime, end: datetime, bucket: str = "day") -> list[dict]:
    """Per bucket of *capture* (hour, local day or local week, as the mood summaries are cut): frames
    received, processed, with a face, and the other
    faces seen in them (bystanders, not analysed), keyed `bucket_start`. Landed batches come from the capture
    slots (a range edge includes the whole 15-minute slot it falls in); frames still waiting for
    inference are counted from the frames themselves."""
    tz = ZoneInfo(patient.timezone)
    trunc = _CAPTURE_TRUNC[bucket]
    landed = (
        CaptureSlotCount.objects.filter(patient=patient, slot_start__gte=slot_floor(start), slot_start__lt=end)
        .annotate(cut=trunc("slot_start", tzinfo=tz)).values("cut")
        .annotate(frames=Sum("frames"), frames_processed=Sum("frames_processed"),
                  frames_with_face=Sum("frames_with_face"), bystanders=Sum("bystanders"))
        .order_by()
    )
    waiting = (
        Frame.objects.filter(batch__in=FrameBatch.objects.filter(patient=patient, status__in=FrameBatch.UNFINISHED),
                             captured_at__gte=start, captured_at__lt=end)
        .annotate(cut=trunc("captured_at", tzinfo=tz)).values("cut").annotate(frames=Count("id")).order_by()
    )
    buckets: dict = {}
    for row in landed:
        buckets[row["cut"]] = {"bucket_start": row["cut"].astimezone(tz), "frames": row["frames"],
                               "frames_processed": row["frames_processed"],
                               "frames_with_face": row["frames_with_face"], "bystanders": row["bystanders"]}
    for row in waiting:
        cell = buckets.setdefault(row["cut"], {"bucket_start": row["cut"].astimezone(tz), "frames": 0,
                                               "frames_processed": 0, "frames_with_face": 0, "bystanders": 0})
        cell["frames"] += row["frames"]
    return [buckets[key] for key in sorted(buckets)]


def capture_overview(*, patients: list[Patient], now: datetime) -> dict:
    """patient pk -> {frames, frames_processed, frames_with_face} *captured* over the same local days
    as mood_overview (today and the days before, up to `now`), whenever they were uploaded: the
    list's coverage on the clock of the patient page's coverage (capture_coverage) and of the moods,
    so a backlog uploaded today counts on the days it was taken. One query per time zone among the
    patients (the window starts at each zone's midnight)."""
    result = {p.pk: {"frames": 0, "frames_processed": 0, "frames_with_face": 0} for p in patients}
    by_zone: dict[str, list] = {}
    for patient in patients:
        by_zone.setdefault(patient.timezone, []).append(patient)
    for group in by_zone.values():
        start, ids = week_start(patient=group[0], now=now), [p.pk for p in group]
        landed = (
            CaptureSlotCount.objects.filter(patient_id__in=ids, slot_start__gte=slot_floor(start), slot_start__lt=now)
            .values("patient_id").order_by()
            .annotate(frames=Sum("frames"), frames_processed=Sum("frames_processed"),
                      frames_with_face=Sum("frames_with_face"))
        )
        waiting = (
            Frame.objects.filter(batch__patient_id__in=ids, batch__status__in=FrameBatch.UNFINISHED,
                                 captured_at__gte=start, captured_at__lt=now)
            .values("batch__patient_id").order_by().annotate(frames=Count("id"))
        )
        for row in landed:
            result[row["patient_id"]].update({k: row[k] or 0 for k in ("frames", "frames_processed",
                                                                        "frames_with_face")})
        for row in waiting:
            result[row["batch__patient_id"]]["frames"] += row["frames"]
    return result


def upload_overview(*, patients: list[Patient], now: datetime) -> dict:
    """patient pk -> {last_upload, frames, frames_processed, frames_with_face} over the same local days
    as mood_overview."""
    if not patients:
        return {}
    if not uses_rollup():
        return {p.pk: _upload_overview_orm(patient=p, now=now) for p in patients}
    with connection.cursor() as cursor:
        cursor.execute(_UPLOAD_OVERVIEW_SQL, {"ids": [p.pk for p in patients], "now": now, **_window_params()})
        fetched = cursor.fetchall()
    return {
        pk: {
            "frames": int(frames), "frames_processed": int(processed), "frames_with_face": int(faces),
            "last_upload": last,
        }
        for pk, frames, processed, faces, last in fetched
    }


# --- per-day counts for the patient's own baseline (alerts.rules) ---------------------------------

_DAYS_SQL = """
WITH p AS (
    SELECT id, timezone,
           (date_trunc('day', %(now)s AT TIME ZONE timezone) - make_interval(days => %(back)s))
               AT TIME ZONE timezone AS start
    FROM patients_patient WHERE id = ANY(%(ids)s)
), counts AS (
    SELECT s.patient_id, s.slot_start AS t, s.positive + s.negative + s.neutral + s.other AS records, s.negative
    FROM rollups_moodslotcount s JOIN p ON p.id = s.patient_id
    WHERE s.slot_start >= p.start AND s.slot_start < %(b)s
    UNION ALL
    SELECT m.patient_id, m.captured_at, 1, (m.mood = 'negative')::int
    FROM moods_moodrecord m JOIN p ON p.id = m.patient_id
    WHERE m.captured_at >= greatest(p.start, %(b)s) AND m.captured_at < %(now)s
)
SELECT c.patient_id, (c.t AT TIME ZONE p.timezone)::date, sum(c.records), sum(c.negative)
FROM counts c JOIN p ON p.id = c.patient_id
GROUP BY 1, 2 HAVING sum(c.records) > 0
"""


def mood_negative_by_day(*, patients: list[Patient], now: datetime, days: int) -> dict:
    """patient pk -> {local date: (records, negative records)} over the last `days` local days of
    each patient (today included, up to `now`), days without records left out. Whole 15-minute
    slots from the rollup (a local midnight is always a slot boundary), the records themselves in
    the slot still open at `now`."""
    result: dict = {p.pk: {} for p in patients}
    if not patients or days < 1:
        return result
    if not uses_rollup():
        for patient in patients:
            tz = ZoneInfo(patient.timezone)
            first = now.astimezone(tz).date() - timedelta(days=days - 1)
            start = datetime(first.year, first.month, first.day, tzinfo=tz)
            for row in mood_buckets(patient=patient, start=start, end=now, bucket="day"):
                result[patient.pk][row["bucket_start"].date()] = (row["records"], row["count_negative"])
        return result
    with connection.cursor() as cursor:
        cursor.execute(_DAYS_SQL, {"ids": [p.pk for p in patients], "now": now, "b": slot_floor(now), "back": days - 1})
        for pk, day, records, negative in cursor.fetchall():
            result[pk][day] = (int(records), int(negative))
    return result
