"""TRUNCATE fires no row triggers, so 0003's guard let it empty the audit log in one statement. A
statement-level BEFORE TRUNCATE trigger refuses it too, whoever sends it (the app's role has no
TRUNCATE right at all; this also stops the owner's scripts and mistakes). The one exception is a
session that sets `moodwatch.allow_audit_truncate = on`: the test suite does (Django empties the test
database between transactional tests with TRUNCATE); the owner could as well drop the trigger."""
from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION audit_event_no_truncate() RETURNS trigger AS $$
BEGIN
    IF current_setting('moodwatch.allow_audit_truncate', true) = 'on' THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only: TRUNCATE of % refused', TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_event_no_truncate();
"""

DROP = """
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
DROP FUNCTION IF EXISTS audit_event_no_truncate();
"""


def _on_postgresql(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            with schema_editor.connection.cursor() as cursor:
                cursor.execute(sql)  # no parameters: the '%' of RAISE stays a plpgsql placeholder
    return run


class Migration(migrations.Migration):
    dependencies = [("audit", "0004_alert_actions")]

    operations = [migrations.RunPython(_on_postgresql(CREATE), _on_postgresql(DROP), elidable=False)]
