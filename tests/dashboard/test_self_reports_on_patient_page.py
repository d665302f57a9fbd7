"""The patient page shows the patient's self-reports (issue 28): markers on the timeline, a data table,
and the agreement between self-report and expression over 30 days."""
from datetime import timedelta

from django.utils import timezone

from backend.moods.definitions import MOOD_COLORS
from tests.backend.factories import SelfReportFactory, add_records
from tests.dashboard.test_patient_detail_view import figures, url


def test_self_reports_are_on_the_timeline_in_their_moods_colour_with_the_agreement(clinician_web, patient):
    now = timezone.now()
    first, second = now - timedelta(days=1), now - timedelta(days=2)
    add_records(patient, first, "positive", 3)
    add_records(patient, second, "neutral", 2)
    SelfReportFactory(device__patient=patient, patient=patient, reported_at=first + timedelta(minutes=2),
                      mood="positive")
    SelfReportFactory(device__patient=patient, patient=patient, reported_at=second, mood="negative")
    response = clinician_web.get(url(patient))
    assert response.status_code == 200
    (trace,) = [t for t in figures(response)["timeline"]["data"] if t["name"] == "Self-report"]
    assert sorted(trace["y"]) == ["Negative", "Positive"]
    assert sorted(trace["marker"]["color"]) == sorted([MOOD_COLORS["positive"], MOOD_COLORS["negative"]])
    assert "Self-report" in trace["hovertemplate"]
    html = response.content.decode()
    assert "Agreement between self-report and expression" in html
    assert "<strong class=\"value\">50%</strong>" in html
    assert "1 of 2 self-reports matched" in html
    assert "Self-reports in this range: data table (2)" in html


def test_a_patient_without_self_reports_says_so(clinician_web, patient):
    add_records(patient, timezone.now() - timedelta(hours=1), "positive", 3)
    response = clinician_web.get(url(patient))
    html = response.content.decode()
    assert "not enough data" in html and "No self-report in this range." in html
    # With no self-report at all, it says that, not that the self-reports lacked expression records.
    assert "no self-report in these 30 days" in html
    assert "no self-report has expression records" not in html
    assert all(t["name"] != "Self-report" for t in figures(response)["timeline"]["data"])


def test_a_self_report_far_from_any_record_is_not_compared_and_the_page_says_why(clinician_web, patient):
    now = timezone.now()
    add_records(patient, now - timedelta(days=3), "positive", 3)
    SelfReportFactory(device__patient=patient, patient=patient, reported_at=now - timedelta(hours=2), mood="positive")
    html = clinician_web.get(url(patient)).content.decode()
    assert "no self-report has expression records within ±15 minutes" in html
    assert "1 without expression records nearby" in html


def test_another_patients_self_reports_are_not_shown(clinician_web, patient, other_patient):
    add_records(patient, timezone.now() - timedelta(hours=1), "positive", 3)
    SelfReportFactory(device__patient=other_patient, patient=other_patient, mood="negative")
    html = clinician_web.get(url(patient)).content.decode()
    assert "0 self-reports in 30 days" in html


def test_the_patient_page_counts_bystanders_in_coverage(clinician_web, patient):
    """Issue 29: faces other than the patient's are counted in coverage (by capture time), not analysed."""
    from backend.rollups.services import capture_slots_add

    when = timezone.now() - timedelta(hours=1)
    add_records(patient, when, "positive", 2)
    capture_slots_add(patient_id=patient.pk, frames=[(when, True, True, 2), (when, True, True, 1)])
    html = clinician_web.get(url(patient)).content.decode()
    assert "3 other faces (bystanders) not analysed" in html
