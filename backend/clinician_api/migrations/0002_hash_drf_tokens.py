"""DRF's authtoken table kept each clinician's API token in clear (and its admin showed it whole).
Copy each as a digest (its first 12 hex digits become the lookup id, so the token keeps working but
can never be shown again), then drop the table. A database that never had it has nothing to do."""
import hashlib

from django.db import migrations

LEGACY_TABLE = "authtoken_token"


def hash_drf_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("clinician_api", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT key, user_id FROM {LEGACY_TABLE}")
        for key, user_id in cursor.fetchall():
            ApiToken.objects.update_or_create(user_id=user_id, defaults={
                "lookup_id": key[:12], "digest": hashlib.sha256(key.encode()).hexdigest()})
        cursor.execute(f"DROP TABLE {LEGACY_TABLE}")


class Migration(migrations.Migration):
    dependencies = [("clinician_api", "0001_initial")]

    operations = [migrations.RunPython(hash_drf_tokens, migrations.RunPython.noop, elidable=False)]
