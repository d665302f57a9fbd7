"""Writes of the rollup: fold finished batches into the 15-minute slot counts (PostgreSQL only).

Two writers, one statement: `rollup_batches_fold` right after a batch lands (done or failed; the
workflows layer calls it once the batch's transaction has committed), and `rollup_refresh_all` on
beat's schedule, which also catches any batch whose fold after landing did not run (a worker killed
between the commit and the fold, a database blip). The selectors only read the rollup.
"""
import logging
from collections import Counter
from datetime import UTC, datetime

from django.db import connection, transaction
from django.db.models import Max

from backend.ingest.models import FrameBatch
from backend.patients.services import patient_lock

from .models import CaptureSlotCount, MoodSlotCount, RollupState, UploadSlotCount

# The one slot grid of every rollup, in seconds: slot_floor in Python, the refresh SQL as %(slot)s.
SLOT_SECONDS = 15 * 60


def uses_rollup() -> bool:
    """The rollup SQL is PostgreSQL's; other databases (the SQLite demo) count records directly."""
    return connection.vendor == "postgresql"


# One statement: claim finished batches (the primary key makes a concurrent refresh skip them),
# then add their frames to the upload slots and their records to the mood slots. The claim locks
# each batch (in id order, as patient_data_delete does): a batch being deleted is waited for and
# then skipped, and a deletion waits for a refresh that holds its batches, then deletes its counts.
_REFRESH_SQL = """
WITH claimed AS (
    INSERT INTO rollups_rolledupbatch (batch_id)
    SELECT b.id FROM ingest_framebatch b
    WHERE b.id > %(after)s AND b.status IN ('done', 'failed') {patients}
      AND NOT EXISTS (SELECT 1 FROM rollups_rolledupbatch r WHERE r.batch_id = b.id)
    ORDER BY b.id FOR KEY SHARE OF b
    ON CONFLICT DO NOTHING
    RETURNING batch_id
), uploads AS (
    INSERT INTO rollups_uploadslotcount
        (patient_id, slot_start, batches, frames, frames_processed, frames_with_face, last_received_at)
    SELECT b.patient_id, to_timestamp(floor(extract(epoch FROM b.received_at) / %(slot)s) * %(slot)s), count(*),
           sum(b.frame_count), coalesce(sum(b.frame_count) FILTER (WHERE b.status = 'done'), 0),
           coalesce(sum(b.frames_with_face) FILTER (WHERE b.status = 'done'), 0), max(b.received_at)
    FROM ingest_framebatch b JOIN claimed c ON c.batch_id = b.id
    GROUP BY 1, 2
    ON CONFLICT (patient_id, slot_start) DO UPDATE SET
        batches = rollups_uploadslotcount.batches + EXCLUDED.batches,
        frames = rollups_uploadslotcount.frames + EXCLUDED.frames,
        frames_processed = rollups_uploadslotcount.frames_processed + EXCLUDED.frames_processed,
        frames_with_face = rollups_uploadslotcount.frames_with_face + EXCLUDED.frames_with_face,
        last_received_at = greatest(rollups_uploadslotcount.last_received_at, EXCLUDED.last_received_at)
)
INSERT INTO rollups_moodslotcount (patient_id, slot_start, positive, negative, neutral, other)
SELECT m.patient_id, to_timestamp(floor(extract(epoch FROM m.captured_at) / %(slot)s) * %(slot)s),
       count(*) FILTER (WHERE m.mood = 'positive'), count(*) FILTER (WHERE m.mood = 'negative'),
       count(*) FILTER (WHERE m.mood = 'neutral'), count(*) FILTER (WHERE m.mood = 'other')
FROM moods_moodrecord m JOIN claimed c ON c.batch_id = m.batch_id
GROUP BY 1, 2
ON CONFLICT (patient_id, slot_start) DO UPDATE SET
    positive = rollups_moodslotcount.positive + EXCLUDED.positive,
    negative = rollups_moodslotcount.negative + EXCLUDED.negative,
    neutral = rollups_moodslotcount.neutral + EXCLUDED.neutral,
    other = rollups_moodslotcount.other + EXCLUDED.other
"""


logger = logging.getLogger(__name__)


def rollup_batches_fold(*, batch_ids: list[int]) -> None:
    """Fold these batches, if finished and not folded yet (each batch is counted once, whoever folds it)."""
    if not uses_rollup() or not batch_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(_REFRESH_SQL.format(patients="AND b.id = ANY(%(batch_ids)s)"),
                       {"batch_ids": list(batch_ids), "after": 0, "slot": SLOT_SECONDS})


def rollup_fold_after_landing(*, batch_id: int, patient_id) -> None:
    """rollup_batches_fold for a batch whose results just committed. A failure is logged, not
    raised: the batch's records are safe, and the next periodic refresh folds it.

    The patient is locked first (patients.services.patient_lock): a deletion of their data in
    progress finishes, and the fold then finds the batch gone and adds nothing."""
    try:
        with transaction.atomic():
            if patient_lock(patient_id=patient_id):
                rollup_batches_fold(batch_ids=[batch_id])
    except Exception:  # noqa: BLE001 - anything; the periodic refresh is the fallback
        logger.exception("rollup fold of batch %s failed; the periodic refresh will fold it", batch_id)


def rollup_refresh_all() -> None:
    """Fold every finished batch of every patient, then move the watermark to the highest batch id
    seen before folding: every batch at or below it was either folded now or will be next time."""
    if not uses_rollup():
        return
    highest = FrameBatch.objects.aggregate(highest=Max("id"))["highest"] or 0
    with connection.cursor() as cursor:
        cursor.execute(_REFRESH_SQL.format(patients=""), {"after": 0, "slot": SLOT_SECONDS})
    RollupState.objects.update_or_create(pk=1, defaults={"batch_watermark": highest})


# --- capture-time coverage (every database) -------------------------------------------------------

def slot_floor(moment: datetime) -> datetime:
    """The start (UTC) of the 15-minute slot holding `moment`: the one slot grid of every rollup."""
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % SLOT_SECONDS, tz=UTC)


_CAPTURE_UPSERT = """
INSERT INTO {table} (patient_id, slot_start, frames, frames_processed, frames_with_face, bystanders)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (patient_id, slot_start) DO UPDATE SET
    frames = {table}.frames + excluded.frames,
    frames_processed = {table}.frames_processed + excluded.frames_processed,
    frames_with_face = {table}.frames_with_face + excluded.frames_with_face,
    bystanders = {table}.bystanders + excluded.bystanders
"""


def capture_slots_add(*, patient_id, frames: list[tuple]) -> None:
    """Add a landing batch's frames, (captured_at, processed, with_face[, bystanders]) each, to the
    capture slots (bystanders: the frame's faces other than the patient's; 0 when left out).

    Called (by the workflows layer) inside the transaction that marks the batch done or failed, which
    happens once per batch, so each frame is counted once. One upsert per slot touched (a batch
    usually spans one or two)."""
    if not frames:
        return
    totals: Counter = Counter()
    for captured_at, processed, with_face, *bystanders in frames:
        slot = slot_floor(captured_at)
        totals[(slot, "frames")] += 1
        totals[(slot, "processed")] += int(processed)
        totals[(slot, "with_face")] += int(with_face)
        totals[(slot, "bystanders")] += int(bystanders[0]) if bystanders else 0
    slots = sorted({slot for slot, _ in totals})  # a fixed order: concurrent batches lock slots alike
    # Raw SQL, so values are adapted as the ORM would (SQLite keeps UUIDs as hex, datetimes as text).
    patient = CaptureSlotCount._meta.get_field("patient").target_field.get_db_prep_value(patient_id, connection)
    adapt = connection.ops.adapt_datetimefield_value
    rows = [
        (patient, adapt(slot), totals[(slot, "frames")], totals[(slot, "processed")], totals[(slot, "with_face")],
         totals[(slot, "bystanders")])
        for slot in slots
    ]
    sql = _CAPTURE_UPSERT.format(table=connection.ops.quote_name(CaptureSlotCount._meta.db_table))
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


def slot_counts_delete(*, patient_id) -> None:
    """Delete the patient's slot counts (moods, uploads, capture times): a deletion of their data
    on request (backend.workflows.services.patient_data_delete)."""
    for model in (MoodSlotCount, UploadSlotCount, CaptureSlotCount):
        model.objects.filter(patient_id=patient_id).delete()
