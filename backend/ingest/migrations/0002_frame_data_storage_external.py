"""Store Frame.data uncompressed out of line (PostgreSQL STORAGE EXTERNAL).

JPEG and PNG bytes do not compress, yet with the default EXTENDED storage PostgreSQL tries pglz
on every frame before storing it out of line. Measured on this machine with 32 KB frames, the
server's CPU to insert a frame fell from ~0.6 to ~0.2 ms. Other databases (SQLite for `make run`)
have no such setting: nothing to do there.
"""
from django.db import migrations


def storage(value: str):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            table = schema_editor.quote_name(apps.get_model("ingest", "Frame")._meta.db_table)
            schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN data SET STORAGE {value}")

    return apply


class Migration(migrations.Migration):
    dependencies = [("ingest", "0001_initial")]

    operations = [migrations.RunPython(storage("EXTERNAL"), storage("EXTENDED"), elidable=False)]
