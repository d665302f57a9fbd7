"""Mood batches from devices (kind `moods`) and the count of bystander faces per batch."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ingest', '0002_frame_data_storage_external'),
    ]

    operations = [
        migrations.AddField(
            model_name='framebatch',
            name='bystanders',
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='framebatch',
            name='kind',
            field=models.CharField(choices=[('frames', 'Frames (analysed on the server)'), ('moods', 'Mood records (computed on the device)')], default='frames', max_length=8),
        ),
    ]
