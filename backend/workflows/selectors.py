"""Reads that span apps, for the workflows in services.py."""
from backend.ingest.models import FrameBatch
from backend.moods.models import MoodRecord, SelfReport
from backend.patients.models import Patient


def patient_data_counts(*, patient: Patient) -> dict[str, int]:
    """What deleting the patient's data on request would remove: mood records, uploads and self-reports."""
    return {
        "records": MoodRecord.objects.filter(patient=patient).count(),
        "batches": FrameBatch.objects.filter(patient=patient).count(),
        "self_reports": SelfReport.objects.filter(patient=patient).count(),
    }
