"""backend.audit.services: who, what, which patient, when, through which door and from which address."""
from django.test import RequestFactory, override_settings

from backend.audit.models import SYSTEM_ACTOR, AuditAction, AuditChannel, AuditEvent
from backend.audit.services import AuditContext, audit_record, client_ip


def request_from(remote: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_an_entry_keeps_names_after_the_user_and_patient_are_deleted(clinician, patient):
    context = AuditContext.from_request(request_from("10.0.0.9"), channel=AuditChannel.DASHBOARD)
    audit_record(action=AuditAction.PATIENT_VIEW, actor=clinician, patient=patient, context=context)
    clinician.delete()
    patient.delete()
    event = AuditEvent.objects.get()
    assert (event.actor, event.actor_username, event.patient, event.patient_reference) == (
        None, "dr_house", None, "P-ALPHA"
    )
    assert (event.ip_address, event.channel) == ("10.0.0.9", AuditChannel.DASHBOARD) and event.at is not None


def test_without_an_actor_or_context_the_entry_names_the_system(patient):
    event = audit_record(action=AuditAction.CONSENT_RECORD, actor=None, patient=patient)
    assert (event.actor, event.actor_username, event.channel, event.ip_address) == (
        None, SYSTEM_ACTOR, AuditChannel.SYSTEM, None)


def test_without_trusted_proxies_a_forwarded_header_is_ignored():
    assert client_ip(request_from("203.0.113.5", forwarded="1.2.3.4")) == "203.0.113.5"


@override_settings(MOODWATCH_AUDIT={"TRUSTED_PROXY_COUNT": 1})
def test_behind_one_proxy_the_address_it_appended_is_used_not_the_spoofable_ones():
    assert client_ip(request_from("10.0.0.1", forwarded="6.6.6.6, 198.51.100.23")) == "198.51.100.23"


def test_an_unparseable_address_is_stored_as_unknown():
    assert client_ip(request_from("not-an-ip")) is None
