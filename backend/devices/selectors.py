"""Reads for devices."""
from datetime import datetime

from django.db.models import Count, F, Max, Q, QuerySet

from backend.patients.models import Patient

from .models import Device, EnrollmentCode


def device_list_for_patient(*, patient: Patient) -> QuerySet[Device]:
    """The patient's devices, live ones first, newest first."""
    # nulls_first: PostgreSQL sorts NULL last when ascending, which put revoked phones first
    return Device.objects.filter(patient=patient).order_by(F("revoked_at").asc(nulls_first=True), "-enrolled_at")


def device_list_active(*, patient: Patient) -> QuerySet[Device]:
    """The patient's devices that can upload now (not revoked), newest first. Enrolling a phone does
    not revoke the others, so there may be several."""
    return device_list_for_patient(patient=patient).filter(revoked_at__isnull=True)


def enrollment_code_pending(*, patient: Patient, now: datetime) -> EnrollmentCode | None:
    """The patient's code that can still enroll a phone (at most one: issuing cancels the others)."""
    return (EnrollmentCode.objects.select_related("issued_by")
            .filter(patient=patient, used_at__isnull=True, cancelled_at__isnull=True, expires_at__gt=now)
            .order_by("-issued_at").first())


def device_counts_by_patient(*, patient_ids: list) -> dict:
    """patient pk -> {"active", "revoked": device counts, "last_enrolled_at" (of an active device),
    "last_revoked_at"}; patients without any device are left out (never enrolled)."""
    rows = (Device.objects.filter(patient_id__in=patient_ids).values("patient_id").order_by()
            .annotate(active=Count("id", filter=Q(revoked_at__isnull=True)),
                      revoked=Count("id", filter=Q(revoked_at__isnull=False)),
                      last_enrolled_at=Max("enrolled_at", filter=Q(revoked_at__isnull=True)),
                      last_revoked_at=Max("revoked_at")))
    return {row.pop("patient_id"): row for row in rows}
