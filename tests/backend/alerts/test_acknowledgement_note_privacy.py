"""An acknowledgement note is health information: it must not outlive the deletion of the patient's
data in the append-only audit log."""
import importlib
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from backend.alerts.models import Alert
from backend.audit.models import AuditAction, AuditEvent

NOTE = "Patient disclosed suicidal thoughts; crisis team called"


def audit_rows_holding(text: str) -> int:
    """Rows whose detail holds `text` anywhere, read as the database stores them (not through the model)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM audit_auditevent WHERE CAST(detail AS TEXT) LIKE %s", [f"%{text}%"])
        return cursor.fetchone()[0]


def test_the_note_never_reaches_the_audit_log_and_is_gone_after_the_deletion(clinician_web, patient):
    now = timezone.now()
    alert = Alert.objects.create(patient=patient, kind=Alert.Kind.NO_DATA, raised_at=now, evaluated_at=now)
    response = clinician_web.post(f"/patients/{patient.pk}/alerts/{alert.pk}/acknowledge/", {"note": f"  {NOTE} "})
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.ALERT_ACKNOWLEDGE)
    assert event.detail == {"alert_id": alert.pk, "kind": alert.kind, "from": "new", "to": "acknowledged",
                            "note_length": len(NOTE)}
    assert alert.notes.get().text == NOTE, "the note stays on the alert's thread"
    assert audit_rows_holding("suicidal") == 0

    url = f"/patients/{patient.pk}/delete-data/"
    token = clinician_web.post(url, {"step": "1", "requested": "yes"}).context["token"]
    assert clinician_web.post(url, {"step": "2", "token": token, "reference": patient.reference}).status_code == 302
    assert not Alert.objects.filter(patient=patient).exists()
    assert audit_rows_holding("suicidal") == 0
    assert AuditEvent.objects.filter(action=AuditAction.ALERT_ACKNOWLEDGE, patient=patient).exists(), \
        "the acknowledgement itself stays on record"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the append-only trigger exists on PostgreSQL only")
def test_notes_copied_before_are_redacted_by_the_migration_and_the_log_stays_append_only(patient, clinician):
    migration = importlib.import_module("backend.alerts.migrations.0003_audit_notes_redacted")
    old = AuditEvent.objects.create(action=AuditAction.ALERT_ACKNOWLEDGE, actor=clinician, patient=patient,
                                    actor_username="alice", patient_reference=patient.reference,
                                    detail={"alert_id": 7, "kind": "no_data", "note": NOTE})
    other = AuditEvent.objects.create(action=AuditAction.PATIENT_UPDATE, patient=patient, actor_username="alice",
                                      patient_reference=patient.reference, detail={"fields": {"note": "kept"}})

    migration.redact_notes(apps, SimpleNamespace(connection=connection))

    old.refresh_from_db()
    other.refresh_from_db()
    assert old.detail == {"alert_id": 7, "kind": "no_data", "note_length": len(NOTE)}
    assert other.detail == {"fields": {"note": "kept"}}, "only acknowledgement notes are touched"
    assert audit_rows_holding("suicidal") == 0
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=old.pk).update(detail={"note": NOTE})  # the guard is back on
