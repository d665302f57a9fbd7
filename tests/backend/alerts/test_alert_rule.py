"""The alert rule at its edges: negative share over a rolling window with a minimum of records, and no data."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from backend.alerts.models import Alert, AlertThresholds
from backend.alerts.selectors import alert_thresholds_for
from backend.alerts.services import alerts_evaluate, alerts_evaluate_patient
from tests.backend.factories import DeviceFactory, PatientFactory, add_records

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=ZoneInfo("UTC"))


def negative_mix(patient, *, negative: int, other: int, when=NOW - timedelta(days=1)):
    if negative:
        add_records(patient, when, "negative", negative)
    if other:
        add_records(patient, when, "neutral", other)


def kinds(patient) -> set[str]:
    return set(Alert.objects.filter(patient=patient, resolved_at__isnull=True).values_list("kind", flat=True))


def test_defaults_come_from_settings(patient):
    assert alert_thresholds_for(patient=patient).as_dict() == {
        "window_days": 3, "negative_share": 0.6, "min_records": 50, "no_data_days": 2,
    }


def test_exactly_the_threshold_share_with_exactly_the_minimum_records_alerts(patient):
    negative_mix(patient, negative=30, other=20)  # 30/50 = 0.6, 50 records
    assert alerts_evaluate_patient(patient=patient, now=NOW) == [Alert.Kind.NEGATIVE_MOOD]
    alert = Alert.objects.get(patient=patient)
    assert (alert.records, alert.negative_share) == (50, pytest.approx(0.6))
    assert alert.thresholds["negative_share"] == 0.6


def test_just_below_the_share_does_not_alert(patient):
    negative_mix(patient, negative=29, other=21)  # 0.58
    assert alerts_evaluate_patient(patient=patient, now=NOW) == []


def test_one_record_short_of_the_minimum_does_not_alert_even_if_all_negative(patient):
    negative_mix(patient, negative=49, other=0)
    assert alerts_evaluate_patient(patient=patient, now=NOW) == []


def test_records_older_than_the_window_do_not_count(patient):
    negative_mix(patient, negative=50, other=0, when=NOW - timedelta(days=3, seconds=1))
    add_records(patient, NOW - timedelta(hours=1), "neutral", 1)  # keeps the no-data rule quiet
    assert Alert.Kind.NEGATIVE_MOOD not in alerts_evaluate_patient(patient=patient, now=NOW)


def test_per_patient_thresholds_override_the_defaults(patient):
    AlertThresholds.objects.create(patient=patient, negative_share=0.25, min_records=4)
    negative_mix(patient, negative=1, other=3)
    assert alerts_evaluate_patient(patient=patient, now=NOW) == [Alert.Kind.NEGATIVE_MOOD]


@override_settings(MOODWATCH_ALERTS={"WINDOW_DAYS": 3, "NEGATIVE_SHARE": 0.9, "MIN_RECORDS": 50, "NO_DATA_DAYS": 2,
                                     "RULE": "absolute"})
def test_settings_change_the_default_threshold(patient):
    negative_mix(patient, negative=40, other=10)  # 0.8 < 0.9
    assert alerts_evaluate_patient(patient=patient, now=NOW) == []


def test_no_upload_for_exactly_n_days_alerts_and_a_minute_less_does_not(patient):
    add_records(patient, NOW - timedelta(days=2), "neutral", 1)
    assert alerts_evaluate_patient(patient=patient, now=NOW - timedelta(minutes=1)) == []
    assert alerts_evaluate_patient(patient=patient, now=NOW) == [Alert.Kind.NO_DATA]


def test_a_patient_who_never_uploaded_alerts_n_days_after_consent(clinician):
    patient = PatientFactory(clinicians=[clinician], consent_recorded_at=NOW - timedelta(days=2, minutes=1))
    DeviceFactory(patient=patient)  # enrolled, so silence means something
    assert alerts_evaluate_patient(patient=patient, now=NOW) == [Alert.Kind.NO_DATA]
    assert Alert.objects.get(patient=patient).last_data_at is None


def test_re_evaluating_refreshes_the_open_alert_instead_of_duplicating_it(patient):
    negative_mix(patient, negative=60, other=0)
    alerts_evaluate_patient(patient=patient, now=NOW)
    negative_mix(patient, negative=10, other=0, when=NOW + timedelta(minutes=5))
    assert alerts_evaluate_patient(patient=patient, now=NOW + timedelta(minutes=15)) == []
    alert = Alert.objects.get(patient=patient, kind=Alert.Kind.NEGATIVE_MOOD)
    assert alert.records == 70 and alert.raised_at == NOW and alert.evaluated_at == NOW + timedelta(minutes=15)


def test_an_alert_resolves_when_the_condition_clears_and_a_new_breach_raises_a_new_one(patient):
    negative_mix(patient, negative=60, other=0)
    alerts_evaluate_patient(patient=patient, now=NOW)
    negative_mix(patient, negative=0, other=200, when=NOW + timedelta(hours=1))
    alerts_evaluate_patient(patient=patient, now=NOW + timedelta(hours=2))
    assert kinds(patient) == set()
    negative_mix(patient, negative=600, other=0, when=NOW + timedelta(hours=3))
    assert alerts_evaluate_patient(patient=patient, now=NOW + timedelta(hours=4)) == [Alert.Kind.NEGATIVE_MOOD]
    assert Alert.objects.filter(patient=patient, kind=Alert.Kind.NEGATIVE_MOOD).count() == 2


def test_the_sweep_skips_patients_without_consent_or_inactive_and_closes_their_alerts(clinician):
    inactive = PatientFactory(clinicians=[clinician], is_active=False, consent_recorded_at=NOW - timedelta(days=30))
    no_consent = PatientFactory(clinicians=[clinician], consent_recorded_at=None)
    watched = PatientFactory(clinicians=[clinician], consent_recorded_at=NOW - timedelta(days=30))
    DeviceFactory(patient=watched)
    Alert.objects.create(patient=inactive, kind=Alert.Kind.NO_DATA, raised_at=NOW, evaluated_at=NOW)
    report = alerts_evaluate(now=NOW)
    assert report.patients == 1 and report.raised == 1
    assert kinds(watched) == {Alert.Kind.NO_DATA}
    assert kinds(inactive) == set() and kinds(no_consent) == set()
