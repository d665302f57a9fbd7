"""Acknowledgement notes are free text about a patient (health information). They used to be copied
into the audit log, which is append-only and outlives a deletion of the patient's data; the
acknowledgement service now records only the note's length there. This removes the notes already
copied, keeping their length, on PostgreSQL as on SQLite.

The append-only trigger (audit 0003) refuses any UPDATE of `detail`. It is disabled for this one
statement, inside the migration's transaction (deferred checks are run first: PostgreSQL refuses
to alter a table with trigger events pending): ALTER TABLE holds an exclusive lock on the table
until the commit, so no other session can write or read the log while the guard is off. Only the
table's owner (the role that runs migrations) can do that."""
from django.db import migrations

TRIGGER = "audit_event_append_only"

REDACT_POSTGRESQL = f"""
SET CONSTRAINTS ALL IMMEDIATE;
ALTER TABLE audit_auditevent DISABLE TRIGGER {TRIGGER};
UPDATE audit_auditevent
   SET detail = (detail - 'note') || jsonb_build_object('note_length', char_length(detail->>'note'))
 WHERE action = 'alert.acknowledge' AND detail ? 'note';
ALTER TABLE audit_auditevent ENABLE TRIGGER {TRIGGER};
"""


def redact_notes(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_trigger WHERE tgname = %s", [TRIGGER])
            guarded = cursor.fetchone() is not None
            for statement in filter(str.strip, REDACT_POSTGRESQL.split(";")):
                if guarded or "TRIGGER" not in statement:
                    cursor.execute(statement)
        return
    AuditEvent = apps.get_model("audit", "AuditEvent")  # SQLite has no trigger
    for event in AuditEvent.objects.filter(action="alert.acknowledge"):
        if "note" in event.detail:
            note = event.detail.pop("note") or ""
            event.detail["note_length"] = len(note)
            event.save(update_fields=["detail"])


class Migration(migrations.Migration):
    dependencies = [("alerts", "0002_notification"), ("audit", "0004_alert_actions")]

    operations = [migrations.RunPython(redact_notes, migrations.RunPython.noop, elidable=False)]
