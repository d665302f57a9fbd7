"""The second factor: an authenticator app (django-otp's TOTPDevice) and one-time recovery codes
(its StaticDevice). Enrol, verify, reset. Each refusal and each reset writes an audit row.

Who must give it: every account when MOODWATCH_REQUIRE_2FA is on (production), and any account
that enrolled an authenticator app anyway. Guessing is bounded by django-otp's throttling: after
n wrong codes in a row a device refuses every code, the right one included, for 2^(n-1) seconds.
"""
import logging
import re
from base64 import b32encode
from datetime import datetime

import django_otp
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.audit.models import AuditAction
from backend.audit.services import AuditContext, audit_record
from backend.core.errors import ApplicationError

logger = logging.getLogger(__name__)

TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
TOTP_CODE = re.compile(r"^[0-9]{6}$")
# Recovery codes as django-otp makes them: 8 base32 characters (40 random bits). People may type
# them in capitals or with spaces and dashes.
RECOVERY_CODE = re.compile(r"^[a-z2-7]{8}$")


def second_factor_required(*, user: AbstractBaseUser) -> bool:
    """Must this account give a second factor before reaching anything behind the login?"""
    if not user.is_authenticated:
        return False
    return settings.MOODWATCH_REQUIRE_2FA or totp_device_confirmed(user=user) is not None


def totp_device_confirmed(*, user: AbstractBaseUser) -> TOTPDevice | None:
    return TOTPDevice.objects.devices_for_user(user, confirmed=True).first()


def totp_secret_text(*, device: TOTPDevice) -> str:
    """The secret as authenticator apps take it when typed: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


@transaction.atomic
def totp_enrolment_start(*, user: AbstractBaseUser) -> TOTPDevice:
    """The unconfirmed device whose secret the enrolment page shows. The same one until it is
    confirmed, so a reload does not invalidate what the user already scanned. Refused once the user
    has a confirmed device: replacing it needs an admin's reset (otherwise a stolen password alone
    would let someone enrol their own phone)."""
    if totp_device_confirmed(user=user) is not None:
        raise ApplicationError("An authenticator app is already set up for this account.",
                               code="otp_already_enrolled", status_code=409)
    device = TOTPDevice.objects.devices_for_user(user, confirmed=False).order_by("id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def totp_enrolment_confirm(
    *, user: AbstractBaseUser, code: str, context: AuditContext | None = None
) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending device with a code from the app. Returns the device and the recovery
    codes, which are shown once. Any earlier recovery codes stop working."""
    device = totp_enrolment_start(user=user)
    _verify(user=user, device=device, code=code, kind="totp", context=context)
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_replace(user=user)
        audit_record(action=AuditAction.OTP_ENROL, actor=user, context=context,
                     detail={"user": user.get_username(), "recovery_codes": len(codes)})
    return device, codes


def _recovery_codes_replace(*, user: AbstractBaseUser) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.MOODWATCH_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def second_factor_verify(*, user: AbstractBaseUser, code: str, context: AuditContext | None = None) -> Device:
    """The device that accepts `code`: six digits go to the authenticator app, anything else to the
    recovery codes (each works once). Each kind is throttled on its own, so a wrong code of one
    kind never delays the other. Raises otp_invalid (401), otp_throttled (429) or
    otp_enrolment_required (403, no authenticator app yet)."""
    totp = totp_device_confirmed(user=user)
    if totp is None:
        raise ApplicationError("Set up an authenticator app first (log in on the dashboard).",
                               code="otp_enrolment_required", status_code=403)
    code = (code or "").strip()
    if TOTP_CODE.match(code):
        return _verify(user=user, device=totp, code=code, kind="totp", context=context)
    recovery = re.sub(r"[\s-]", "", code).lower()
    device = StaticDevice.objects.devices_for_user(user, confirmed=True).first()
    if device is None or not RECOVERY_CODE.match(recovery):
        # Malformed input is a wrong code too, but it cannot match anything: count it on no device.
        _failure_record(user=user, kind="recovery" if device is not None else "totp", reason="malformed",
                        context=context)
        raise ApplicationError("That code is not right.", code="otp_invalid", status_code=401)
    return _verify(user=user, device=device, code=recovery, kind="recovery", context=context)


def _verify(*, user, device: Device, code: str, kind: str, context: AuditContext | None) -> Device:
    allowed, why = device.verify_is_allowed()
    if not allowed:
        _throttled(why)
    # django_otp.verify_token locks the device row (SELECT ... FOR UPDATE), so concurrent guesses
    # are counted one after another and a TOTP code or recovery code is accepted only once.
    verified = django_otp.verify_token(user, device.persistent_id, code)
    if verified is not None:
        return verified
    device.refresh_from_db()
    _failure_record(user=user, kind=kind, reason="invalid", context=context,
                    failures=device.throttling_failure_count)
    raise ApplicationError("That code is not right.", code="otp_invalid", status_code=401)


def _throttled(why: dict | None) -> None:
    until: datetime | None = (why or {}).get("locked_until")
    seconds = max(1, int((until - timezone.now()).total_seconds()) + 1) if until else 1
    # Not audited (each refusal would be a row at the attacker's request rate); logged instead.
    logger.warning("second-factor code refused: device throttled for %ss", seconds)
    error = ApplicationError(f"Too many wrong codes. Try again in {seconds} seconds.", code="otp_throttled",
                             status_code=429)
    error.retry_after = seconds
    raise error


def _failure_record(*, user, kind: str, reason: str, context: AuditContext | None, failures: int | None = None):
    detail = {"user": user.get_username(), "device": kind, "reason": reason}
    if failures is not None:
        detail["failures_in_a_row"] = failures
    audit_record(action=AuditAction.OTP_FAILURE, actor=user, context=context, detail=detail)


@transaction.atomic
def second_factor_reset(
    *, user: AbstractBaseUser, actor: AbstractBaseUser | None, context: AuditContext | None = None
) -> dict:
    """Remove the user's authenticator apps and recovery codes (an admin's act, for a lost phone):
    they set up a new app at their next login. Their sessions are not ended here; the admin should
    also change the password if it may be known to someone else."""
    totp_deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    static_devices = StaticDevice.objects.filter(user=user)
    static_count = static_devices.count()
    static_devices.delete()
    detail = {"user": user.get_username(), "totp_devices": totp_deleted, "recovery_devices": static_count}
    audit_record(action=AuditAction.OTP_RESET, actor=actor, context=context, detail=detail)
    return detail
