"""Notes live in the alert's thread only (0005 copied each acknowledgement note there)."""
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0005_alert_workflow_states'),
    ]

    operations = [
        migrations.RemoveField(
            model_name='alert',
            name='acknowledgement_note',
        ),
    ]
