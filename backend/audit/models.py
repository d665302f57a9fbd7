"""The audit log: who did what to which patient's data, when, through which door, and from where.
Append-only: the services add rows; on PostgreSQL a trigger refuses any UPDATE or DELETE of a row
(migration 0003), so not even the admin or a bug can rewrite the trail."""
from django.conf import settings
from django.db import models

# Names the actor of rows written without a person: a management command run without --actor,
# or a device.
SYSTEM_ACTOR = "system"


class AuditAction(models.TextChoices):
    PATIENT_LIST = "patient.list", "listed patients"
    PATIENT_VIEW = "patient.view", "viewed patient page"
    PATIENT_CREATE = "patient.create", "created patient"
    PATIENT_UPDATE = "patient.update", "changed patient"
    PATIENT_DEACTIVATE = "patient.deactivate", "deactivated patient"
    PATIENT_REACTIVATE = "patient.reactivate", "reactivated patient"
    CONSENT_RECORD = "consent.record", "recorded consent"
    CONSENT_WITHDRAW = "consent.withdraw", "withdrew consent"
    RECORDS_READ = "records.read", "read mood records"
    SUMMARY_READ = "summary.read", "read mood summary"
    EXPORT_RECORDS_CSV = "export.records_csv", "exported records (CSV)"
    EXPORT_SUMMARY_CSV = "export.summary_csv", "exported summary (CSV)"
    EXPORT_FHIR = "export.fhir", "exported summary (FHIR)"
    ALERT_ACKNOWLEDGE = "alert.acknowledge", "acknowledged alert"
    ALERT_ASSIGN = "alert.assign", "assigned alert"
    ALERT_SNOOZE = "alert.snooze", "snoozed alert"
    ALERT_RESOLVE = "alert.resolve", "resolved alert"
    ALERT_NOTE = "alert.note", "added a note to an alert"
    ALERT_THRESHOLDS_CHANGE = "alert.thresholds", "changed alert thresholds"
    ALERT_NOTIFY = "alert.notify", "e-mailed an alert to the care team"
    ALERT_INBOX = "alert.inbox", "listed open alerts"
    ENROLLMENT_CODE_ISSUE = "device.enrollment_code", "issued enrollment code"
    DEVICE_ENROLL = "device.enroll", "enrolled device"
    DEVICE_REVOKE = "device.revoke", "revoked device"
    DATA_DELETE = "data.delete", "deleted patient data"
    ADMIN_VIEW = "admin.view", "viewed patient data in the admin"
    OTP_ENROL = "auth.otp_enrol", "enrolled an authenticator app"
    OTP_FAILURE = "auth.otp_failure", "gave a wrong second-factor code"
    OTP_RESET = "auth.otp_reset", "reset a user's second factor"
    DB_BACKUP = "db.backup", "backed up the database"
    DB_RESTORE = "db.restore", "restored the database from a backup"
    CLINICIAN_TIMEZONE = "clinician.timezone", "changed own time zone"


class AuditChannel(models.TextChoices):
    """The door an action came through."""

    DASHBOARD = "dashboard", "dashboard"
    API = "api", "clinician API"
    DEVICE = "device", "device API"
    ADMIN = "admin", "admin"
    COMMAND = "command", "management command"
    SYSTEM = "system", "system"


class AuditEvent(models.Model):
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Copied so the entry still names the person after the account is deleted.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices)
    channel = models.CharField(max_length=16, choices=AuditChannel.choices, default=AuditChannel.SYSTEM)
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
