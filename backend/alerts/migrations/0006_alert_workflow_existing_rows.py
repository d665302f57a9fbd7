"""Existing alerts get their workflow state: an alert whose condition cleared (resolved_at set) is
resolved, "condition cleared", at that time; an acknowledged one is acknowledged; its
acknowledgement note becomes the first note of its thread, by whoever acknowledged, at that time."""
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
        ('alerts', '0005_alert_workflow_states'),
    ]

    operations = [
        migrations.RunPython(states_from_acknowledgements, notes_back_to_acknowledgements),
    ]
