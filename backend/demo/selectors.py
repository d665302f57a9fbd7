"""Reads for the `make run` demo."""
from django.db.models import Count

from backend.moods.models import MoodRecord
from backend.patients.models import Patient

from .services import DEMO_PATIENTS


def demo_record_counts(*, patients: list[Patient]) -> dict:
    counts = dict(MoodRecord.objects.filter(patient__in=patients).values_list("patient").annotate(n=Count("id")))
    return {p.pk: counts.get(p.pk, 0) for p in patients}


def demo_patient_is(*, patient: Patient) -> bool:
    """A patient of the `make run` demo (its pages say that the data is a replay)."""
    return patient.reference in {spec.reference for spec in DEMO_PATIENTS}
