"""Read model for the dashboard and the summary API: mood counts per patient per 15-minute slot (UTC), rolled up from
records.

Why: a 90-day page for a patient who uploads all day covers ~1M records; counting them on every
page view costs seconds on a busy two-core host. Counting ~9,000 slot rows costs milliseconds.
15 minutes because every real UTC offset is a multiple of 15 minutes, so hour/day/week buckets in
any patient's time zone are exact unions of slots. Records are immutable once their batch is done,
so each done batch is added exactly once (RolledUpBatch is the claim). See backend/rollups/selectors.py.
"""
from django.db import models


class RolledUpBatch(models.Model):
    batch = models.OneToOneField("ingest.FrameBatch", on_delete=models.CASCADE, primary_key=True, related_name="+")


class MoodSlotCount(models.Model):
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    slot_start = models.DateTimeField()
    positive = models.PositiveIntegerField(default=0)
    negative = models.PositiveIntegerField(default=0)
    neutral = models.PositiveIntegerField(default=0)
    other = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["patient", "slot_start"], name="one_count_per_patient_slot")]


class UploadSlotCount(models.Model):
    """Frames received per patient per 15-minute slot of upload time, from finished (done or failed) batches."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    slot_start = models.DateTimeField()
    batches = models.PositiveIntegerField(default=0)
    frames = models.PositiveIntegerField(default=0)
    frames_processed = models.PositiveIntegerField(default=0)
    frames_with_face = models.PositiveIntegerField(default=0)
    last_received_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "slot_start"], name="one_upload_count_per_patient_slot")
        ]


class CaptureSlotCount(models.Model):
    """Frames per patient per 15-minute slot of *capture* time (the device's timestamp), with how
    many were processed and how many showed a face. Frames are deleted after inference, so the
    ingest service adds each batch here in the transaction that lands it (exactly once, on every
    database): coverage is counted on the same clock as the moods, whenever the phone uploaded."""

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="+")
    slot_start = models.DateTimeField()
    frames = models.PositiveIntegerField(default=0)
    frames_processed = models.PositiveIntegerField(default=0)
    frames_with_face = models.PositiveIntegerField(default=0)
    # Faces other than the patient's (the largest face of a frame) in the slot's frames: counted, never classified.
    bystanders = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["patient", "slot_start"], name="one_capture_count_per_patient_slot")
        ]


class RollupState(models.Model):
    """One row: the highest batch id seen by the last periodic refresh (rollup_refresh_all), which
    folds every finished batch, so nothing waits longer than one period. Nothing reads it now that
    page views no longer fold; kept rather than dropped by a migration in a structure-only change."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    batch_watermark = models.BigIntegerField(default=0)
