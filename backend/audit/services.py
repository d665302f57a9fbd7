"""Writes to the audit log. Nothing here updates or deletes an entry."""
import ipaddress

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest

from backend.patients.models import Patient

from .models import AuditAction, AuditEvent


def client_ip(request: HttpRequest) -> str | None:
    """The client's address. Behind N trusted proxies, the Nth X-Forwarded-For entry from the right.

    Only entries appended by our own proxies can be trusted; anything further left is client-supplied.
    """
    proxies = settings.MOODWATCH_AUDIT["TRUSTED_PROXY_COUNT"]
    candidate = request.META.get("REMOTE_ADDR", "")
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def audit_record(
    *,
    action: AuditAction,
    actor: AbstractBaseUser | None,
    patient: Patient | None = None,
    request: HttpRequest | None = None,
    detail: dict | None = None,
) -> AuditEvent:
    authenticated = actor is not None and actor.is_authenticated
    return AuditEvent.objects.create(
        action=action,
        actor=actor if authenticated else None,
        actor_username=actor.get_username() if authenticated else "",
        patient=patient,
        patient_reference=patient.reference if patient is not None else "",
        ip_address=client_ip(request) if request is not None else None,
        detail=detail or {},
    )
