"""backend.rollups: bucketed counts from the 15-minute rollup equal a direct count of the records."""
import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.ingest.models import Frame
from backend.moods.selectors import mood_summary
from backend.rollups.models import MoodSlotCount, RolledUpBatch, RollupState
from backend.rollups.selectors import capture_coverage, mood_buckets, mood_overview, upload_overview
from backend.rollups.services import rollup_batches_fold, rollup_refresh_all
from tests.backend.factories import FrameBatchFactory, MoodRecordFactory, PatientFactory, add_records

UTC = ZoneInfo("UTC")
T0 = datetime(2026, 3, 20, 0, 0, tzinfo=UTC)  # DST starts in Europe on 29 March 2026


def direct(patient, start, end, bucket):
    return [
        (
            r["bucket_start"], r["records"], r["count_positive"], r["count_negative"], r["count_neutral"],
            r["count_other"],
        )
        for r in mood_summary(patient=patient, start=start, end=end, bucket=bucket)
    ]


def via_rollup(patient, start, end, bucket):
    return [
        (
            r["bucket_start"], r["records"], r["count_positive"], r["count_negative"], r["count_neutral"],
            r["count_other"],
        )
        for r in mood_buckets(patient=patient, start=start, end=end, bucket=bucket)
    ]


@pytest.fixture
def scattered(clinician):
    """300 records at random minutes over 14 days (across a DST change) in a +05:45 time zone."""
    patient = PatientFactory(reference="P-KTM", clinicians=[clinician], timezone="Asia/Kathmandu")
    rng = random.Random(3)
    for _ in range(30):
        batch = FrameBatchFactory(device__patient=patient, patient=patient)
        base = T0 + timedelta(minutes=rng.randrange(14 * 24 * 60))
        for i in range(10):
            MoodRecordFactory(batch=batch, patient=patient, frame_index=i,
                              mood=rng.choice(["positive", "negative", "neutral", "other"]),
                              captured_at=base + timedelta(seconds=rng.randrange(3600)))
        rollup_batches_fold(batch_ids=[batch.pk])  # as the ingest service does when a batch lands
    return patient


@pytest.mark.parametrize("bucket", ["hour", "day", "week"])
@pytest.mark.parametrize(
    "start_offset, end_offset", [(0, 14 * 24 * 60), (7, 9 * 24 * 60 + 13), (6 * 60 + 1, 6 * 60 + 44)]
)
def test_rollup_buckets_equal_a_direct_count_for_any_range_edges(scattered, bucket, start_offset, end_offset):
    start, end = T0 + timedelta(minutes=start_offset), T0 + timedelta(minutes=end_offset)
    assert via_rollup(scattered, start, end, bucket) == direct(scattered, start, end, bucket)


def test_a_paris_day_across_the_dst_change_is_cut_at_local_midnight(clinician, patient):
    add_records(patient, datetime(2026, 3, 28, 22, 30, tzinfo=UTC), "neutral", 1)  # 28 March 23:30 (+01:00)
    add_records(patient, datetime(2026, 3, 28, 23, 30, tzinfo=UTC), "positive", 2)  # 29 March 00:30 (+01:00)
    add_records(patient, datetime(2026, 3, 29, 21, 30, tzinfo=UTC), "negative", 1)  # 29 March 23:30 (+02:00)
    add_records(patient, datetime(2026, 3, 29, 22, 30, tzinfo=UTC), "other", 4)  # 30 March 00:30 (+02:00)
    rows = mood_buckets(patient=patient, start=T0, end=T0 + timedelta(days=14), bucket="day")
    assert [(r["bucket_start"].isoformat(), r["records"]) for r in rows] == [
        ("2026-03-28T00:00:00+01:00", 1), ("2026-03-29T00:00:00+01:00", 3), ("2026-03-30T00:00:00+02:00", 4),
    ]


def test_refreshing_twice_never_counts_a_batch_twice(scattered):
    rollup_refresh_all()
    rollup_refresh_all()
    totals = sum(s.positive + s.negative + s.neutral + s.other for s in MoodSlotCount.objects.filter(patient=scattered))
    assert totals == 300
    assert RolledUpBatch.objects.count() == 30


def test_unfinished_batches_wait_until_they_are_done(patient):
    batch = FrameBatchFactory(device__patient=patient, patient=patient, status="processing")
    rollup_refresh_all()
    assert not RolledUpBatch.objects.filter(batch=batch).exists()


def test_records_of_a_batch_done_after_the_first_view_appear_on_the_next(patient):
    start, end = T0, T0 + timedelta(days=2)
    add_records(patient, T0 + timedelta(hours=5), "positive", 2)
    assert sum(r["records"] for r in mood_buckets(patient=patient, start=start, end=end, bucket="day")) == 2
    add_records(patient, T0 + timedelta(hours=5, minutes=3), "negative", 3)  # same slot, new batch
    assert sum(r["records"] for r in mood_buckets(patient=patient, start=start, end=end, bucket="day")) == 5


def test_the_overview_counts_today_and_the_six_days_before_in_the_patients_zone(patient):
    now = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)  # 10:00 in Paris
    add_records(patient, datetime(2026, 3, 13, 23, 30, tzinfo=UTC), "negative", 2)  # 14 March 00:30 local: first day
    # 13 March 23:30 local: previous week
    add_records(patient, datetime(2026, 3, 13, 22, 30, tzinfo=UTC), "positive", 4)
    add_records(patient, now - timedelta(minutes=2), "positive", 1)  # inside the current, partial slot
    overview = mood_overview(patients=[patient], now=now)[patient.pk]
    assert overview.counts == {"positive": 1, "negative": 2, "neutral": 0, "other": 0}
    assert (overview.previous_positive, overview.previous_negative, overview.previous_records) == (4, 0, 4)
    assert overview.days_with_data == 2 and overview.days_without_data == 5


def test_page_views_fold_only_batches_newer_than_the_periodic_watermark_which_folds_the_rest(patient):
    start, end = T0, T0 + timedelta(days=1)
    late = FrameBatchFactory(device__patient=patient, patient=patient, status="processing")
    add_records(patient, T0 + timedelta(hours=1), "positive", 2)
    rollup_refresh_all()  # the watermark moves past both batches; `late` is not finished yet
    assert RollupState.objects.get().batch_watermark == late.pk + 1
    MoodRecordFactory(batch=late, patient=patient, frame_index=0, captured_at=T0 + timedelta(hours=2), mood="negative")
    type(late).objects.filter(pk=late.pk).update(status="done")
    add_records(patient, T0 + timedelta(hours=3), "neutral", 1)  # a new batch, above the watermark
    assert sum(r["records"] for r in mood_buckets(patient=patient, start=start, end=end, bucket="day")) == 3
    rollup_refresh_all()  # the next periodic run picks up the batch that finished late
    assert sum(r["records"] for r in mood_buckets(patient=patient, start=start, end=end, bucket="day")) == 4


def test_coverage_counts_frames_per_local_day_of_capture_and_waiting_frames_live(patient):
    # 23:30 local on the 9th
    add_records(patient, datetime(2026, 3, 9, 22, 30, tzinfo=UTC), "neutral", 3, frame_count=5, frames_with_face=3)
    # 00:30 local on the 10th
    add_records(patient, datetime(2026, 3, 9, 23, 30, tzinfo=UTC), "neutral", 2, frame_count=4, frames_with_face=2)
    # uploaded on the 12th, captured on the 10th: counted on the 10th, not on its upload day
    queued = FrameBatchFactory(device__patient=patient, patient=patient, status="queued", frame_count=7)
    type(queued).objects.filter(pk=queued.pk).update(received_at=datetime(2026, 3, 12, 8, 0, tzinfo=UTC))
    Frame.objects.bulk_create(Frame(batch=queued, index=i, captured_at=datetime(2026, 3, 10, 8, i, tzinfo=UTC),
                                    content_type="image/jpeg", data=b"x") for i in range(7))
    days = capture_coverage(
        patient=patient, start=datetime(2026, 3, 9, tzinfo=UTC), end=datetime(2026, 3, 11, tzinfo=UTC)
    )
    assert [(d["bucket_start"].isoformat(), d["frames"], d["frames_processed"], d["frames_with_face"])
            for d in days] == [
        ("2026-03-09T00:00:00+01:00", 5, 5, 3), ("2026-03-10T00:00:00+01:00", 11, 4, 2),
    ]


def test_coverage_days_follow_the_patients_midnight_across_a_dst_change(patient):
    patient.timezone = "Europe/Paris"  # summer time from 2026-03-29 02:00 local (01:00 UTC)
    patient.save()
    add_records(patient, datetime(2026, 3, 28, 22, 59, tzinfo=UTC), "neutral", 1)  # 23:59 CET on the 28th
    add_records(patient, datetime(2026, 3, 28, 23, 0, tzinfo=UTC), "neutral", 2)  # 00:00 CET on the 29th
    add_records(patient, datetime(2026, 3, 29, 21, 59, tzinfo=UTC), "neutral", 3)  # 23:59 CEST on the 29th
    add_records(patient, datetime(2026, 3, 29, 22, 0, tzinfo=UTC), "neutral", 4)  # 00:00 CEST on the 30th
    days = capture_coverage(
        patient=patient, start=datetime(2026, 3, 28, tzinfo=UTC), end=datetime(2026, 3, 31, tzinfo=UTC)
    )
    assert [(d["bucket_start"].isoformat(), d["frames"]) for d in days] == [
        ("2026-03-28T00:00:00+01:00", 1), ("2026-03-29T00:00:00+01:00", 5), ("2026-03-30T00:00:00+02:00", 4),
    ]


def test_the_upload_overview_has_the_last_upload_and_a_weeks_frames(patient):
    now = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    add_records(patient, now - timedelta(days=1), "neutral", 2, frame_count=6, frames_with_face=2)
    add_records(patient, now - timedelta(days=9), "neutral", 2, frame_count=8, frames_with_face=2)  # before the week
    mood_overview(patients=[patient], now=now)  # refreshes the rollup
    overview = upload_overview(patients=[patient], now=now)[patient.pk]
    assert (overview["frames"], overview["frames_processed"], overview["frames_with_face"]) == (6, 6, 2)
    assert overview["last_upload"] == now - timedelta(days=1)


def test_the_overviews_without_the_rollup_equal_those_from_it(patient, monkeypatch):
    """The ORM path (the SQLite demo) gives the figures the rollup gives, for moods and uploads."""
    now = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
    add_records(patient, now - timedelta(days=1), "negative", 3, frame_count=6, frames_with_face=3)
    add_records(patient, now - timedelta(days=3), "positive", 2, frame_count=5, frames_with_face=2)
    add_records(patient, now - timedelta(days=9), "positive", 4, frame_count=8, frames_with_face=4)  # the week before
    add_records(patient, now - timedelta(days=20), "neutral", 1)  # outside both weeks
    idle = PatientFactory(reference="P-IDLE")
    rolled = (mood_overview(patients=[patient, idle], now=now), upload_overview(patients=[patient, idle], now=now))
    monkeypatch.setattr("backend.rollups.selectors.uses_rollup", lambda: False)
    direct = (mood_overview(patients=[patient, idle], now=now), upload_overview(patients=[patient, idle], now=now))
    assert direct == rolled
    assert rolled[0][patient.pk].records == 5 and rolled[0][patient.pk].previous_records == 4
    assert rolled[1][patient.pk]["frames"] == 11 and rolled[1][idle.pk]["last_upload"] is None
