"""Patients: pseudonymous people under camera-based mood monitoring."""
import uuid
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone name.", code="invalid_timezone")


class Patient(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Pseudonymous: the hospital maps it to the real person elsewhere; no real name is required.
    reference = models.CharField(max_length=64, unique=True)
    display_name = models.CharField(max_length=120, blank=True)
    # IANA name; every daily/weekly bucket of this patient's moods is computed in it.
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    clinicians = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="patients", blank=True)
    consent_recorded_at = models.DateTimeField(null=True, blank=True)
    consent_recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["reference"]

    def __str__(self) -> str:
        return self.display_name or self.reference

    @property
    def has_consent(self) -> bool:
        return self.consent_recorded_at is not None
