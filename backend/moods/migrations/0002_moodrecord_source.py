"""Where each mood record was computed: `server` (all existing records) or `device`."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('moods', '0001_initial'),
    ]

    operations = [
        migrations.AddField(
            model_name='moodrecord',
            name='source',
            field=models.CharField(choices=[('server', 'Server (from an uploaded frame)'), ('device', 'Device (computed on the phone)')], default='server', max_length=8),
        ),
    ]
