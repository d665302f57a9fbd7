"""The alert rule and its periodic evaluation, and the care team's workflow on an alert
(acknowledge, assign, snooze, resolve, notes).

Rule (thresholds per patient, defaults in settings.MOODWATCH_ALERTS):
- negative mood, by the patient's rule (alerts.selectors.alert_rule_for):
  - "baseline" (the default): the last `window_days` local days hold at least `min_records` records
    and their negative share is significantly and materially above the patient's own baseline
    (alerts.rules, on the roll-ups' per-day counts); no alert while the baseline is building;
  - "absolute": over the last `window_days`, at least `min_records` records and a negative share
    of at least `negative_share`;
- no data: no upload (frame batch) received for `no_data_days` (counted from consent, a phone's
  enrollment or a deletion of the data when later than the last upload); never for a patient with
  no active phone (never enrolled or revoked), nor for one deactivated or without consent (not
  evaluated).
One open alert per patient and kind (a unique constraint): while the condition holds the alert is
refreshed; when it stops holding the alert is resolved, and a later breach raises a new one.

When: after a batch lands (`alerts_after_landing`, debounced per patient) and on a schedule (beat
in the full stack, backend.core.scheduler in the embedded default); both call
`alerts_evaluate_patient`. A newly raised alert is e-mailed to the patient's clinicians
(`alert_notify`, a task: e-mail leaves the machine, so it runs after the commit and is retried).
"""
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.cache import cache
from django.core.mail import send_mass_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from backend.audit.models import AuditAction
from backend.audit.services import SYSTEM, AuditContext, audit_record
from backend.core import metrics
from backend.core.errors import ApplicationError
from backend.core.site import site_url
from backend.core.tasks import task_named
from backend.devices.selectors import device_counts_by_patient
from backend.ingest.models import FrameBatch
from backend.moods.models import Mood
from backend.moods.selectors import mood_record_list
from backend.patients.models import Patient
from backend.patients.selectors import patient_last_event_at, patient_list_visible_to
from backend.patients.services import patient_lock

from .definitions import (
    BASELINE_DAYS,
    CLINICIAN_RESOLUTIONS,
    GUARD_DAYS,
    NOTE_MAX_CHARS,
    RESOLUTION_CONDITION_CLEARED,
    RESOLUTION_MONITORING_STOPPED,
    RESOLUTION_OTHER,
    RULE_ABSOLUTE,
    RULE_BASELINE,
    SNOOZE_MAX_DAYS,
    THRESHOLD_NAMES,
    Thresholds,
)
from .models import Alert, AlertNote, AlertThresholds
from .rules import absolute_breached, windows_at
from .selectors import alert_rule_for, alert_thresholds_for, baseline_deviation_for

logger = logging.getLogger(__name__)

# Tasks this module enqueues, by name (tasks.py declares them with these names; see core.tasks).
NOTIFY_ALERT_TASK = "backend.alerts.tasks.notify_alert"
EVALUATE_PATIENT_ALERTS_TASK = "backend.alerts.tasks.evaluate_patient_alerts"


@dataclass(frozen=True)
class Finding:
    kind: str
    breached: bool
    values: dict


def negative_mood_check(*, patient: Patient, thresholds: Thresholds, now: datetime) -> Finding:
    if alert_rule_for(patient=patient) == RULE_BASELINE:
        return baseline_mood_check(patient=patient, thresholds=thresholds, now=now)
    start = now - timedelta(days=thresholds.window_days)
    counts = mood_record_list(patient=patient, start=start, end=now).order_by().aggregate(
        records=Count("id"), negative=Count("id", filter=Q(mood=Mood.NEGATIVE))
    )
    records = counts["records"]
    share = counts["negative"] / records if records else 0.0
    breached = absolute_breached(records=records, negative=counts["negative"],
                                 negative_share=thresholds.negative_share, min_records=thresholds.min_records)
    return Finding(
        kind=Alert.Kind.NEGATIVE_MOOD,
        breached=breached,
        values={"window_start": start, "window_end": now, "records": records, "negative_share": share,
                "rule": RULE_ABSOLUTE, "baseline_share": None},
    )


def baseline_mood_check(*, patient: Patient, thresholds: Thresholds, now: datetime) -> Finding:
    """The baseline rule (alerts.rules) on the local days of the patient's zone; an open alert is
    kept by the rule's lower thresholds (hysteresis)."""
    is_open = Alert.objects.filter(patient=patient, kind=Alert.Kind.NEGATIVE_MOOD, resolved_at__isnull=True).exists()
    deviation = baseline_deviation_for(patient=patient, now=now, alert_open=is_open)
    tz = ZoneInfo(patient.timezone)
    start = windows_at(now=now, tz=tz, window_days=thresholds.window_days).recent_start(tz)
    return Finding(
        kind=Alert.Kind.NEGATIVE_MOOD,
        breached=deviation.breached,
        values={"window_start": start, "window_end": now, "records": deviation.recent_records,
                "negative_share": deviation.recent_share, "rule": RULE_BASELINE,
                "baseline_share": deviation.baseline.share},
    )


def no_data_check(*, patient: Patient, thresholds: Thresholds, now: datetime) -> Finding:
    """Nothing uploaded for `no_data_days`, counted from the latest of: the last upload, consent, the
    enrollment of a phone still active, and the last deletion of the patient's data on request (which
    removed the uploads before it). A patient with no active phone (never enrolled, or revoked)
    cannot upload: silence is expected there, so it raises nothing (the dashboard says why)."""
    last_upload = FrameBatch.objects.filter(patient=patient).aggregate(last=Max("received_at"))["last"]
    devices = device_counts_by_patient(patient_ids=[patient.pk]).get(patient.pk)
    if not devices or not devices["active"]:
        return Finding(kind=Alert.Kind.NO_DATA, breached=False, values={"last_data_at": last_upload})
    deleted = patient_last_event_at(patient_ids=[patient.pk], action=AuditAction.DATA_DELETE).get(patient.pk)
    # as of `now`: an event after it (an evaluation replayed for an earlier moment) does not count
    starts = [t for t in (last_upload, patient.consent_recorded_at, devices["last_enrolled_at"], deleted)
              if t and t <= now]
    since = max(starts, default=None)
    breached = since is not None and now - since >= timedelta(days=thresholds.no_data_days)
    return Finding(kind=Alert.Kind.NO_DATA, breached=breached, values={"last_data_at": last_upload})


def _alert_raise_or_refresh(*, patient: Patient, finding: Finding, thresholds: Thresholds, now: datetime) -> bool:
    """Returns True when a new alert was raised."""
    updated = Alert.objects.filter(patient=patient, kind=finding.kind, resolved_at__isnull=True).update(
        evaluated_at=now, **finding.values
    )
    if updated:
        return False
    try:
        with transaction.atomic():
            alert = Alert.objects.create(
                patient=patient, kind=finding.kind, raised_at=now, evaluated_at=now,
                thresholds=thresholds.as_dict(), **finding.values,
            )
    except IntegrityError:
        return False  # a concurrent evaluation raised it first
    _notify_on_commit(alert_pk=alert.pk)
    kind, alert_pk = finding.kind, alert.pk

    def counted() -> None:
        metrics.alert_raised(rule=kind)
        logger.info("alert %s raised: %s", alert_pk, kind, extra={"alert": alert_pk, "rule": kind})

    transaction.on_commit(counted, robust=True)
    return True


def _notify_on_commit(*, alert_pk: int) -> None:
    # robust: a broker outage must not undo the alert; the periodic evaluation retries unsent ones.
    transaction.on_commit(lambda: task_named(NOTIFY_ALERT_TASK).delay(alert_pk), robust=True)


@transaction.atomic
def alerts_evaluate_patient(*, patient: Patient, now: datetime | None = None) -> list[str]:
    """Evaluate both rules for one patient; returns the kinds newly raised.

    The patient is locked first (patients.services.patient_lock): an alert computed from records
    that a concurrent deletion removes would outlive them. After a deletion the rules see no data."""
    if not patient_lock(patient_id=patient.pk):
        return []
    now = now or timezone.now()
    thresholds = alert_thresholds_for(patient=patient)
    raised = []
    for check in (negative_mood_check, no_data_check):
        finding = check(patient=patient, thresholds=thresholds, now=now)
        if finding.breached:
            if _alert_raise_or_refresh(patient=patient, finding=finding, thresholds=thresholds, now=now):
                raised.append(finding.kind)
        else:
            _alerts_close(alerts=Alert.objects.filter(patient=patient, kind=finding.kind), now=now,
                          resolution=RESOLUTION_CONDITION_CLEARED, evaluated_at=now)
    return raised


@dataclass(frozen=True)
class EvaluationReport:
    patients: int
    raised: int


def alerts_evaluate(*, now: datetime | None = None) -> EvaluationReport:
    """Evaluate every active patient who consented to monitoring; patients without consent send no data."""
    now = now or timezone.now()
    patients = Patient.objects.filter(is_active=True, consent_recorded_at__isnull=False)
    raised = 0
    count = 0
    for patient in patients.iterator():
        raised += len(alerts_evaluate_patient(patient=patient, now=now))
        count += 1
    # Alerts of patients no longer monitored are closed, so they stop showing as needing attention.
    unmonitored = Alert.objects.filter(Q(patient__is_active=False) | Q(patient__consent_recorded_at__isnull=True))
    _alerts_close(alerts=unmonitored, now=now, resolution=RESOLUTION_MONITORING_STOPPED)
    logger.info("alerts evaluated for %d patients, %d raised", count, raised)
    _notifications_retry(now=now)
    return EvaluationReport(patients=count, raised=raised)


def alerts_after_landing(*, patient_pk) -> None:
    """A batch of this patient's records just committed: evaluate their rules once the debounce
    period has passed. Every landing is followed by an evaluation that starts after it: a landing
    that finds the debounce key set is covered by the evaluation that key scheduled, which runs
    after the key expires."""
    evaluate_patient_alerts = task_named(EVALUATE_PATIENT_ALERTS_TASK)
    debounce = settings.MOODWATCH_ALERTS["LANDING_DEBOUNCE_SECONDS"]
    landed_at = time.time()  # the evaluation lag (moodwatch_alert_evaluation_lag_seconds) starts here
    if debounce <= 0:
        evaluate_patient_alerts.delay(str(patient_pk), landed_at)
        return
    if cache.add(f"alerts-landing:{patient_pk}", 1, timeout=max(1, debounce - 1)):
        evaluate_patient_alerts.apply_async(args=[str(patient_pk), landed_at], countdown=debounce)


def alerts_evaluate_monitored(*, patient_pk, now: datetime | None = None, landed_at: float | None = None) -> list[str]:
    """alerts_evaluate_patient for a patient still monitored (active, consented); others are skipped.
    `landed_at` (epoch seconds): when the landing that asked for this evaluation committed."""
    patient = Patient.objects.filter(pk=patient_pk, is_active=True, consent_recorded_at__isnull=False).first()
    if patient is None:
        return []
    raised = alerts_evaluate_patient(patient=patient, now=now)
    if landed_at is not None:
        metrics.alert_evaluated(lag_seconds=time.time() - landed_at)
    return raised


# --- notification ------------------------------------------------------------------------------------

# The task that e-mails a new alert retries by itself for a few minutes; only alerts older than
# this are picked up again by the periodic evaluation, so the two never send the same alert at once.
NOTIFY_RETRY_AFTER = timedelta(minutes=10)


def _notifications_retry(*, now: datetime) -> None:
    """Open alerts whose e-mail was never sent (broker down, mail server down) get another try."""
    notify_alert = task_named(NOTIFY_ALERT_TASK)
    pending = Alert.objects.filter(
        resolved_at__isnull=True, notified_at__isnull=True, raised_at__lt=now - NOTIFY_RETRY_AFTER,
        notification_attempts__lt=settings.MOODWATCH_ALERTS["NOTIFY_MAX_ATTEMPTS"],
    ).values_list("pk", flat=True)
    for pk in pending:
        notify_alert.delay(pk)


def _alert_email(alert: Alert) -> tuple[str, str]:
    """Subject and body. No patient name anywhere (e-mail is not a secure channel); the reference
    and a link to the inbox are enough for a clinician to find the patient after logging in."""
    url = site_url() + reverse("dashboard:alert-inbox")  # a path only where no address is configured
    subject = f"MoodWatch: new alert ({alert.get_kind_display().lower()})"
    lines = [
        f"A new alert was raised at {alert.raised_at:%Y-%m-%d %H:%M} UTC "
        f"for patient reference {alert.patient.reference}.",
        f"Kind: {alert.get_kind_display()}.",
    ]
    if alert.kind == Alert.Kind.NEGATIVE_MOOD and alert.negative_share is not None:
        lines.append(f"Negative share {alert.negative_share:.0%} of {alert.records} records over the last "
                     f"{alert.thresholds.get('window_days', '?')} days.")
        if alert.baseline_share is not None:
            lines.append(f"The patient's own baseline ({BASELINE_DAYS} days, ending {GUARD_DAYS} days before) is "
                         f"{alert.baseline_share:.0%}.")
    lines += ["", f"Review and acknowledge it in MoodWatch: {url}",
              "", "A facial expression is not a diagnosis. This message was sent automatically."]
    return subject, "\n".join(lines)


def alert_notify(*, alert_pk: int) -> bool:
    """E-mail a newly raised alert to the patient's active clinicians, and record it on the alert.

    Claimed with a conditional UPDATE (one attempt counted per try, at most NOTIFY_MAX_ATTEMPTS);
    the e-mail is sent outside any transaction. Returns True when this call sent or settled it.
    A crash between sending and recording can send one e-mail twice, never lose it.
    """
    limit = settings.MOODWATCH_ALERTS["NOTIFY_MAX_ATTEMPTS"]
    claimed = Alert.objects.filter(
        pk=alert_pk, notified_at__isnull=True, resolved_at__isnull=True, notification_attempts__lt=limit,
    ).update(notification_attempts=F("notification_attempts") + 1)
    if not claimed:
        return False
    alert = Alert.objects.select_related("patient").get(pk=alert_pk)
    clinicians = list(alert.patient.clinicians.filter(is_active=True).exclude(email="").order_by("username"))
    if clinicians:
        subject, body = _alert_email(alert)
        # One message each: clinicians do not see each other's addresses, and nobody replies to all.
        send_mass_mail([(subject, body, settings.DEFAULT_FROM_EMAIL, [c.email]) for c in clinicians],
                       fail_silently=False)
    usernames = [c.get_username() for c in clinicians]
    with transaction.atomic():
        Alert.objects.filter(pk=alert_pk).update(notified_at=timezone.now(), notified_to=usernames)
        audit_record(action=AuditAction.ALERT_NOTIFY, actor=None, patient=alert.patient, context=SYSTEM,
                     detail={"alert_id": alert.pk, "kind": alert.kind, "recipients": usernames})
    if not clinicians:
        logger.warning("alert %s: no active clinician with an e-mail address; nobody was notified", alert_pk)
    return True


# --- the care team's workflow ------------------------------------------------------------------------
# Every transition locks the alert's row (select_for_update) and decides on what it finds there: of
# two clinicians clicking at once, the second waits, then sees the first's change (a second
# "resolve" is refused, not applied twice). Each step writes one audit row; a note's text stays on
# the alert (health information, deleted with the patient's data), the audit row only its length.

def alert_acknowledge(
    *, alert: Alert, actor: AbstractBaseUser, note: str = "", context: AuditContext | None = None,
    now: datetime | None = None,
) -> Alert:
    """New -> acknowledged (in triage), with an optional note."""
    text = _note_text(note)
    with transaction.atomic():
        locked, now = _alert_locked(alert=alert), now or timezone.now()
        if locked.state != Alert.State.NEW:
            raise ApplicationError("This alert was already acknowledged.", code="already_acknowledged",
                                   status_code=409)
        return _alert_move(alert=locked, actor=actor, context=context, now=now, note=text,
                           action=AuditAction.ALERT_ACKNOWLEDGE, state=Alert.State.ACKNOWLEDGED)


def alert_assign(
    *, alert: Alert, actor: AbstractBaseUser, assignee: AbstractBaseUser, note: str = "",
    context: AuditContext | None = None, now: datetime | None = None,
) -> Alert:
    """Any open state -> assigned to `assignee`, who must be an active account that may see the patient."""
    text = _note_text(note)
    if not assignee.is_active or not patient_list_visible_to(user=assignee).filter(pk=alert.patient_id).exists():
        raise ApplicationError(f"{assignee.get_username()} is not on this patient's care team; assign the alert "
                               "to a clinician who can see the patient.", code="assignee_without_access")
    with transaction.atomic():
        locked, now = _alert_locked(alert=alert), now or timezone.now()
        if locked.state == Alert.State.ASSIGNED and locked.assigned_to_id == assignee.pk:
            raise ApplicationError(f"This alert is already assigned to {assignee.get_username()}.",
                                   code="already_assigned", status_code=409)
        locked.assigned_to = assignee
        return _alert_move(alert=locked, actor=actor, context=context, now=now, note=text,
                           action=AuditAction.ALERT_ASSIGN, state=Alert.State.ASSIGNED,
                           fields=["assigned_to"], detail={"assignee": assignee.get_username()})


def alert_snooze(
    *, alert: Alert, actor: AbstractBaseUser, until: datetime, note: str = "",
    context: AuditContext | None = None, now: datetime | None = None,
) -> Alert:
    """Put an open alert away until `until` (an aware time, at most SNOOZE_MAX_DAYS ahead). Its state
    is kept: when the time passes it is open again as it was, computed on reading (no job wakes it)."""
    if until.tzinfo is None:
        raise ValueError("alert_snooze needs an aware datetime")  # a caller's mistake, never user input
    text = _note_text(note)
    now = now or timezone.now()
    if until <= now:
        raise ApplicationError("Choose a snooze time in the future.", code="snooze_in_past")
    if until > now + timedelta(days=SNOOZE_MAX_DAYS):
        raise ApplicationError(f"An alert can be snoozed for at most {SNOOZE_MAX_DAYS} days; resolve it instead "
                               "if it needs no attention.", code="snooze_too_far")
    with transaction.atomic():
        locked = _alert_locked(alert=alert)
        return _alert_move(alert=locked, actor=actor, context=context, now=now, note=text,
                           action=AuditAction.ALERT_SNOOZE, state=locked.state, snoozed_until=until,
                           detail={"until": until.isoformat()})


def alert_resolve(
    *, alert: Alert, actor: AbstractBaseUser, reason: str, note: str = "",
    context: AuditContext | None = None, now: datetime | None = None,
) -> Alert:
    """Any open state -> resolved, for one of CLINICIAN_RESOLUTIONS ("other" needs a note). The
    condition may still hold: the alert then stays the patient's one alert of its kind, refreshed
    silently by the rule check, and a new alert is raised only after the condition clears and returns."""
    text = _note_text(note)
    if reason not in CLINICIAN_RESOLUTIONS:
        raise ApplicationError("Choose why the alert is resolved: " + "; ".join(CLINICIAN_RESOLUTIONS.values()) + ".",
                               code="resolution_required")
    if reason == RESOLUTION_OTHER and not text:
        raise ApplicationError("Write a note saying why the alert is resolved.", code="note_required")
    with transaction.atomic():
        locked, now = _alert_locked(alert=alert), now or timezone.now()
        locked.resolution, locked.resolution_by = reason, actor
        return _alert_move(alert=locked, actor=actor, context=context, now=now, note=text,
                           action=AuditAction.ALERT_RESOLVE, state=Alert.State.RESOLVED,
                           fields=["resolution", "resolution_by"], detail={"resolution": reason})


def alert_note_add(
    *, alert: Alert, actor: AbstractBaseUser, text: str, context: AuditContext | None = None,
    now: datetime | None = None,
) -> AlertNote:
    """A note in the alert's thread, in any state (a resolved alert can still get a follow-up)."""
    text = _note_text(text)
    if not text:
        raise ApplicationError("Write the note first.", code="note_required")
    with transaction.atomic():
        note = AlertNote.objects.create(alert=alert, author=actor, created_at=now or timezone.now(), text=text)
        audit_record(action=AuditAction.ALERT_NOTE, actor=actor, patient=alert.patient, context=context,
                     detail={"alert_id": alert.pk, "kind": alert.kind, "note_length": len(text)})
    return note


def _note_text(note: str) -> str:
    text = note.strip()
    if "\x00" in text:
        raise ApplicationError("A note cannot contain NUL characters.", code="note_invalid")
    if len(text) > NOTE_MAX_CHARS:
        raise ApplicationError(f"A note holds at most {NOTE_MAX_CHARS} characters; this one has {len(text)}.",
                               code="note_too_long")
    return text


def _alert_locked(*, alert: Alert) -> Alert:
    """The alert's row, locked to the end of the transaction; a resolved alert is refused."""
    locked = Alert.objects.select_for_update().get(pk=alert.pk)
    if locked.is_resolved or locked.resolved_at is not None:
        raise ApplicationError("This alert is already resolved.", code="already_resolved", status_code=409)
    return locked


def _alert_move(
    *, alert: Alert, actor: AbstractBaseUser, context: AuditContext | None, now: datetime, note: str,
    action: AuditAction, state: str, snoozed_until: datetime | None = None, fields: tuple | list = (),
    detail: dict | None = None,
) -> Alert:
    """Write the locked alert's new state (any step other than a snooze ends a snooze; the first
    step taken on a new alert acknowledges it), its note, and the audit row."""
    before = alert.state
    if alert.acknowledged_at is None and state != Alert.State.NEW:
        alert.acknowledged_at, alert.acknowledged_by = now, actor
    alert.state, alert.snoozed_until, alert.state_changed_at = state, snoozed_until, now
    alert.save(update_fields=["state", "snoozed_until", "state_changed_at", "acknowledged_at", "acknowledged_by",
                              *fields])
    if note:
        AlertNote.objects.create(alert=alert, author=actor, created_at=now, text=note)
    audit_record(action=action, actor=actor, patient=alert.patient, context=context,
                 detail={"alert_id": alert.pk, "kind": alert.kind, "from": before, "to": state,
                         "note_length": len(note), **(detail or {})})
    return alert


def _alerts_close(*, alerts: QuerySet, now: datetime, resolution: str, **fields) -> int:
    """The rule check found these open alerts' conditions gone (or their patients no longer
    monitored): close them, and resolve for the care team those it had not resolved yet, each
    audited as the system's step. Returns how many were closed."""
    ids = list(alerts.filter(resolved_at__isnull=True).values_list("pk", flat=True))
    if not ids:
        return 0
    Alert.objects.filter(pk__in=ids).update(resolved_at=now, **fields)
    unresolved = Alert.objects.filter(pk__in=ids).exclude(state=Alert.State.RESOLVED)
    for alert in unresolved.select_related("patient"):
        audit_record(action=AuditAction.ALERT_RESOLVE, actor=None, patient=alert.patient, context=SYSTEM,
                     detail={"alert_id": alert.pk, "kind": alert.kind, "from": alert.state,
                             "to": Alert.State.RESOLVED, "note_length": 0, "resolution": resolution})
    unresolved.update(state=Alert.State.RESOLVED, resolution=resolution, resolution_by=None, state_changed_at=now,
                      snoozed_until=None)
    return len(ids)


@transaction.atomic
def alert_thresholds_set(
    *, patient: Patient, actor: AbstractBaseUser, values: dict, context: AuditContext | None = None
) -> AlertThresholds:
    """Store the patient's overrides (None = the settings default; for `rule`, "" = ALERT_RULE) and
    audit the change."""
    if unknown := set(values) - {*THRESHOLD_NAMES, "rule"}:
        raise ValueError(f"not alert thresholds: {sorted(unknown)}")  # a caller's mistake, never user input
    row, _ = AlertThresholds.objects.get_or_create(patient=patient)
    before = {name: getattr(row, name) for name in values}
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_by = actor
    row.full_clean()
    row.save()
    audit_record(action=AuditAction.ALERT_THRESHOLDS_CHANGE, actor=actor, patient=patient, context=context,
                 detail={"before": before, "after": values})
    return row


def alerts_delete(*, patient_id) -> int:
    """Delete every alert of the patient (a deletion of their data on request); how many."""
    deleted, _ = Alert.objects.filter(patient_id=patient_id).delete()
    return deleted
