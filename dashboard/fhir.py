"""FHIR R4 export: a Bundle (type collection) of Observations, one per bucket of mood shares.

No standard code (LOINC/SNOMED) describes camera-based facial-expression mood shares, so the
codes live in MoodWatch's own code system and every coding carries plain-language text. The
patient is referenced only by their pseudonymous reference, as a logical identifier.
"""
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from backend.moods.definitions import BUCKET_STEPS, MOOD_LABELS, MOOD_ORDER
from backend.patients.models import Patient

CODE_SYSTEM = "urn:moodwatch:fhir:codes"
UCUM = "http://unitsofmeasure.org"
NAMESPACE = uuid.UUID("0f6d5c1e-8c1a-4d59-9a55-6f0d7c1b2e10")


def _coding(code: str, display: str, text: str | None = None) -> dict:
    return {"coding": [{"system": CODE_SYSTEM, "code": code, "display": display}], "text": text or display}


def _bucket_end(start: datetime, bucket: str, tz: ZoneInfo) -> datetime:
    """The next bucket start in local wall-clock time (a day is 23 or 25 hours across DST changes)."""
    local = start.astimezone(tz).replace(tzinfo=None) + BUCKET_STEPS[bucket]
    return local.replace(tzinfo=tz)


def observation(*, patient: Patient, row: dict, bucket: str, issued: datetime) -> dict:
    tz = ZoneInfo(patient.timezone)
    start = row["bucket_start"].astimezone(tz)
    components = [
        {
            "code": _coding(f"mood-share-{mood}", f"Share of faces classified {MOOD_LABELS[mood].lower()}"),
            "valueQuantity": {"value": round(row[f"share_{mood}"] * 100, 2), "unit": "%", "system": UCUM, "code": "%"},
        }
        for mood in MOOD_ORDER
    ]
    components.append({
        "code": _coding(
            "valence-index", "Valence index", "Valence index: positive share minus negative share, from -1 to 1"
        ),
        "valueQuantity": {"value": round(row["valence"], 4), "unit": "1", "system": UCUM, "code": "1"},
    })
    components.append({
        "code": _coding("record-count", "Number of faces classified in the period"),
        "valueQuantity": {"value": row["records"], "unit": "records", "system": UCUM, "code": "{records}"},
    })
    return {
        "resourceType": "Observation",
        "id": str(uuid.uuid5(NAMESPACE, f"{patient.pk}/{bucket}/{start.isoformat()}")),
        "status": "final",
        "category": [{"text": "Remote mood monitoring (facial expression)"}],
        "code": _coding(
            "facial-expression-mood-shares", "Facial-expression mood shares",
            f"Share of camera frames per facial-expression mood (positive, neutral, other, negative), per {bucket}",
        ),
        "subject": {
            "identifier": {"system": settings.MOODWATCH_FHIR["PATIENT_IDENTIFIER_SYSTEM"], "value": patient.reference}
        },
        "effectivePeriod": {"start": start.isoformat(), "end": _bucket_end(start, bucket, tz).isoformat()},
        "issued": issued.isoformat(),
        "method": {"text": "Automated facial-expression classification (mini-Xception CNN) of front-camera frames"},
        "component": components,
    }


def bundle(*, patient: Patient, rows: list[dict], bucket: str, issued: datetime) -> dict:
    entries = []
    for row in rows:
        resource = observation(patient=patient, row=row, bucket=bucket, issued=issued)
        entries.append({"fullUrl": f"urn:uuid:{resource['id']}", "resource": resource})
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "type": "collection",
        "timestamp": issued.isoformat(),
        "entry": entries,
    }
