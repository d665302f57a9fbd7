"""The care team's alert workflow (definitions: states, resolutions, notes): the columns and the
note thread. Existing rows get their states in 0006 and lose the note column in 0007, each in its
own transaction: PostgreSQL refuses to alter a table (the indexes Django creates at the end of a
migration included) while the checks of rows changed in the same transaction are pending."""
import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


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
    ]
