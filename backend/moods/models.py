"""Mood records: one per detected face, the only thing kept once a frame is processed."""
from django.db import models

from inference.labels import MOODS

# The four moods are the classifier's (inference.labels.MOODS, no Django there); the records'
# choices are built from them, so a record can only hold a mood the model can output.
# Mood.POSITIVE == "positive", and so on; the labels are the capitalised names.
Mood = models.TextChoices("Mood", [(mood.upper(), mood) for mood in MOODS])


class RecordSource(models.TextChoices):
    """Where a record's mood was computed: by a worker from an uploaded frame, or on the patient's device
    (only the mood record left the phone)."""
    SERVER = "server", "Server (from an uploaded frame)"
    DEVICE = "device", "Device (computed on the phone)"


class MoodRecord(models.Model):
    # No index of their own (db_index=False): each foreign key leads an index below (patient:
    # mood_patient_time_idx; batch: unique_record_per_face), which serves its look-ups and joins as
    # well. Two indexes fewer to update per record: the record insert is the hot write of ingest.
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="mood_records",
                                db_index=False)
    batch = models.ForeignKey("ingest.FrameBatch", on_delete=models.CASCADE, related_name="mood_records",
                              db_index=False)
    frame_index = models.PositiveSmallIntegerField()
    face_index = models.PositiveSmallIntegerField()
    captured_at = models.DateTimeField(help_text="The frame's own timestamp, from the device.")
    mood = models.CharField(max_length=16, choices=Mood.choices)
    p_positive = models.FloatField()
    p_negative = models.FloatField()
    p_neutral = models.FloatField()
    p_other = models.FloatField()
    box_x = models.IntegerField()
    box_y = models.IntegerField()
    box_w = models.PositiveIntegerField()
    box_h = models.PositiveIntegerField()
    detection_score = models.FloatField()
    model_version = models.CharField(max_length=64)
    source = models.CharField(max_length=8, choices=RecordSource.choices, default=RecordSource.SERVER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["captured_at", "id"]
        constraints = [
            # A re-run of a batch (redelivery, sweeper) can never duplicate a face's record.
            models.UniqueConstraint(
                fields=["batch", "frame_index", "face_index"], name="unique_record_per_face"
            ),
        ]
        indexes = [
            # The dashboard's hot path: one patient's records in a time range.
            models.Index(fields=["patient", "captured_at"], name="mood_patient_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.mood} at {self.captured_at:%Y-%m-%d %H:%M:%S}"


class SelfReport(models.Model):
    """The patient's own answer to "How do you feel right now?" (one tap at the end of a check-in in the
    patient app), in the same four moods as the records. Sent by the patient's device
    (POST /api/v1/self-reports/); compared with the expression records around it (moods.agreement)."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="self_reports")
    # PROTECT, as for frame batches: a device that sent data is revoked, never deleted.
    device = models.ForeignKey("devices.Device", on_delete=models.PROTECT, related_name="self_reports")
    report_id = models.UUIDField(help_text="Chosen by the device; a retry with the same id is idempotent.")
    reported_at = models.DateTimeField(help_text="When the patient answered, from the device.")
    mood = models.CharField(max_length=16, choices=Mood.choices)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["reported_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["device", "report_id"], name="unique_report_id_per_device"),
        ]
        indexes = [
            models.Index(fields=["patient", "reported_at"], name="selfreport_patient_time_idx"),
        ]

    def __str__(self) -> str:
        return f"self-report {self.mood} at {self.reported_at:%Y-%m-%d %H:%M:%S}"
