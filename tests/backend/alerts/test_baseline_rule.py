"""The baseline rule through the service (alerts_evaluate_patient) and the roll-ups: no alert while
the baseline is building, an alert on a sustained rise over the patient's own baseline, resolved
when the rise is over; per-day counts in the patient's zone across a daylight-saving change; the
absolute rule still available per patient."""
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.alerts.definitions import BASELINE_MIN_RECORDS
from backend.alerts.models import Alert, AlertThresholds
from backend.alerts.selectors import alert_rule_for, baseline_deviation_for
from backend.alerts.services import alert_notify, alerts_evaluate_patient
from backend.rollups.selectors import mood_negative_by_day
from tests.backend.factories import PatientFactory, add_records

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=PARIS)


@pytest.fixture(autouse=True)
def alert_rule(settings):
    """The product default (overrides the absolute rule that the other alert tests set)."""
    assert settings.MOODWATCH_ALERTS["RULE"] == "baseline"
    return "baseline"


def day_of(patient, day: datetime, *, negative: int, calm: int):
    if negative:
        add_records(patient, day, "negative", negative)
    if calm:
        add_records(patient, day, "neutral", calm)


def negative_alerts(patient):
    return Alert.objects.filter(patient=patient, kind=Alert.Kind.NEGATIVE_MOOD)


def test_new_patients_follow_the_baseline_rule_and_tuned_ones_can_keep_the_absolute_rule(patient, other_patient):
    assert alert_rule_for(patient=patient) == "baseline"
    AlertThresholds.objects.create(patient=other_patient, rule="absolute")
    assert alert_rule_for(patient=other_patient) == "absolute"


def test_a_new_patient_with_a_dark_start_gets_no_alert_and_the_baseline_says_it_is_building(patient):
    for back in range(3):
        day_of(patient, NOW - timedelta(days=back, hours=1), negative=30, calm=0)
    assert alerts_evaluate_patient(patient=patient, now=NOW) == []
    deviation = baseline_deviation_for(patient=patient, now=NOW)
    assert deviation.status == "building" and deviation.baseline.records == 0
    assert deviation.recent_records == 90 and BASELINE_MIN_RECORDS == 70


def test_a_sustained_rise_over_the_baseline_raises_and_its_end_resolves(patient):
    for back in range(3, 18):  # two calm weeks: 2 of 10 records negative every day (days 3-4: the guard band)
        day_of(patient, NOW - timedelta(days=back), negative=2, calm=8)
    for back in range(3):  # then three dark days (today, yesterday, the day before)
        day_of(patient, NOW - timedelta(days=back, hours=1), negative=16, calm=4)

    assert alerts_evaluate_patient(patient=patient, now=NOW) == [Alert.Kind.NEGATIVE_MOOD]
    alert = negative_alerts(patient).get()
    assert (alert.rule, alert.records) == ("baseline", 60)
    assert alert.baseline_share == pytest.approx(0.2) and alert.negative_share == pytest.approx(0.8)
    assert alert.window_start == datetime(2026, 3, 18, tzinfo=PARIS)
    assert alerts_evaluate_patient(patient=patient, now=NOW + timedelta(minutes=15)) == [], "refreshed, not raised"

    later = NOW + timedelta(days=5)
    for back in range(3):  # three calm days again
        day_of(patient, later - timedelta(days=back, hours=1), negative=4, calm=16)
    assert alerts_evaluate_patient(patient=patient, now=later) == []
    alert.refresh_from_db()
    assert alert.resolved_at == later
    assert not negative_alerts(patient).filter(resolved_at__isnull=True).exists()


def test_a_patient_whose_baseline_is_already_dark_is_not_flagged_for_staying_so(patient):
    for back in range(18):
        day_of(patient, NOW - timedelta(days=back, hours=1), negative=14, calm=6)  # 70% every day
    assert alerts_evaluate_patient(patient=patient, now=NOW) == []
    deviation = baseline_deviation_for(patient=patient, now=NOW)
    assert deviation.status == "tested" and deviation.change == pytest.approx(0.0)
    # ...while the absolute rule, chosen for this patient, flags them
    AlertThresholds.objects.create(patient=patient, rule="absolute")
    assert alerts_evaluate_patient(patient=patient, now=NOW) == [Alert.Kind.NEGATIVE_MOOD]
    assert negative_alerts(patient).get().rule == "absolute"


def test_day_counts_are_local_days_across_the_spring_forward_day(clinician):
    patient = PatientFactory(clinicians=[clinician], timezone="Europe/Paris")
    add_records(patient, datetime(2026, 3, 29, 0, 30, tzinfo=PARIS), "negative", 1)  # 28 March 23:30 UTC
    add_records(patient, datetime(2026, 3, 29, 23, 30, tzinfo=PARIS), "neutral", 2)  # 21:30 UTC
    add_records(patient, datetime(2026, 3, 28, 23, 59, tzinfo=PARIS), "neutral", 1)
    add_records(patient, datetime(2026, 3, 30, 0, 1, tzinfo=PARIS), "negative", 1)
    counts = mood_negative_by_day(patients=[patient], now=datetime(2026, 3, 30, 12, tzinfo=PARIS), days=3)
    assert counts[patient.pk] == {date(2026, 3, 28): (1, 0), date(2026, 3, 29): (3, 1), date(2026, 3, 30): (1, 1)}


def test_day_counts_include_the_open_slot_and_stop_at_now(patient):
    add_records(patient, NOW - timedelta(minutes=3), "negative", 2)  # in the slot still open at NOW
    add_records(patient, NOW + timedelta(minutes=1), "negative", 5)  # the future: not counted
    assert mood_negative_by_day(patients=[patient], now=NOW, days=1)[patient.pk] == {NOW.date(): (2, 2)}
    assert mood_negative_by_day(patients=[], now=NOW, days=1) == {}
    assert mood_negative_by_day(patients=[patient], now=NOW, days=0) == {patient.pk: {}}


def test_the_mail_of_a_baseline_alert_gives_the_patients_own_baseline(patient, clinician, mailoutbox):
    now = datetime(2026, 3, 20, 12, tzinfo=PARIS)
    alert = Alert.objects.create(patient=patient, kind=Alert.Kind.NEGATIVE_MOOD, raised_at=now, evaluated_at=now,
                                 records=60, negative_share=0.8, rule="baseline", baseline_share=0.2,
                                 thresholds={"window_days": 3})
    assert alert_notify(alert_pk=alert.pk) is True
    body = mailoutbox[0].body
    assert "Negative share 80% of 60 records over the last 3 days." in body
    assert "The patient's own baseline (28 days, ending 2 days before) is 20%." in body
