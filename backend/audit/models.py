"""The audit log: who did what to which patient's data, when, and from where. Append-only."""
from django.conf import settings
from django.db import models


class AuditAction(models.TextChoices):
    PATIENT_VIEW = "patient.view", "viewed patient page"
    PATIENT_CREATE = "patient.create", "created patient"
    PATIENT_DEACTIVATE = "patient.deactivate", "deactivated patient"
    PATIENT_REACTIVATE = "patient.reactivate", "reactivated patient"
    CONSENT_RECORD = "consent.record", "recorded consent"
    CONSENT_WITHDRAW = "consent.withdraw", "withdrew consent"
    EXPORT_RECORDS_CSV = "export.records_csv", "exported records (CSV)"
    EXPORT_SUMMARY_CSV = "export.summary_csv", "exported summary (CSV)"
    EXPORT_FHIR = "export.fhir", "exported summary (FHIR)"
    ALERT_ACKNOWLEDGE = "alert.acknowledge", "acknowledged alert"
    ALERT_THRESHOLDS_CHANGE = "alert.thresholds", "changed alert thresholds"
    ENROLLMENT_CODE_ISSUE = "device.enrollment_code", "issued enrollment code"
    DEVICE_REVOKE = "device.revoke", "revoked device"
    DATA_DELETE = "data.delete", "deleted patient data"


class AuditEvent(models.Model):
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Copied so the entry still names the person after the account is deleted.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Copied for the same reason: the trail outlives a deleted patient row.
    patient_reference = models.CharField(max_length=64, blank=True, db_index=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["patient", "at"], name="audit_patient_time_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action} {self.patient_reference}"
