"""Capture slots count the faces other than the patient's (bystanders, issue 29): 0 for the existing rows."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('rollups', '0003_capture_slots'),
    ]

    operations = [
        migrations.AddField(
            model_name='captureslotcount',
            name='bystanders',
            field=models.PositiveIntegerField(default=0),
        ),
    ]
