"""Uploaded frame batches and their frames, until the worker turns them into mood records."""

from django.db import models


class FrameBatch(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued"
        PROCESSING = "processing"
        DONE = "done"
        FAILED = "failed"

    class Kind(models.TextChoices):
        FRAMES = "frames", "Frames (analysed on the server)"
        MOODS = "moods", "Mood records (computed on the device)"

    UNFINISHED = (Status.QUEUED, Status.PROCESSING)

    device = models.ForeignKey("devices.Device", on_delete=models.PROTECT, related_name="batches")
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="batches")
    batch_id = models.UUIDField(help_text="Client-chosen id; a retry with the same id is idempotent.")
    # SHA-256 over every frame's bytes and timestamp, in order: tells a retry (same content, 200)
    # from a client bug reusing an id (different content, 409).
    content_digest = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    # A mood batch (kind `moods`) carries the device's mood records and never a frame: it lands `done`.
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.FRAMES)
    frame_count = models.PositiveIntegerField()
    frames_with_face = models.PositiveIntegerField(default=0)
    frames_undecodable = models.PositiveIntegerField(default=0)
    record_count = models.PositiveIntegerField(default=0)
    # Faces other than the patient's (the largest face in a frame is the patient's): counted, never classified.
    bystanders = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    # The upload's request id (X-Request-ID, backend/core/logs.py): the task that processes the batch logs
    # with it, however much later and from whichever worker it is dispatched.
    request_id = models.CharField(max_length=64, blank=True, default="")
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    claimed_by_task = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    processed_at = models.DateTimeField(null=True, blank=True)
    model_version = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    frames_deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(fields=["device", "batch_id"], name="unique_batch_id_per_device"),
        ]
        indexes = [
            # The sweeper's scan for stuck work; partial so it stays tiny as done batches pile up.
            models.Index(
                fields=["status", "received_at"],
                name="batch_unfinished_idx",
                condition=models.Q(status__in=["queued", "processing"]),
            ),
        ]

    def __str__(self) -> str:
        return f"batch {self.batch_id} ({self.status})"


class Frame(models.Model):
    """One uploaded image, held in the database until its batch is processed.

    Why the database: the frames and their batch row commit in one transaction (no orphan files,
    no row pointing at a missing file), every worker host reaches them through the connection it
    already has, and they are deleted in the same transaction that writes their mood records.
    Frames are small (<= MAX_FRAME_BYTES, typically tens of KB) and live for seconds.
    """

    batch = models.ForeignKey(FrameBatch, on_delete=models.CASCADE, related_name="frames")
    index = models.PositiveSmallIntegerField()
    captured_at = models.DateTimeField()
    content_type = models.CharField(max_length=32)
    data = models.BinaryField()

    class Meta:
        ordering = ["batch", "index"]
        constraints = [models.UniqueConstraint(fields=["batch", "index"], name="unique_frame_index_per_batch")]

    def __str__(self) -> str:
        return f"frame {self.index} of {self.batch_id}"
