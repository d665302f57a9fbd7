"""References: a comparison key that look-alike forms share, and uniqueness per clinician instead
of hospital-wide (see Patient.reference_key). Existing references keep their stored form."""
from django.db import migrations, models

from backend.patients.references import reference_key


def fill_keys(apps, schema_editor):
    Patient = apps.get_model("patients", "Patient")
    for patient in Patient.objects.only("pk", "reference").iterator():
        Patient.objects.filter(pk=patient.pk).update(reference_key=reference_key(patient.reference))


class Migration(migrations.Migration):
    dependencies = [("patients", "0001_initial")]

    operations = [
        migrations.AddField(
            model_name="patient", name="reference_key",
            field=models.CharField(db_index=True, default="", editable=False, max_length=200),
            preserve_default=False,
        ),
        migrations.RunPython(fill_keys, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(model_name="patient", name="reference", field=models.CharField(max_length=64)),
    ]
