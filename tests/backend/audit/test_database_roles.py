"""The audit log refuses TRUNCATE (migration audit 0005), and the app's restricted role (`manage.py
db_app_role`) can write rows but cannot empty, rewrite or delete the audit log, nor change the schema.

Each test runs as an attacker holding the app's database connection: `SET ROLE` to the restricted
role, then try. Roles are per server, so each test creates its own inside the test's transaction,
which rolls back with it."""
import secrets

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from backend.audit.models import AuditAction, AuditEvent
from backend.audit.services import audit_record
from backend.patients.models import Patient
from tests.backend.factories import PatientFactory

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL roles and triggers")


@pytest.fixture
def event(clinician, patient):
    return audit_record(action=AuditAction.PATIENT_VIEW, actor=clinician, patient=patient, detail={"page": "x"})


@pytest.fixture
def as_app_role(db):
    """Create the restricted role with the management command, and make this connection act as it."""
    role = f"moodwatch_app_test_{secrets.token_hex(4)}"
    call_command("db_app_role", "--role", role, "--password", secrets.token_urlsafe(16))
    with connection.cursor() as cursor:
        cursor.execute(f'SET LOCAL ROLE "{role}"')  # until the test's transaction rolls back
    return role


def refused(sql, params=()):
    """Run `sql` in a savepoint; return the database's error message (the test fails if it ran)."""
    with pytest.raises(DatabaseError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return str(error.value)


def test_truncate_of_the_audit_log_is_refused_even_for_the_owner(event):
    with connection.cursor() as cursor:  # the test settings allow it (Django's flush); an attacker would not
        cursor.execute("SET LOCAL moodwatch.allow_audit_truncate = off")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else "pending trigger events" refuses it first
    assert "append-only" in refused("TRUNCATE audit_auditevent CASCADE")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_the_app_role_cannot_truncate_update_or_delete_audit_rows(event, as_app_role):
    assert "permission denied" in refused("TRUNCATE audit_auditevent")
    # UPDATE stays granted (Django unlinks a deleted account's rows itself); the trigger allows only that
    assert "append-only" in refused("UPDATE audit_auditevent SET detail = '{}' WHERE id = %s", [event.pk])
    assert "permission denied" in refused("DELETE FROM audit_auditevent WHERE id = %s", [event.pk])
    assert "permission denied" in refused("TRUNCATE patients_patient CASCADE")
    assert AuditEvent.objects.get(pk=event.pk).detail == {"page": "x"}


def test_the_app_role_cannot_change_the_schema_or_grant_itself_more(event, as_app_role):
    assert "must be owner" in refused("ALTER TABLE audit_auditevent DISABLE TRIGGER ALL")
    assert "must be owner" in refused("DROP TABLE audit_auditevent")
    assert "denied" in refused("CREATE TABLE public.attacker_table (id int)")
    assert "must be superuser" in refused(f'ALTER ROLE "{as_app_role}" SUPERUSER')


def test_the_app_role_does_its_ordinary_work(clinician, as_app_role):
    """What the app does all day: insert, read, change and delete rows, and write audit rows."""
    patient = PatientFactory(reference="P-ROLE", clinicians=[clinician])
    new = audit_record(action=AuditAction.PATIENT_CREATE, actor=clinician, patient=patient)
    Patient.objects.filter(pk=patient.pk).update(display_name="Changed")
    assert Patient.objects.get(pk=patient.pk).display_name == "Changed"
    patient.delete()  # the audit row's foreign key is unlinked (ON DELETE SET NULL) with the owner's rights
    new.refresh_from_db()
    assert (new.patient_id, new.patient_reference) == (None, "P-ROLE")
