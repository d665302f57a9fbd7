"""Writes of mood records. Records are written by the ingest service as a batch lands; this module
holds the other writes, called by the workflows layer (backend.workflows)."""
from backend.patients.models import Patient

from .models import MoodRecord


def mood_records_delete(*, patient: Patient) -> int:
    """Delete every mood record of the patient in one DELETE (nothing references a record); how many."""
    deleted, _ = MoodRecord.objects.filter(patient=patient).delete()
    return deleted
