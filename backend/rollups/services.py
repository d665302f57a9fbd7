"""Writes of the rollup: fold finished batches into the 15-minute slot counts (PostgreSQL only)."""
from django.db import connection

from backend.patients.models import Patient


def uses_rollup() -> bool:
    """The rollup SQL is PostgreSQL's; other databases (the SQLite demo) count records directly."""
    return connection.vendor == "postgresql"


_REFRESH_SQL = """
WITH claimed AS (
    INSERT INTO rollups_rolledupbatch (batch_id)
    SELECT b.id FROM ingest_framebatch b
    WHERE b.patient_id = ANY(%(ids)s) AND b.status = 'done'
      AND NOT EXISTS (SELECT 1 FROM rollups_rolledupbatch r WHERE r.batch_id = b.id)
    ON CONFLICT DO NOTHING
    RETURNING batch_id
)
INSERT INTO rollups_moodslotcount (patient_id, slot_start, positive, negative, neutral, other)
SELECT m.patient_id, to_timestamp(floor(extract(epoch FROM m.captured_at) / 900) * 900),
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


def rollup_refresh(*, patient_ids: list) -> None:
    """Fold every finished batch of these patients into the slot counts (no-op off PostgreSQL)."""
    if not uses_rollup() or not patient_ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(_REFRESH_SQL, {"ids": list(patient_ids)})


def rollup_refresh_all() -> None:
    """Every patient's finished batches; run periodically so page views rarely have work to do."""
    if uses_rollup():
        rollup_refresh(patient_ids=list(Patient.objects.values_list("pk", flat=True)))
