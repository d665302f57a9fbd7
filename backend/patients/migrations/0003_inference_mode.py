"""Each patient's inference mode. Patients that exist now keep `frames` (their phones send frames);
patients created from now on default to `on_device`."""
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("patients", "0002_reference_key")]

    operations = [
        # Added with `frames` so that every existing row gets it, then the default changes for new rows.
        migrations.AddField(
            model_name="patient", name="inference_mode",
            field=models.CharField(
                choices=[("on_device", "On the device (no frame leaves the phone)"),
                         ("frames", "Frames uploaded to the server")],
                default="frames", max_length=16,
            ),
        ),
        migrations.AlterField(
            model_name="patient", name="inference_mode",
            field=models.CharField(
                choices=[("on_device", "On the device (no frame leaves the phone)"),
                         ("frames", "Frames uploaded to the server")],
                default="on_device", max_length=16,
            ),
        ),
    ]
