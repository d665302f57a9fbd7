"""Issue 29 part 5: the alert workflow. new -> acknowledged -> assigned -> snoozed (comes back by
itself) -> resolved with a reason; a note thread; an audit row per step; the patient stays on top of
the list with a badge until resolved; the inbox filters by state and assignee; every bad input is a
4xx page that changes nothing."""
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from backend.alerts.definitions import NOTE_MAX_CHARS, SNOOZE_MAX_DAYS
from backend.alerts.models import Alert, AlertNote
from backend.alerts.selectors import alert_counts_unresolved, alert_list_for_patient
from backend.alerts.services import (
    alert_acknowledge,
    alert_assign,
    alert_note_add,
    alert_resolve,
    alert_snooze,
    alerts_evaluate_patient,
)
from backend.audit.models import AuditAction, AuditEvent
from backend.core.errors import ApplicationError
from tests.backend.factories import PatientFactory, UserFactory, add_records

STEPS = ("acknowledge", "assign", "snooze", "resolve", "notes")


def raise_alert(patient, kind=Alert.Kind.NEGATIVE_MOOD, **fields) -> Alert:
    now = timezone.now()
    return Alert.objects.create(patient=patient, kind=kind, raised_at=now - timedelta(hours=1), evaluated_at=now,
                                records=80, negative_share=0.7, thresholds={"window_days": 3, "negative_share": 0.6},
                                **fields)


def status_of(alert: Alert, now: datetime | None = None) -> str:
    return alert_list_for_patient(patient=alert.patient, now=now or timezone.now()).get(pk=alert.pk).status


def step_url(alert: Alert, step: str, patient_id=None) -> str:
    return f"/patients/{patient_id or alert.patient_id}/alerts/{alert.pk}/{step}/"


def snooze_form(until: str, tz: str = "Europe/Paris") -> dict:
    return {"until": until, "tz": tz}


def local_minute(moment: datetime, tz: str = "Europe/Paris") -> str:
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%dT%H:%M")


@pytest.fixture
def alert(patient):
    return raise_alert(patient)


@pytest.fixture
def colleague(patient):
    """A second clinician on the patient's care team."""
    colleague = UserFactory(username="dr_colleague")
    patient.clinicians.add(colleague)
    return colleague


def unchanged(alert: Alert) -> bool:
    """Still new, with no snooze, assignee, resolution, note or audited step."""
    fresh = Alert.objects.get(pk=alert.pk)
    steps = AuditEvent.objects.filter(action__startswith="alert.").exclude(action=AuditAction.ALERT_INBOX)
    workflow = (fresh.state, fresh.snoozed_until, fresh.assigned_to_id, fresh.resolution)
    return workflow == (Alert.State.NEW, None, None, "") and not steps.exists() and not fresh.notes.exists()


# --- the walk, through the services -------------------------------------------------------------------

def test_an_alert_walks_every_state_with_an_audit_row_and_notes(alert, clinician, colleague):
    start = timezone.now()
    assert status_of(alert) == "new"
    alert_acknowledge(alert=alert, actor=clinician, note="Looking into it")
    assert status_of(alert) == "acknowledged"
    alert_assign(alert=alert, actor=clinician, assignee=colleague, note="Dr Colleague knows the family")
    assert status_of(alert) == "assigned"
    until = start + timedelta(hours=3)
    alert_snooze(alert=alert, actor=colleague, until=until)
    assert status_of(alert) == "snoozed"
    assert status_of(alert, now=until + timedelta(seconds=1)) == "assigned", "the snooze ends by itself"
    alert_note_add(alert=alert, actor=colleague, text="Called, no answer")
    alert_resolve(alert=alert, actor=colleague, reason="patient_contacted", note="Reached her; she is fine")
    alert.refresh_from_db()
    assert status_of(alert) == "resolved"
    assert (alert.resolution, alert.resolution_by, alert.assigned_to) == ("patient_contacted", colleague, colleague)
    assert (alert.acknowledged_by, alert.snoozed_until, alert.resolved_at) == (clinician, None, None)
    assert [(n.author, n.text) for n in alert.notes.all()] == [
        (clinician, "Looking into it"), (clinician, "Dr Colleague knows the family"),
        (colleague, "Called, no answer"), (colleague, "Reached her; she is fine")]
    events = AuditEvent.objects.filter(patient=alert.patient).order_by("id")
    assert [(e.action, e.actor_username, e.detail.get("from"), e.detail.get("to")) for e in events] == [
        (AuditAction.ALERT_ACKNOWLEDGE, "dr_house", "new", "acknowledged"),
        (AuditAction.ALERT_ASSIGN, "dr_house", "acknowledged", "assigned"),
        (AuditAction.ALERT_SNOOZE, "dr_colleague", "assigned", "assigned"),
        (AuditAction.ALERT_NOTE, "dr_colleague", None, None),
        (AuditAction.ALERT_RESOLVE, "dr_colleague", "assigned", "resolved"),
    ]
    assert events[1].detail["assignee"] == "dr_colleague" and events[2].detail["until"] == until.isoformat()
    assert all("Reached" not in str(e.detail) for e in events), "note text never reaches the audit log"


def test_assigning_or_resolving_a_new_alert_acknowledges_it_but_a_snooze_does_not(patient, clinician):
    snoozed, assigned = raise_alert(patient), raise_alert(patient, kind=Alert.Kind.NO_DATA)
    alert_snooze(alert=snoozed, actor=clinician, until=timezone.now() + timedelta(hours=1))
    alert_assign(alert=assigned, actor=clinician, assignee=clinician)
    snoozed.refresh_from_db()
    assigned.refresh_from_db()
    assert not snoozed.is_acknowledged and snoozed.state == Alert.State.NEW
    assert status_of(snoozed, now=timezone.now() + timedelta(hours=2)) == "new", "back as it was: nobody triaged it"
    assert assigned.acknowledged_by == clinician


# --- the patient list and the header badge ----------------------------------------------------------

def test_the_patient_with_an_acknowledged_alert_stays_above_patients_without_with_its_badge(
    clinician_web, clinician, patient
):
    quiet = PatientFactory(reference="P-AAA-QUIET", display_name="Aaron Quiet", clinicians=[clinician])
    patient.display_name = "Zoe Alerting"  # after Aaron by name: only the alert can put her first
    patient.save()
    alert = raise_alert(patient)

    def rows():
        response = clinician_web.get("/patients/")
        return [row.patient.reference for row in response.context["rows"]], response.content.decode()

    for step in (lambda: alert_acknowledge(alert=alert, actor=clinician),
                 lambda: alert_assign(alert=alert, actor=clinician, assignee=clinician)):
        step()
        order, html = rows()
        assert order == [patient.reference, quiet.reference]
        assert 'title="open alerts: not resolved, not snoozed">1 open alert</span>' in html
    alert_snooze(alert=alert, actor=clinician, until=timezone.now() + timedelta(hours=1))
    order, html = rows()
    assert order == [quiet.reference, patient.reference] and "1 snoozed" in html and "open alert" not in html
    Alert.objects.filter(pk=alert.pk).update(snoozed_until=timezone.now() - timedelta(seconds=1))
    order, html = rows()
    assert order == [patient.reference, quiet.reference] and "1 open alert" in html, "the snooze passed"
    alert_resolve(alert=alert, actor=clinician, reason="care_adjusted")
    order, html = rows()
    assert order == [quiet.reference, patient.reference] and "open alert" not in html and "snoozed" not in html


def test_the_counts_behind_the_list(patient, clinician):
    now = timezone.now()
    raise_alert(patient)
    raise_alert(patient, kind=Alert.Kind.NO_DATA, snoozed_until=now + timedelta(minutes=1))
    raise_alert(PatientFactory(clinicians=[clinician]), state=Alert.State.RESOLVED)
    counts = {row["patient_id"]: (row["open"], row["snoozed"]) for row in
              alert_counts_unresolved(patient_ids=list(Alert.objects.values_list("patient_id", flat=True)), now=now)}
    assert counts[patient.pk] == (1, 1) and sorted(counts.values()) == [(0, 0), (1, 1)]


def test_the_header_badge_counts_new_alerts_and_those_assigned_to_me(clinician_web, clinician, colleague, patient):
    raise_alert(patient)
    raise_alert(patient, kind=Alert.Kind.NO_DATA, state=Alert.State.ASSIGNED, assigned_to=clinician)
    raise_alert(PatientFactory(clinicians=[clinician]), state=Alert.State.ASSIGNED, assigned_to=colleague)
    raise_alert(PatientFactory(clinicians=[clinician]), snoozed_until=timezone.now() + timedelta(hours=1))
    html = clinician_web.get("/patients/").content.decode()
    assert '<span class="badge" aria-label="2 alerts need attention">2</span>' in html


# --- the inbox: filters ------------------------------------------------------------------------------

@pytest.fixture
def inbox(patient, clinician, colleague):
    now = timezone.now()
    second = PatientFactory(reference="P-SECOND", clinicians=[clinician, colleague])
    return {
        "new": raise_alert(patient),
        "mine": raise_alert(patient, kind=Alert.Kind.NO_DATA, state=Alert.State.ASSIGNED, assigned_to=clinician),
        "theirs": raise_alert(second, state=Alert.State.ASSIGNED, assigned_to=colleague),
        "snoozed": raise_alert(second, kind=Alert.Kind.NO_DATA, state=Alert.State.ACKNOWLEDGED,
                               snoozed_until=now + timedelta(hours=2)),
        "resolved": raise_alert(PatientFactory(clinicians=[clinician]), state=Alert.State.RESOLVED,
                                resolution="technical", state_changed_at=now),
    }


@pytest.mark.parametrize("query, expected", [
    ({}, ["new", "theirs", "mine"]),  # new first; then the more severe (negative mood before no data)
    ({"state": "open"}, ["new", "theirs", "mine"]),
    ({"state": "new"}, ["new"]),
    ({"state": "assigned"}, ["theirs", "mine"]),
    ({"state": "acknowledged"}, []),
    ({"state": "snoozed"}, ["snoozed"]),
    ({"state": "resolved"}, ["resolved"]),
    ({"state": "all"}, ["new", "theirs", "mine", "snoozed", "resolved"]),
    ({"assignee": "me"}, ["mine"]),
    ({"state": "all", "assignee": "dr_colleague"}, ["theirs"]),
    ({"state": "open", "assignee": "none"}, ["new"]),
])
def test_the_inbox_filters_by_state_and_assignee(clinician_web, inbox, query, expected):
    response = clinician_web.get("/alerts/", query)
    assert response.status_code == 200
    assert [a.pk for a in response.context["alerts"]] == [inbox[name].pk for name in expected]


def test_each_alert_shows_its_state_assignee_snooze_time_with_zone_and_notes(clinician_web, inbox, clinician):
    AlertNote.objects.create(alert=inbox["snoozed"], author=clinician, created_at=timezone.now(), text="Phone lost")
    html = clinician_web.get("/alerts/", {"state": "all"}).content.decode()
    for label in ("New", "Assigned", "Snoozed", "Resolved"):
        assert f'">{label}</span>' in html, label
    assert "Assigned to <strong>dr_colleague</strong>" in html
    until = timezone.localtime(inbox["snoozed"].snoozed_until, ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M")
    assert f"Snoozed until <strong>{until} UTC</strong>" in html
    assert "Phone lost" in html and "Technical cause (phone, app, camera)" in html
    assert 'label for="snooze-' in html and "Snooze until (UTC)" in html


@pytest.mark.parametrize("query, message", [
    ({"state": "closed"}, "Unknown state"),
    ({"state": "x" * 300}, "Unknown state"),
    ({"state": "New"}, "Unknown state"),
    ({"assignee": "dr_nobody"}, "is not a clinician of your patients"),
    ({"assignee": "dr_other"}, "is not a clinician of your patients"),  # exists, but shares no patient with me
    ({"state": "new\x00"}, ""),  # refused before the view (core.middleware), with its own 400 page
])
def test_a_bad_filter_is_a_400_page_that_says_why(clinician_web, inbox, query, message):
    response = clinician_web.get("/alerts/", query)
    assert response.status_code == 400
    assert message in response.content.decode()


# --- the steps through the dashboard: every refusal is a 4xx that changes nothing ---------------------

def test_the_steps_by_form_post(clinician_web, alert, clinician, colleague):
    until = timezone.now() + timedelta(days=1)
    posts = [("acknowledge", {"note": ""}), ("assign", {"assignee": "dr_colleague"}),
             ("snooze", snooze_form(local_minute(until))), ("notes", {"text": "Ringing back at 5"}),
             ("resolve", {"reason": "other", "note": "Moved to the ward's own follow-up"})]
    for step, data in posts:
        response = clinician_web.post(step_url(alert, step), {**data, "next": "/alerts/"})
        assert response.status_code == 302 and response.url == "/alerts/", (step, response.content[:500])
        if step == "snooze":
            assert Alert.objects.get(pk=alert.pk).snoozed_until == until.replace(second=0, microsecond=0)
    alert.refresh_from_db()
    assert (alert.state, alert.assigned_to, alert.resolution) == (Alert.State.RESOLVED, colleague, "other")
    assert AuditEvent.objects.filter(action__in=[AuditAction.ALERT_ACKNOWLEDGE, AuditAction.ALERT_ASSIGN,
                                                 AuditAction.ALERT_SNOOZE, AuditAction.ALERT_NOTE,
                                                 AuditAction.ALERT_RESOLVE]).count() == 5


def test_a_snooze_time_is_read_in_the_zone_named_beside_it(clinician_web, alert):
    until = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo("America/New_York")).replace(
        second=0, microsecond=0)
    response = clinician_web.post(step_url(alert, "snooze"), snooze_form(local_minute(until, "America/New_York"),
                                                                         "America/New_York"))
    assert response.status_code == 302
    assert Alert.objects.get(pk=alert.pk).snoozed_until == until


@pytest.mark.parametrize("case", ["past", "now", "year_9999", "year_0001", "too_far", "unparseable", "empty",
                                  "bad_zone", "no_zone"])
def test_a_bad_snooze_is_a_400_that_changes_nothing(clinician_web, alert, case):
    now = timezone.now()
    data = {
        "past": snooze_form(local_minute(now - timedelta(minutes=5))),
        "now": snooze_form(local_minute(now)),
        "year_9999": snooze_form("9999-12-31T23:59", "Pacific/Kiritimati"),
        "year_0001": snooze_form("0001-01-01T00:00", "Pacific/Kiritimati"),
        "too_far": snooze_form(local_minute(now + timedelta(days=SNOOZE_MAX_DAYS, hours=1))),
        "unparseable": snooze_form("next tuesday"),
        "empty": snooze_form(""),
        "bad_zone": snooze_form(local_minute(now + timedelta(hours=2)), "Mars/Olympus_Mons"),
        "no_zone": {"until": local_minute(now + timedelta(hours=2))},
    }[case]
    response = clinician_web.post(step_url(alert, "snooze"), data)
    assert response.status_code == 400, response.content[:300]
    assert "The alert was not changed" in response.content.decode()
    assert unchanged(alert)


@pytest.mark.parametrize("data, message", [
    ({}, "Choose why the alert is resolved."),
    ({"reason": ""}, "Choose why the alert is resolved."),
    ({"reason": "condition_cleared"}, "Select a valid choice"),  # the rule check's own reason
    ({"reason": "fixed"}, "Select a valid choice"),
    ({"reason": "other"}, "Write a note saying why the alert is resolved."),
    ({"reason": "other", "note": "   "}, "Write a note saying why the alert is resolved."),
    ({"reason": "technical", "note": "x" * (NOTE_MAX_CHARS + 1)}, f"at most {NOTE_MAX_CHARS} characters"),
])
def test_a_resolve_without_a_valid_reason_is_a_400_that_changes_nothing(clinician_web, alert, data, message):
    response = clinician_web.post(step_url(alert, "resolve"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert unchanged(alert)


@pytest.mark.parametrize("text, status", [
    ("x" * 10_001, 400), ("x" * (NOTE_MAX_CHARS + 1), 400), ("x" * NOTE_MAX_CHARS, 302), ("", 400), ("  \n ", 400),
    ("before\x00after", 400), ("<script>alert(1)</script>", 302),
])
def test_notes_are_bounded_and_never_hold_nul(clinician_web, alert, text, status):
    response = clinician_web.post(step_url(alert, "notes"), {"text": text})
    assert response.status_code == status
    assert alert.notes.count() == (1 if status == 302 else 0)
    if status == 302:
        html = clinician_web.get(f"/patients/{alert.patient_id}/").content.decode()
        assert "<script>alert(1)</script>" not in html


@pytest.mark.parametrize("text, code", [("a\x00b", "note_invalid"), ("x" * (NOTE_MAX_CHARS + 1), "note_too_long"),
                                        ("", "note_required")])
def test_the_service_checks_notes_itself_for_doors_without_a_form(alert, clinician, text, code):
    with pytest.raises(ApplicationError) as refused:
        alert_note_add(alert=alert, actor=clinician, text=text)
    assert refused.value.code == code


@pytest.mark.parametrize("step", STEPS)
def test_another_clinicians_alert_is_404_by_every_door(clinician_web, other_patient, patient, step):
    foreign = raise_alert(other_patient)
    data = {"note": "x", "text": "x", "reason": "technical", "assignee": "dr_house",
            **snooze_form(local_minute(timezone.now() + timedelta(hours=2)))}
    assert clinician_web.post(step_url(foreign, step), data).status_code == 404
    assert clinician_web.post(step_url(foreign, step, patient_id=patient.pk), data).status_code == 404
    assert unchanged(foreign)


@pytest.mark.parametrize("path", ["/patients/{p}/alerts/99999999999999999999999/resolve/",
                                  "/patients/{p}/alerts/0/resolve/", "/patients/not-a-uuid/alerts/1/resolve/"])
def test_ids_that_name_no_alert_are_404(clinician_web, patient, path):
    assert clinician_web.post(path.format(p=patient.pk), {"reason": "technical"}).status_code == 404


def test_a_double_resolve_is_a_409_and_resolves_once(clinician_web, admin_web, alert):
    assert clinician_web.post(step_url(alert, "resolve"), {"reason": "technical"}).status_code == 302
    second = admin_web.post(step_url(alert, "resolve"), {"reason": "care_adjusted"})
    assert second.status_code == 409 and "already resolved" in second.content.decode()
    alert.refresh_from_db()
    assert alert.resolution == "technical"
    assert AuditEvent.objects.filter(action=AuditAction.ALERT_RESOLVE).count() == 1
    for step, data in (("acknowledge", {}), ("assign", {"assignee": "dr_house"}),
                       ("snooze", snooze_form(local_minute(timezone.now() + timedelta(hours=2))))):
        assert clinician_web.post(step_url(alert, step), data).status_code == 409, step


@pytest.mark.parametrize("assignee, message", [
    ("dr_other", "is not on this patient&#x27;s care team"),  # an active clinician of other patients
    ("dr_gone", "Choose a clinician of this patient&#x27;s care team."),  # on the team, account deactivated
    ("dr_nobody", "Choose a clinician of this patient&#x27;s care team."),
    ("", "This field is required."),
])
def test_assigning_to_a_clinician_without_access_is_a_400(clinician_web, other_clinician, patient, alert,
                                                          assignee, message):
    gone = UserFactory(username="dr_gone", is_active=False)
    patient.clinicians.add(gone)
    response = clinician_web.post(step_url(alert, "assign"), {"assignee": assignee})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert unchanged(alert)


def test_the_service_refuses_an_inactive_or_outside_assignee_itself(alert, clinician, other_clinician, patient):
    gone = UserFactory(username="dr_gone", is_active=False)
    patient.clinicians.add(gone)
    for assignee in (gone, other_clinician):
        with pytest.raises(ApplicationError) as refused:
            alert_assign(alert=alert, actor=clinician, assignee=assignee)
        assert refused.value.code == "assignee_without_access"
    assert unchanged(alert)


def test_reassigning_to_the_same_clinician_is_a_409_but_to_another_works(clinician_web, alert, colleague):
    assert clinician_web.post(step_url(alert, "assign"), {"assignee": "dr_house"}).status_code == 302
    assert clinician_web.post(step_url(alert, "assign"), {"assignee": "dr_house"}).status_code == 409
    assert clinician_web.post(step_url(alert, "assign"), {"assignee": "dr_colleague"}).status_code == 302
    assert Alert.objects.get(pk=alert.pk).assigned_to == colleague


def test_acknowledge_on_an_acknowledged_alert_is_a_409(clinician_web, alert):
    assert clinician_web.post(step_url(alert, "acknowledge"), {}).status_code == 302
    assert clinician_web.post(step_url(alert, "acknowledge"), {}).status_code == 409


@pytest.mark.parametrize("step", STEPS)
def test_steps_take_post_only(clinician_web, alert, step):
    assert clinician_web.get(step_url(alert, step)).status_code == 405


def test_the_forms_are_plain_posts_with_csrf_labels_and_no_inline_handlers(clinician_web, alert):
    html = clinician_web.get(f"/patients/{alert.patient_id}/").content.decode()
    section = html.split('<article class="alert-item', 1)[1].split("</article>", 1)[0]
    assert section.count('method="post"') == 5 and section.count("csrfmiddlewaretoken") == 5
    for attr in ("onclick", "onsubmit", "onchange", "javascript:"):
        assert attr not in section
    for field in (f"assignee-{alert.pk}", f"snooze-{alert.pk}", f"reason-{alert.pk}", f"note-{alert.pk}"):
        assert f'<label for="{field}">' in section and f'id="{field}"' in section
    assert f"Snooze until ({alert.patient.timezone})" in section, "the patient page reads times in the patient's zone"


# --- the rule check and the workflow ------------------------------------------------------------------

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=ZoneInfo("UTC"))


def test_a_resolved_alert_whose_condition_still_holds_is_not_raised_again(patient, clinician):
    add_records(patient, NOW - timedelta(days=1), "negative", 60)
    assert alerts_evaluate_patient(patient=patient, now=NOW) == [Alert.Kind.NEGATIVE_MOOD]
    alert = Alert.objects.get(patient=patient)
    alert_resolve(alert=alert, actor=clinician, reason="care_adjusted", now=NOW)
    assert alerts_evaluate_patient(patient=patient, now=NOW + timedelta(minutes=5)) == []
    assert Alert.objects.filter(patient=patient).count() == 1, "no second alert, no second e-mail"
    alerts_evaluate_patient(patient=patient, now=NOW + timedelta(days=5))  # the window has passed
    alert.refresh_from_db()
    assert alert.resolved_at == NOW + timedelta(days=5)
    assert (alert.resolution, alert.resolution_by) == ("care_adjusted", clinician), "the clinician's reason stays"


def test_a_condition_that_clears_resolves_the_alert_as_the_system_with_an_audit_row(patient, clinician):
    add_records(patient, NOW - timedelta(days=1), "negative", 60)
    alerts_evaluate_patient(patient=patient, now=NOW)
    alert = Alert.objects.get(patient=patient)
    alert_assign(alert=alert, actor=clinician, assignee=clinician, now=NOW)
    later = NOW + timedelta(days=5)
    alerts_evaluate_patient(patient=patient, now=later)
    alert.refresh_from_db()
    assert (alert.state, alert.resolution, alert.resolution_by, alert.state_changed_at) == (
        Alert.State.RESOLVED, "condition_cleared", None, later)
    event = AuditEvent.objects.get(action=AuditAction.ALERT_RESOLVE)
    assert event.actor_username == "system" and event.detail["from"] == "assigned"
    assert status_of(alert) == "resolved"


# --- two clinicians at once ---------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_two_clinicians_resolving_at_once_resolve_it_once():
    clinicians = [UserFactory(username="dr_a"), UserFactory(username="dr_b")]
    alert = raise_alert(PatientFactory(clinicians=clinicians))
    barrier, outcomes = threading.Barrier(2), []

    def resolve(actor, reason):
        try:
            barrier.wait(timeout=10)
            alert_resolve(alert=alert, actor=actor, reason=reason)
            outcomes.append("resolved")
        except ApplicationError as error:
            outcomes.append(error.code)
        finally:
            connection.close()

    reasons = ("technical", "care_adjusted")
    threads = [threading.Thread(target=resolve, args=(c, r)) for c, r in zip(clinicians, reasons)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["already_resolved", "resolved"]
    assert AuditEvent.objects.filter(action=AuditAction.ALERT_RESOLVE).count() == 1


# --- existing rows ------------------------------------------------------------------------------------

@pytest.mark.django_db(transaction=True)
def test_existing_alerts_migrate_to_states_and_their_note_to_the_thread():
    executor = MigrationExecutor(connection)
    leaves = executor.loader.graph.leaf_nodes()
    executor.migrate([("alerts", "0004_baseline_rule")])
    clinician = UserFactory(username="dr_before")
    patient = PatientFactory(clinicians=[clinician])
    insert = ("INSERT INTO alerts_alert (patient_id, kind, raised_at, evaluated_at, thresholds, rule, resolved_at,"
              " acknowledged_at, acknowledged_by_id, acknowledgement_note, notification_attempts, notified_to)"
              " VALUES (%s, %s, now(), now(), '{}', '', %s, %s, %s, %s, 0, '[]') RETURNING id")
    acked_at = datetime(2026, 11, 1, 9, 30, tzinfo=ZoneInfo("UTC"))
    with connection.cursor() as cursor:
        rows = {}
        for name, kind, resolved, acked, note in (
            ("new", "no_data", None, None, ""),
            ("acked", "negative_mood", None, acked_at, "Called the patient"),
            ("closed", "no_data", acked_at, acked_at, "Old"),
        ):
            cursor.execute(insert, [patient.pk, kind, resolved, acked, clinician.pk if acked else None, note])
            rows[name] = cursor.fetchone()[0]
    MigrationExecutor(connection).migrate(leaves)
    got = {name: Alert.objects.get(pk=pk) for name, pk in rows.items()}
    assert (got["new"].state, got["new"].notes.count()) == ("new", 0)
    assert (got["acked"].state, got["acked"].acknowledged_by, got["acked"].state_changed_at) == (
        "acknowledged", clinician, acked_at)
    assert [(n.author, n.created_at, n.text) for n in got["acked"].notes.all()] == [
        (clinician, acked_at, "Called the patient")]
    assert (got["closed"].state, got["closed"].resolution) == ("resolved", "condition_cleared")


# --- the inbox's cost does not grow with its alerts -------------------------------------------------

def test_the_inbox_reads_notes_assignees_and_care_teams_in_a_fixed_number_of_queries(
    clinician_web, clinician, colleague
):
    def fill(count):
        for _ in range(count):
            alert = raise_alert(PatientFactory(clinicians=[clinician, colleague]), state=Alert.State.ASSIGNED,
                                assigned_to=colleague, acknowledged_by=clinician, acknowledged_at=timezone.now())
            AlertNote.objects.create(alert=alert, author=colleague, created_at=timezone.now(), text="seen")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert clinician_web.get("/alerts/").status_code == 200
        return len(captured)

    fill(2)
    few = queries()
    fill(8)
    assert queries() == few
