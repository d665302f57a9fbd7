"""Agreement between self-report and expression (backend.moods.agreement, selectors.self_report_agreement)
at its edges: no reports, reports with no record nearby, ties, the window's bounds, the 30 days, and
the Wilson interval."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.moods.agreement import AGREEMENT_WINDOW, agreement_of, majority_mood, wilson_interval
from backend.moods.selectors import self_report_agreement
from tests.backend.factories import SelfReportFactory, add_records

pytestmark = pytest.mark.django_db


def report(patient, when, mood):
    return SelfReportFactory(device__patient=patient, patient=patient, reported_at=when, mood=mood)


@pytest.fixture
def now():
    return timezone.now()


def test_no_self_reports_gives_nothing_to_compare_and_no_interval(patient, now):
    add_records(patient, now - timedelta(hours=1), "positive", 5)
    agreement = self_report_agreement(patient=patient, end=now)
    assert (agreement.reports, agreement.compared, agreement.agreeing) == (0, 0, 0)
    assert agreement.share is None and agreement.interval is None
    assert agreement.as_dict()["agreement"] is None and agreement.as_dict()["ci95_low"] is None


def test_a_report_with_no_record_within_the_window_is_counted_but_not_compared(patient, now):
    add_records(patient, now - timedelta(hours=2) - AGREEMENT_WINDOW - timedelta(seconds=1), "positive", 5)
    report(patient, now - timedelta(hours=2), "positive")
    agreement = self_report_agreement(patient=patient, end=now)
    assert (agreement.reports, agreement.compared, agreement.without_records, agreement.ties) == (1, 0, 1, 0)
    assert agreement.share is None


def test_records_exactly_at_the_windows_edges_count(patient, now):
    at = now - timedelta(hours=3)
    add_records(patient, at - AGREEMENT_WINDOW, "negative", 1)
    add_records(patient, at + AGREEMENT_WINDOW, "negative", 1)
    report(patient, at, "negative")
    agreement = self_report_agreement(patient=patient, end=now)
    assert (agreement.compared, agreement.agreeing) == (1, 1)


def test_a_tie_for_the_most_frequent_mood_is_not_compared(patient, now):
    at = now - timedelta(hours=4)
    add_records(patient, at - timedelta(minutes=5), "positive", 3)
    add_records(patient, at + timedelta(minutes=5), "neutral", 3)
    add_records(patient, at, "negative", 1)
    report(patient, at, "positive")
    agreement = self_report_agreement(patient=patient, end=now)
    assert (agreement.reports, agreement.compared, agreement.ties, agreement.without_records) == (1, 0, 1, 0)


def test_the_majority_of_the_window_is_compared_with_each_report(patient, other_patient, now):
    first, second, third = now - timedelta(days=1), now - timedelta(days=2), now - timedelta(days=3)
    add_records(patient, first, "negative", 4)
    add_records(patient, first + timedelta(minutes=10), "positive", 3)  # 4 negative vs 3 positive
    report(patient, first, "negative")  # agrees
    add_records(patient, second, "neutral", 2)
    report(patient, second, "negative")  # disagrees: the model saw neutral
    add_records(other_patient, third, "other", 5)  # another patient's records do not count
    report(patient, third, "other")
    agreement = self_report_agreement(patient=patient, end=now)
    assert (agreement.reports, agreement.compared, agreement.agreeing, agreement.without_records) == (3, 2, 1, 1)
    assert agreement.share == 0.5
    low, high = agreement.interval
    assert low == pytest.approx(0.0945, abs=1e-4) and high == pytest.approx(0.9055, abs=1e-4)


def test_only_the_last_30_days_count(patient, now):
    old = now - timedelta(days=31)
    add_records(patient, old, "positive", 2)
    report(patient, old, "positive")
    assert self_report_agreement(patient=patient, end=now).reports == 0
    assert self_report_agreement(patient=patient, end=now, days=40).agreeing == 1


@pytest.mark.parametrize(("successes", "n", "expected"), [
    (0, 0, None),
    (10, 10, (0.7225, 1.0)),
    (0, 10, (0.0, 0.2775)),
    (5, 10, (0.2366, 0.7634)),
    (0, 1, (0.0, 0.7935)),
    (81, 100, (0.7222, 0.8749)),  # by hand: centre 0.79853, half-width 0.07632
])
def test_the_wilson_interval_at_its_edges(successes, n, expected):
    interval = wilson_interval(successes, n)
    if expected is None:
        assert interval is None
    else:
        assert interval == pytest.approx(expected, abs=1e-4)
        assert 0 <= interval[0] <= successes / n <= interval[1] <= 1


def test_majority_and_agreement_of_plain_counts():
    assert majority_mood({}) is None
    assert majority_mood({"positive": 0, "negative": 0}) is None
    assert majority_mood({"positive": 2, "negative": 2, "neutral": 1}) is None
    assert majority_mood({"positive": 1, "negative": 2}) == "negative"
    result = agreement_of([("positive", {"positive": 1}), ("neutral", {}), ("other", {"other": 1, "neutral": 1})])
    assert (result.reports, result.compared, result.agreeing, result.without_records, result.ties) == (3, 1, 1, 1, 1)


def test_the_clinician_api_mood_summary_carries_the_agreement(clinician, patient, now):
    from tests.backend.conftest import clinician_client

    add_records(patient, now - timedelta(days=1), "positive", 2)
    report(patient, now - timedelta(days=1), "positive")
    response = clinician_client(clinician).get(f"/api/v1/patients/{patient.pk}/mood-summary/")
    assert response.status_code == 200, response.content
    agreement = response.json()["self_report_agreement"]
    assert (agreement["days"], agreement["window_minutes"]) == (30, 15)
    assert (agreement["reports"], agreement["compared"], agreement["agreeing"], agreement["agreement"]) == (1, 1, 1, 1)
    assert agreement["ci95_high"] == 1 and 0 < agreement["ci95_low"] < 1
