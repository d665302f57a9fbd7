"""The alerts inbox (filtered by state and assignee), and the care team's steps on an alert:
acknowledge, assign, snooze, resolve, add a note. Each step is a POST form (CSRF, no script) that
calls one service and returns to the page it came from. A refused step re-renders that page (the
inbox or the patient page) with the message inline, the step's form open and what was typed kept."""
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from http import HTTPStatus
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from backend.alerts.definitions import CLINICIAN_RESOLUTIONS, NOTE_MAX_CHARS, SNOOZE_MAX_DAYS
from backend.alerts.models import Alert
from backend.alerts.selectors import alert_get_for_patient, alert_inbox_assignees, alert_inbox_for
from backend.alerts.services import alert_acknowledge, alert_assign, alert_note_add, alert_resolve, alert_snooze
from backend.audit.services import alert_inbox_read_record
from backend.core.errors import ApplicationError

from ..access import audit_context, patient_for_request
from ..forms import AcknowledgeForm, AlertNoteForm, AssignForm, InboxFilterForm, ResolveForm, SnoozeForm
from .errors import InvalidQuery

INBOX_LIMIT = 500  # more open alerts than this is a configuration problem, not a reading list
LARGEST_ID = 2**63 - 1  # a bigint: a longer id in the path names no alert (and must not reach the database)
SNOOZE_DEFAULT = timedelta(hours=4)
LOCAL_MINUTE = "%Y-%m-%dT%H:%M"  # an <input type="datetime-local"> value
# The pages that show alert forms, so can show a refused step inline; any other `next` gets the 4xx page.
INLINE_REFUSAL_PAGES = frozenset({"dashboard:alert-inbox", "dashboard:patient-detail"})


@dataclass(frozen=True)
class AlertRefusal:
    """A refused step, for the page re-rendered around it: which alert and form, why, what was typed."""
    alert_id: int
    step: str  # the form's name: acknowledge, assign, snooze, resolve, note
    problems: list[str]
    data: dict[str, str] = field(default_factory=dict)


def alert_workflow_context(*, now: datetime, zone_name: str = "") -> dict:
    """What the alert forms need: the zone their snooze time is read in (the page's zone, named
    beside the field), a default and the bounds of that time, the reasons, the note's length."""
    zone_name = zone_name or timezone.get_current_timezone_name()
    zone = ZoneInfo(zone_name)
    return {
        "snooze_tz": zone_name,
        "snooze_default": (now + SNOOZE_DEFAULT).astimezone(zone).strftime(LOCAL_MINUTE),
        "snooze_min": now.astimezone(zone).strftime(LOCAL_MINUTE),
        "snooze_max": (now + timedelta(days=SNOOZE_MAX_DAYS)).astimezone(zone).strftime(LOCAL_MINUTE),
        "resolutions": CLINICIAN_RESOLUTIONS, "note_max": NOTE_MAX_CHARS,
    }


@login_required
@require_GET
def alert_inbox(request):
    form = InboxFilterForm(request.GET, assignees=list(
        alert_inbox_assignees(user=request.user).values_list("username", flat=True)))
    if not form.is_valid():
        raise InvalidQuery(form)
    filters = form.filters()
    now = timezone.now()
    alerts = list(alert_inbox_for(user=request.user, now=now, filters=filters)[:INBOX_LIMIT])
    alert_inbox_read_record(actor=request.user, alerts=len(alerts), patients=len({a.patient_id for a in alerts}),
                            context=audit_context(request))
    return render(request, "dashboard/alert_inbox.html", {
        "alerts": alerts, "attention": sum(1 for a in alerts if a.status == Alert.State.NEW),
        "limited": len(alerts) == INBOX_LIMIT, "filter_form": form, "filters": filters,
        **alert_workflow_context(now=now),
    })


def _alert_step(request: HttpRequest, patient_id, alert_id: int, form_class: type[forms.Form],
                step: Callable[..., object], done: str) -> HttpResponse:
    patient = patient_for_request(request, patient_id)
    if alert_id > LARGEST_ID:
        raise Http404("No such alert.")
    try:
        alert = alert_get_for_patient(patient=patient, alert_id=alert_id)
    except Alert.DoesNotExist:
        raise Http404("No such alert.")
    form = form_class(request.POST)
    refusal = partial(AlertRefusal, alert_id=alert.pk, step=request.resolver_match.url_name.removeprefix("alert-"),
                      data={name: request.POST.get(name, "") for name in form_class.base_fields})
    if not form.is_valid():
        return _refused(request, patient, refusal(problems=[str(m) for errors in form.errors.values() for m in errors]),
                        400)
    try:
        step(alert=alert, actor=request.user, context=audit_context(request), **form.cleaned_data)
    except ApplicationError as error:
        return _refused(request, patient, refusal(problems=[error.detail]), error.status_code)
    messages.success(request, done)
    return redirect(_safe_next(request, patient))


def _refused(request, patient, refusal: AlertRefusal, status: int) -> HttpResponse:
    """The page the clinician came from, answered with the refusal's status: the page's own view runs as
    a GET of that address, and its alert item (_alert_item.html) reads `request.alert_refusal`."""
    back = _safe_next(request, patient)
    address = urlsplit(back)
    try:
        match = resolve(address.path)
    except Resolver404:
        match = None
    if match is None or match.view_name not in INLINE_REFUSAL_PAGES:
        return render(request, "dashboard/alert_refused.html",
                      {"problems": refusal.problems, "back": back}, status=status)
    request.method, request.GET = "GET", QueryDict(address.query)
    if status == HTTPStatus.CONFLICT:
        # The alert changed meanwhile (resolved, acknowledged): its item may have left the page or lost
        # the form, so the message goes at the top, above the alert's current state.
        messages.error(request, "The alert was not changed: " + " ".join(refusal.problems))
    else:
        request.alert_refusal = refusal
    response = match.func(request, *match.args, **match.kwargs)
    response.status_code = status
    return response


def _snooze(*, alert, actor, context, until, note, tz):
    return alert_snooze(alert=alert, actor=actor, context=context, until=until, note=note)


def _note(*, alert, actor, context, text):
    return alert_note_add(alert=alert, actor=actor, context=context, text=text)


@login_required
@require_POST
def alert_ack(request, patient_id, alert_id):
    return _alert_step(request, patient_id, alert_id, AcknowledgeForm, alert_acknowledge, "Alert acknowledged.")


@login_required
@require_POST
def alert_assign_view(request, patient_id, alert_id):
    return _alert_step(request, patient_id, alert_id, AssignForm, alert_assign, "Alert assigned.")


@login_required
@require_POST
def alert_snooze_view(request, patient_id, alert_id):
    return _alert_step(request, patient_id, alert_id, SnoozeForm, _snooze, "Alert snoozed.")


@login_required
@require_POST
def alert_resolve_view(request, patient_id, alert_id):
    return _alert_step(request, patient_id, alert_id, ResolveForm, alert_resolve, "Alert resolved.")


@login_required
@require_POST
def alert_note_view(request, patient_id, alert_id):
    return _alert_step(request, patient_id, alert_id, AlertNoteForm, _note, "Note added.")


def _safe_next(request, patient) -> str:
    """Back to the page the form was on (same site only), else the patient page."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("dashboard:patient-detail", kwargs={"patient_id": patient.pk})
