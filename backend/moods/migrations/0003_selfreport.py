"""Self-reports: the patient's own mood, one tap at the end of a check-in (issue 28)."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('devices', '0001_initial'),
        ('moods', '0002_moodrecord_source'),
        ('patients', '0003_inference_mode'),
    ]

    operations = [
        migrations.CreateModel(
            name='SelfReport',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('report_id', models.UUIDField(help_text='Chosen by the device; a retry with the same id is idempotent.')),
                ('reported_at', models.DateTimeField(help_text='When the patient answered, from the device.')),
                ('mood', models.CharField(choices=[('positive', 'Positive'), ('negative', 'Negative'), ('neutral', 'Neutral'), ('other', 'Other')], max_length=16)),
                ('received_at', models.DateTimeField(auto_now_add=True)),
                ('device', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='self_reports', to='devices.device')),
                ('patient', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='self_reports', to='patients.patient')),
            ],
            options={
                'ordering': ['reported_at', 'id'],
                'indexes': [models.Index(fields=['patient', 'reported_at'], name='selfreport_patient_time_idx')],
                'constraints': [models.UniqueConstraint(fields=('device', 'report_id'), name='unique_report_id_per_device')],
            },
        ),
    ]
