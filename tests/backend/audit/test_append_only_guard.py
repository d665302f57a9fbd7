"""On PostgreSQL the audit log is append-only at the database level (migration audit 0003)."""
import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from backend.audit.models import AuditAction, AuditEvent
from backend.audit.services import audit_record

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the guard is a PostgreSQL trigger")


@pytest.fixture
def event(clinician, patient):
    return audit_record(action=AuditAction.PATIENT_VIEW, actor=clinician, patient=patient, detail={"page": "x"})


@pytest.mark.parametrize("change", [
    {"action": AuditAction.DATA_DELETE}, {"actor_username": "someone_else"}, {"detail": {}},
    {"patient_reference": "P-OTHER"}, {"ip_address": "10.9.9.9"},
])
def test_changing_any_field_of_an_audit_row_is_refused_by_the_database(event, change):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(**change)
    event.refresh_from_db()
    assert (event.action, event.actor_username, event.detail) == (AuditAction.PATIENT_VIEW, "dr_house", {"page": "x"})


def test_deleting_an_audit_row_is_refused_by_the_database_even_in_raw_sql(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_deleting_the_account_or_the_patient_still_works_and_keeps_the_copied_names(event, clinician, patient):
    clinician.delete()
    patient.delete()
    event.refresh_from_db()
    assert (event.actor_id, event.patient_id, event.actor_username, event.patient_reference) == (
        None, None, "dr_house", "P-ALPHA")


def test_the_unlink_exception_does_not_allow_pointing_a_row_at_someone_else(event, other_clinician):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(actor=other_clinician)
