"""Reads for devices."""
from datetime import datetime
from functools import cache
from typing import NamedTuple

from django.db import connections, router
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


# --- the device of a bearer token: once per device request -------------------------------------------

class _LookupPlan(NamedTuple):
    sql: str
    device_names: list[str]
    patient_names: list[str]
    converters: list[list]  # per selected column: the field's and the backend's from-database converters
    columns: list  # per selected column: the Col expression the converters expect


@cache
def _device_lookup_plan(alias: str) -> _LookupPlan:
    """The SQL of device_for_lookup_id, written once per process from the models' metadata.

    The ORM builds and compiles the same select_related query on every request: 0.47 ms of CPU a
    device request (timeit, 2026-12-06), about a tenth of a mood batch's web CPU, for SQL that never
    changes. The columns, tables and converters come from the models, so they are stated once."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    device_fields, patient_fields = Device._meta.concrete_fields, Patient._meta.concrete_fields
    columns = [f.get_col("d") for f in device_fields] + [f.get_col("p") for f in patient_fields]
    selected = ", ".join(f"d.{quote(f.column)}" for f in device_fields)
    selected += ", " + ", ".join(f"p.{quote(f.column)}" for f in patient_fields)
    sql = (f"SELECT {selected} FROM {quote(Device._meta.db_table)} d "
           f"INNER JOIN {quote(Patient._meta.db_table)} p "
           f"ON p.{quote(Patient._meta.pk.column)} = d.{quote(Device._meta.get_field('patient').column)} "
           f"WHERE d.{quote(Device._meta.get_field('token_lookup_id').column)} = %s")
    converters = [col.field.get_db_converters(connection) + connection.ops.get_db_converters(col) for col in columns]
    return _LookupPlan(sql, [f.attname for f in device_fields], [f.attname for f in patient_fields],
                       converters, columns)


def device_for_lookup_id(*, lookup_id: str) -> Device | None:
    """The device whose token has this public lookup id (unique), with its patient loaded; None if none.

    The same rows and objects as Device.objects.select_related("patient").get(token_lookup_id=...),
    from SQL built once (_device_lookup_plan)."""
    alias = router.db_for_read(Device)
    plan = _device_lookup_plan(alias)
    connection = connections[alias]
    with connection.cursor() as cursor:
        cursor.execute(plan.sql, [lookup_id])
        row = cursor.fetchone()
    if row is None:
        return None
    values = list(row)
    for index, converters in enumerate(plan.converters):
        for convert in converters:
            values[index] = convert(values[index], plan.columns[index], connection)
    split = len(plan.device_names)
    device = Device.from_db(alias, plan.device_names, values[:split])
    device.patient = Patient.from_db(alias, plan.patient_names, values[split:])  # as select_related caches it
    return device
