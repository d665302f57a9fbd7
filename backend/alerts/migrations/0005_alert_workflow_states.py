"""The care team's alert workflow (definitions: states, resolutions, notes).

Existing rows: an alert whose condition cleared (resolved_at set) is resolved, "condition cleared",
at that time; an acknowledged one is acknowledged; its acknowledgement note becomes the first note
of its thread, by whoever acknowledged, at that time. The note column goes in the next migration
(in its own transaction: PostgreSQL refuses to alter a table with the new notes' checks pending)."""
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


def states_from_acknowledgements(apps, schema_editor):
    Alert = apps.get_model("alerts", "Alert")
    AlertNote = apps.get_model("alerts", "AlertNote")
    notes = [
        AlertNote(alert_id=pk, author_id=by, created_at=at, text=text)
        for pk, by, at, text in Alert.objects.filter(acknowledged_at__isnull=False)
        .exclude(acknowledgement_note="").values_list("pk", "acknowledged_by", "acknowledged_at",
                                                      "acknowledgement_note").iterator()
    ]
    AlertNote.objects.bulk_create(notes, batch_size=500)
    Alert.objects.filter(acknowledged_at__isnull=False).update(
        state="acknowledged", state_changed_at=models.F("acknowledged_at"))
    Alert.objects.filter(resolved_at__isnull=False).update(
        state="resolved", resolution="condition_cleared", state_changed_at=models.F("resolved_at"))


def notes_back_to_acknowledgements(apps, schema_editor):
    Alert = apps.get_model("alerts", "Alert")
    for note in apps.get_model("alerts", "AlertNote").objects.order_by("-created_at").iterator():
        Alert.objects.filter(pk=note.alert_id).update(acknowledgement_note=note.text)


class Migration(migrations.Migration):

    dependencies = [
        ('alerts', '0004_baseline_rule'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='alert',
            name='assigned_to',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='alert',
            name='resolution',
            field=models.CharField(blank=True, choices=[('patient_contacted', 'Patient contacted, no further action'), ('care_adjusted', 'Care plan adjusted'), ('technical', 'Technical cause (phone, app, camera)'), ('not_relevant', 'Not a real change (false alarm)'), ('other', 'Other (say why in a note)'), ('condition_cleared', 'Condition cleared (automatic)'), ('monitoring_stopped', 'Monitoring stopped (automatic)')], default='', max_length=32),
        ),
        migrations.AddField(
            model_name='alert',
            name='resolution_by',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL),
        ),
        migrations.AddField(
            model_name='alert',
            name='snoozed_until',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='alert',
            name='state',
            field=models.CharField(choices=[('new', 'New'), ('acknowledged', 'Acknowledged'), ('assigned', 'Assigned'), ('resolved', 'Resolved')], default='new', max_length=16),
        ),
        migrations.AddField(
            model_name='alert',
            name='state_changed_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name='AlertNote',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField()),
                ('text', models.TextField(max_length=2000)),
                ('alert', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='notes', to='alerts.alert')),
                ('author', models.ForeignKey(null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'ordering': ['created_at', 'id'],
            },
        ),
        migrations.RunPython(states_from_acknowledgements, notes_back_to_acknowledgements),
    ]
