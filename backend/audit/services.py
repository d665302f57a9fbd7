"""Writes to the audit log. Nothing here updates or deletes an entry.

Every domain service that reads or changes a patient's data calls `audit_record` itself, so each
door (dashboard, clinician API, admin, management command) leaves the same row. A door describes
itself with an `AuditContext`: which channel, and for web requests the client's address.
"""
import ipaddress
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model
from django.http import HttpRequest

from .models import SYSTEM_ACTOR, AuditAction, AuditChannel, AuditEvent


@dataclass(frozen=True)
class AuditContext:
    """Where an action came from."""

    channel: AuditChannel = AuditChannel.SYSTEM
    ip_address: str | None = None

    @classmethod
    def from_request(cls, request: HttpRequest, *, channel: AuditChannel) -> "AuditContext":
        return cls(channel=channel, ip_address=client_ip(request))


SYSTEM = AuditContext()
COMMAND = AuditContext(channel=AuditChannel.COMMAND)


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
    patient: Model | None = None,  # a patients.Patient: audit sits below patients, imports none
    context: AuditContext | None = None,
    detail: dict | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> AuditEvent:
    """One audit row. An actor that is None (or anonymous) is recorded as the system. `using` names
    another database connection: a restore records itself in the database it restored."""
    context = context or SYSTEM
    authenticated = actor is not None and actor.is_authenticated
    return AuditEvent.objects.using(using).create(
        action=action,
        channel=context.channel,
        actor=actor if authenticated else None,
        actor_username=actor.get_username() if authenticated else SYSTEM_ACTOR,
        patient=patient,
        patient_reference=patient.reference if patient is not None else "",
        ip_address=context.ip_address,
        detail=detail or {},
    )


def patient_data_read_record(
    *,
    action: AuditAction,
    actor: AbstractBaseUser,
    patient: Model,
    start,
    end,
    bucket: str | None = None,
    context: AuditContext | None = None,
    **extra,
) -> AuditEvent:
    """A read of a patient's mood data (page, API, export): one row a request, with the range read."""
    detail = {"start": start.isoformat(), "end": end.isoformat(), **({"bucket": bucket} if bucket else {}), **extra}
    return audit_record(action=action, actor=actor, patient=patient, context=context, detail=detail)


def patient_list_read_record(
    *, actor: AbstractBaseUser, patients: int, query: str = "", context: AuditContext | None = None
) -> AuditEvent:
    """A listing of the actor's patients with their mood figures (dashboard list, API list)."""
    detail = {"patients": patients, **({"query": query} if query else {})}
    return audit_record(action=AuditAction.PATIENT_LIST, actor=actor, context=context, detail=detail)


def alert_inbox_read_record(
    *, actor: AbstractBaseUser, alerts: int, patients: int, context: AuditContext | None = None
) -> AuditEvent:
    """A listing of the open alerts of the actor's patients (the dashboard's alerts inbox)."""
    return audit_record(action=AuditAction.ALERT_INBOX, actor=actor, context=context,
                        detail={"alerts": alerts, "patients": patients})


def patient_page_view_record(
    *, actor: AbstractBaseUser, patient: Model, page: str, context: AuditContext | None = None
) -> AuditEvent:
    """A view of one of a patient's pages that shows no mood records (devices, consent, deletion)."""
    return audit_record(action=AuditAction.PATIENT_VIEW, actor=actor, patient=patient, context=context,
                        detail={"page": page})
