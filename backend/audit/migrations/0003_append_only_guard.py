"""On PostgreSQL, a trigger makes the audit log append-only at the database level: any DELETE of a
row, and any UPDATE other than the ON DELETE SET NULL that unlinks a deleted account or patient
(whose name and reference stay copied in the row), is refused whoever sends it: the admin, a
script, or a bug. SQLite (the embedded development default) has no such guard."""
from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND NEW.id = OLD.id AND NEW.at = OLD.at AND NEW.action = OLD.action AND NEW.channel = OLD.channel
       AND NEW.actor_username = OLD.actor_username AND NEW.patient_reference = OLD.patient_reference
       AND NEW.ip_address IS NOT DISTINCT FROM OLD.ip_address AND NEW.detail = OLD.detail
       AND (NEW.actor_id IS NOT DISTINCT FROM OLD.actor_id OR NEW.actor_id IS NULL)
       AND (NEW.patient_id IS NOT DISTINCT FROM OLD.patient_id OR NEW.patient_id IS NULL) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: % of audit event % refused', TG_OP, OLD.id
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_event_append_only();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_append_only();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)  # no parameters: the '%' of RAISE stays a plpgsql placeholder
    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_channel_and_actions")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)]
