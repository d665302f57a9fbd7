"""Patients: pseudonymous people under camera-based mood monitoring."""
import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .references import reference_key


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone name.", code="invalid_timezone")


class InferenceMode(models.TextChoices):
    """Where the mood model runs for a patient: on the phone (only mood records leave it) or on the
    server (the phone uploads frames, which workers analyse and then delete). The labels are the one
    name of each mode for clinicians and patients alike: the patient app says the same words
    (clients/patient_app/static/patient_app/text.js MODE_NAMES; a test keeps them equal)."""
    ON_DEVICE = "on_device", "Analysed on the phone (no photo leaves it)"
    FRAMES = "frames", "Photos sent to the clinic"


class Patient(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Pseudonymous: the hospital maps it to the real person elsewhere; no real name is required.
    reference = models.CharField(max_length=64)
    # reference_key(reference): look-alike forms of a reference (case, zero-width characters,
    # compatibility forms) share it. Unique within each clinician's patients (patient_create), not
    # in the whole hospital: a hospital-wide constraint answered "taken" for a reference held by a
    # team the clinician cannot see, which told them that it exists.
    reference_key = models.CharField(max_length=200, db_index=True, editable=False)
    display_name = models.CharField(max_length=120, blank=True)
    # IANA name; every daily/weekly bucket of this patient's moods is computed in it.
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    clinicians = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="patients", blank=True)
    consent_recorded_at = models.DateTimeField(null=True, blank=True)
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    # New patients run the model on their phone; patients that existed before the on-device app keep
    # `frames` (migration 0003), since their phones send frames.
    inference_mode = models.CharField(max_length=16, choices=InferenceMode.choices, default=InferenceMode.ON_DEVICE)
    # Seconds between two frames the patient's phone samples in a check-in (the manifest's
    # `sampling_seconds`); null = the clinic's DEVICE_SAMPLING_SECONDS. Changed only by
    # patient_device_settings_set, so every change is audited.
    sampling_seconds = models.PositiveIntegerField(
        null=True, blank=True,
        validators=[MinValueValidator(settings.MOODWATCH["MIN_SAMPLING_SECONDS"]),
                    MaxValueValidator(settings.MOODWATCH["MAX_SAMPLING_SECONDS"])],
        help_text="Seconds between two sampled frames in a check-in; empty: the clinic's default.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["reference"]

    def __str__(self) -> str:
        return self.display_name or self.reference

    def save(self, *args, **kwargs):
        self.reference_key = reference_key(self.reference)  # derived: kept in step on every save
        if kwargs.get("update_fields") is not None and "reference" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "reference_key"}
        super().save(*args, **kwargs)

    @property
    def has_consent(self) -> bool:
        return self.consent_recorded_at is not None

    @property
    def effective_sampling_seconds(self) -> float:
        """The rate the patient's phone follows: their own, else the clinic's default."""
        if self.sampling_seconds is not None:
            return self.sampling_seconds
        return settings.MOODWATCH["DEVICE_SAMPLING_SECONDS"]


class ClinicianPreferences(models.Model):
    """A clinician's own settings. The time zone is the one the dashboard shows times in outside a
    patient's pages (the alert inbox, the admin); a patient's pages keep the patient's zone, in which
    the patient's days are cut, and name it. Without a row: settings.TIME_ZONE (UTC)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences")
    timezone = models.CharField(max_length=64, validators=[validate_timezone])
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "clinician preferences"

    def __str__(self) -> str:
        return f"preferences of {self.user}"
