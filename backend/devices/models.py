"""Patient devices and the one-time enrollment codes that pair them."""
import uuid

from django.conf import settings
from django.db import models


class Device(models.Model):
    """A phone that uploads frames for one patient.

    The bearer token is `<lookup_id>.<secret>`. Only the public lookup id and a SHA-256 digest of
    the whole token are stored; authentication finds the row by lookup id and compares digests in
    constant time. The secret has 256 bits of entropy, so a plain (unsalted, fast) hash is enough.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="devices")
    label = models.CharField(max_length=120, blank=True)
    token_lookup_id = models.CharField(max_length=16, unique=True, editable=False)
    token_digest = models.CharField(max_length=64, editable=False)
    enrolled_at = models.DateTimeField(auto_now_add=True)
    last_seen = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-enrolled_at"]

    def __str__(self) -> str:
        # Never token material (not even the lookup id, which is half of the bearer token): the
        # admin, logs and audit details show this string.
        return f"{self.label or 'device'} ({str(self.id)[:8]})"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class EnrollmentCode(models.Model):
    """A one-time code, short enough to type, that enrolls one device for one patient.

    Stored as an HMAC-SHA-256 keyed with SECRET_KEY: a leaked table alone cannot be brute-forced
    back into the (low-entropy, typeable) codes.
    """

    patient = models.ForeignKey("patients.Patient", on_delete=models.CASCADE, related_name="enrollment_codes")
    code_digest = models.CharField(max_length=64, unique=True, editable=False)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    issued_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # Set when a newer code is issued for the patient: one code is valid at a time.
    cancelled_at = models.DateTimeField(null=True, blank=True)
    device = models.OneToOneField(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="enrollment_code"
    )

    class Meta:
        ordering = ["-issued_at"]

    def __str__(self) -> str:
        return f"code for {self.patient} issued {self.issued_at:%Y-%m-%d}"
