"""The baseline rule (alerts.rules): which rule applies per patient, and what an alert was raised by.

Patients whose thresholds were already set keep the absolute rule those thresholds were chosen for;
every other patient (no row, or an empty `rule`) follows the settings default, ALERT_RULE."""
from django.db import migrations, models


def keep_absolute_for_tuned_patients(apps, schema_editor):
    apps.get_model("alerts", "AlertThresholds").objects.update(rule="absolute")


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0003_audit_notes_redacted'),
    ]

    operations = [
        migrations.AddField(
            model_name='alert',
            name='baseline_share',
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='alert',
            name='rule',
            field=models.CharField(blank=True, default='', max_length=16),
        ),
        migrations.AddField(
            model_name='alertthresholds',
            name='rule',
            field=models.CharField(blank=True, choices=[('baseline', "Change from the patient's own baseline"), ('absolute', 'Fixed negative share')], default='', help_text='Which negative-mood rule applies; empty means the default from settings (ALERT_RULE).', max_length=16),
        ),
        migrations.RunPython(keep_absolute_for_tuned_patients, migrations.RunPython.noop),
    ]
