"""Alerts raised by the periodic rule check, and per-patient overrides of its thresholds."""
from math import isfinite

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .definitions import (
    NOTE_MAX_CHARS,
    RESOLUTION_LABELS,
    RULE_LABELS,
    STATE_ACKNOWLEDGED,
    STATE_ASSIGNED,
    STATE_LABELS,
    STATE_NEW,
    STATE_RESOLVED,
    THRESHOLD_BOUNDS,
    THRESHOLD_RULES,
)


def validate_finite(value: float) -> None:
    """NaN passes both range validators (every comparison with it is false); infinity is no threshold."""
    if not isfinite(value):
        raise ValidationError("Type a number.", code="invalid")


def _bounded(name: str) -> list:
    """The validators of a threshold, from its bounds (definitions.THRESHOLD_BOUNDS), with its rule in words."""
    low, high = THRESHOLD_BOUNDS[name]
    message = f"Type {THRESHOLD_RULES[name]}."
    return [validate_finite, MinValueValidator(low, message=message), MaxValueValidator(high, message=message)]


class AlertThresholds(models.Model):
    """Per-patient overrides. An empty field means: use the default from settings (MOODWATCH_ALERTS)."""

    patient = models.OneToOneField("patients.Patient", on_delete=models.CASCADE, related_name="alert_thresholds")
    window_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=_bounded("window_days"),
        help_text="Rolling window of the negative-mood rule, in days.",
    )
    negative_share = models.FloatField(
        null=True, blank=True, validators=_bounded("negative_share"),
        help_text="Alert when the negative share over the window is at least this (0.05-1).",
    )
    min_records = models.PositiveIntegerField(
        null=True, blank=True, validators=_bounded("min_records"),
        help_text="...and the window holds at least this many mood records.",
    )
    no_data_days = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=_bounded("no_data_days"),
        help_text="Alert when no upload has arrived for this many days.",
    )
    rule = models.CharField(
        max_length=16, blank=True, default="", choices=list(RULE_LABELS.items()),
        help_text="Which negative-mood rule applies; empty means the default from settings (ALERT_RULE).",
    )
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name_plural = "alert thresholds"

    def __str__(self) -> str:
        return f"alert thresholds for {self.patient}"


class Alert(models.Model):
    class Kind(models.TextChoices):
        NEGATIVE_MOOD = "negative_mood", "Sustained negative mood"
        NO_DATA = "no_data", "No data received"

    # Higher is more urgent: a sustained negative mood is about the patient, missing data about the phone.
    SEVERITY = {Kind.NEGATIVE_MOOD: 2, Kind.NO_DATA: 1}

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    raised_at = models.DateTimeField()
    # Refreshed by every evaluation while the condition holds.
    evaluated_at = models.DateTimeField()
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    records = models.PositiveIntegerField(null=True, blank=True)
    negative_share = models.FloatField(null=True, blank=True)
    # The rule that raised a negative-mood alert, and for the baseline rule the baseline's negative
    # share it was compared with (alerts.rules).
    rule = models.CharField(max_length=16, blank=True, default="")
    baseline_share = models.FloatField(null=True, blank=True)
    last_data_at = models.DateTimeField(null=True, blank=True)
    thresholds = models.JSONField(default=dict, help_text="The thresholds in force when the alert was raised.")
    # Set when an evaluation finds the condition no longer holds; a later breach raises a new alert.
    # This is the condition's end, not the care team's: a clinician resolves through `state`, and an
    # alert they resolved while its condition still holds stays the one open row of its kind, so the
    # next check refreshes it instead of raising (and e-mailing) a new one.
    resolved_at = models.DateTimeField(null=True, blank=True)

    # The care team's workflow (definitions.STATE_*; alerts.services.alert_acknowledge and siblings).
    class State(models.TextChoices):
        NEW = STATE_NEW, STATE_LABELS[STATE_NEW]
        ACKNOWLEDGED = STATE_ACKNOWLEDGED, STATE_LABELS[STATE_ACKNOWLEDGED]
        ASSIGNED = STATE_ASSIGNED, STATE_LABELS[STATE_ASSIGNED]
        RESOLVED = STATE_RESOLVED, STATE_LABELS[STATE_RESOLVED]

    state = models.CharField(max_length=16, choices=State.choices, default=State.NEW)
    state_changed_at = models.DateTimeField(null=True, blank=True)
    # The first acknowledgement (by acknowledging, or by assigning or resolving a new alert).
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Snoozed while this is in the future (definitions: "snoozed" is computed, never stored).
    snoozed_until = models.DateTimeField(null=True, blank=True)
    resolution = models.CharField(max_length=32, blank=True, default="", choices=list(RESOLUTION_LABELS.items()))
    # None with a resolution: the rule check resolved it.
    resolution_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The e-mail to the patient's clinicians when the alert opened (alerts.services.alert_notify).
    notified_at = models.DateTimeField(null=True, blank=True)
    notified_to = models.JSONField(default=list, blank=True, help_text="Usernames the notification was sent to.")
    notification_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            # At most one open alert per patient and kind: re-running the check never duplicates it.
            models.UniqueConstraint(
                fields=["patient", "kind"], condition=models.Q(resolved_at__isnull=True), name="one_open_alert_per_kind"
            ),
        ]
        indexes = [models.Index(fields=["patient", "raised_at"], name="alert_patient_time_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.patient} ({self.raised_at:%Y-%m-%d})"

    @property
    def is_open(self) -> bool:
        """The condition still holds (the rule check has not closed it); see `is_resolved` for the team's view."""
        return self.resolved_at is None

    @property
    def is_acknowledged(self) -> bool:
        return self.acknowledged_at is not None

    @property
    def is_resolved(self) -> bool:
        return self.state == self.State.RESOLVED

    @property
    def severity(self) -> int:
        return self.SEVERITY.get(self.kind, 0)


class AlertNote(models.Model):
    """One note in an alert's thread. Free text about the patient: it lives here, deleted with the
    alert (and so with the patient's data); the audit log records only that a note was written."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    text = models.TextField(max_length=NOTE_MAX_CHARS)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"note on alert {self.alert_id} ({self.created_at:%Y-%m-%d %H:%M})"
