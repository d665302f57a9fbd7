"""backend.rollups.services: a batch is folded into the rollup when it lands, the readers never write,
and the periodic refresh folds whatever a fold after landing missed."""
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.ingest.models import FrameBatch
from backend.ingest.services import FrameResult, batch_complete
from backend.rollups.models import MoodSlotCount, RolledUpBatch
from backend.rollups.selectors import capture_coverage, mood_buckets, mood_overview, upload_overview
from backend.rollups.services import rollup_refresh_all
from tests.backend.factories import FrameBatchFactory, MoodRecordFactory

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the rollup is PostgreSQL's")


class Face:
    box = (10, 10, 50, 50)
    detection_score = 0.9
    mood = "positive"
    probabilities = {"positive": 0.7, "negative": 0.1, "neutral": 0.1, "other": 0.1}


def test_a_batch_is_folded_into_the_rollup_once_its_results_commit(patient, device, django_capture_on_commit_callbacks):
    batch = FrameBatchFactory(device=device, status=FrameBatch.Status.PROCESSING, claimed_by_task="t1")
    when = timezone.now() - timedelta(hours=1)
    results = [FrameResult(index=i, captured_at=when, faces=[Face()]) for i in range(3)]
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        batch_complete(batch_pk=batch.pk, task_id="t1", results=results, undecodable=0, model_version="m")
    assert not RolledUpBatch.objects.filter(batch_id=batch.pk).exists(), "nothing is folded before the commit"
    for callback in callbacks:
        callback()
    assert RolledUpBatch.objects.filter(batch_id=batch.pk).exists()
    assert sum(s.positive for s in MoodSlotCount.objects.filter(patient=patient)) == 3


def test_the_readers_write_nothing(patient):
    now = timezone.now()
    with CaptureQueriesContext(connection) as queries:
        mood_buckets(patient=patient, start=now - timedelta(days=7), end=now, bucket="day")
        capture_coverage(patient=patient, start=now - timedelta(days=7), end=now)
        mood_overview(patients=[patient], now=now)
        upload_overview(patients=[patient], now=now)
    assert len(queries.captured_queries) >= 4
    writes = [q["sql"] for q in queries.captured_queries
              if any(word in q["sql"].upper() for word in ("INSERT ", "UPDATE ", "DELETE "))]
    assert writes == []


def test_a_batch_whose_fold_after_landing_did_not_run_is_folded_by_the_periodic_refresh(patient, device):
    batch = FrameBatchFactory(device=device, status=FrameBatch.Status.DONE)
    MoodRecordFactory(batch=batch, patient=patient, frame_index=0, captured_at=timezone.now() - timedelta(hours=2))
    now = timezone.now()
    assert mood_buckets(patient=patient, start=now - timedelta(days=1), end=now, bucket="day") == []
    rollup_refresh_all()
    rows = mood_buckets(patient=patient, start=now - timedelta(days=1), end=now, bucket="day")
    assert [r["records"] for r in rows] == [1]
