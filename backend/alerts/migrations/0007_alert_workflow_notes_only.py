"""Notes live in the alert's thread only (0006 copied each acknowledgement note there)."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0006_alert_workflow_existing_rows'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='alert',
            name='acknowledgement_note',
        ),
    ]
