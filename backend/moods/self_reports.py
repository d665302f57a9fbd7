"""Validation of a self-report from a device (POST /api/v1/self-reports/): everything the device could
get wrong, found before storing. Returns a ValidSelfReport or raises InputInvalid listing every problem.

Body: {"report_id": "<uuid>", "reported_at": "<ISO 8601 with offset>", "mood": "<one of the moods>"};
nothing else. The time follows the rule of every device timestamp (backend.core.timestamps).
"""
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from backend.core.errors import FieldError, InputInvalid
from backend.core.timestamps import device_timestamp_parse

from .models import Mood

FIELDS = ("report_id", "reported_at", "mood")


@dataclass(frozen=True)
class ValidSelfReport:
    report_id: uuid.UUID
    reported_at: datetime
    mood: str


def self_report_validate(data: object) -> ValidSelfReport:
    if not isinstance(data, dict):
        raise InputInvalid([FieldError("non_field_errors", "invalid",
                                       f"The body must be a JSON object, not {type(data).__name__}.")])
    errors: list[FieldError] = []
    for name in sorted(set(data) - set(FIELDS), key=str)[:10]:
        errors.append(FieldError(str(name)[:64], "unknown_field",
                                 f"{str(name)[:64]!r} is not a field of a self-report."))
    for name in FIELDS:
        if name not in data:
            errors.append(FieldError(name, "required", f"{name} is required."))
    report_id = _report_id_parse(data["report_id"], errors) if "report_id" in data else None
    reported_at = None
    if "reported_at" in data:
        reported_at, problem = device_timestamp_parse(data["reported_at"], field="reported_at", now=timezone.now())
        if problem is not None:
            errors.append(problem)
    mood = data.get("mood")
    if "mood" in data and (not isinstance(mood, str) or mood not in Mood.values):
        shown = repr(mood[:32]) if isinstance(mood, str) else type(mood).__name__
        errors.append(FieldError("mood", "invalid_choice",
                                 f"{shown} is not a mood; send one of {', '.join(Mood.values)}."))
    if errors:
        raise InputInvalid(errors)
    return ValidSelfReport(report_id=report_id, reported_at=reported_at, mood=mood)


def _report_id_parse(raw: object, errors: list[FieldError]) -> uuid.UUID | None:
    if not isinstance(raw, str):
        errors.append(FieldError("report_id", "invalid_uuid",
                                 f"report_id must be a UUID string, not {type(raw).__name__}."))
        return None
    try:
        return uuid.UUID(raw)
    except ValueError:
        errors.append(FieldError("report_id", "invalid_uuid", f"{raw[:64]!r} is not a UUID."))
        return None
