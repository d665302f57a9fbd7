"""GET /patients/: only the clinician's own patients, with 7-day mood mix, valence, coverage and alerts."""
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.alerts.models import Alert
from backend.moods.definitions import VALENCE_CHANGE_MIN_RECORDS
from tests.backend.factories import PatientFactory, add_records

URL = "/patients/"


def rows(response) -> dict:
    return {row.patient.reference: row for row in response.context["rows"]}


def test_a_clinician_sees_only_their_own_patients(clinician_web, patient, other_patient):
    response = clinician_web.get(URL)
    assert response.status_code == 200
    assert set(rows(response)) == {"P-ALPHA"}
    assert "P-BRAVO" not in response.content.decode()


def test_an_admin_sees_every_patient(admin_web, patient, other_patient):
    assert set(rows(admin_web.get(URL))) == {"P-ALPHA", "P-BRAVO"}


def test_anonymous_is_sent_to_login(anonymous_web):
    response = anonymous_web.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_the_search_box_matches_reference_or_name(clinician_web, clinician):
    PatientFactory(reference="P-100", display_name="Ada", clinicians=[clinician])
    PatientFactory(reference="P-200", display_name="Grace", clinicians=[clinician])
    assert set(rows(clinician_web.get(URL, {"q": "grace"}))) == {"P-200"}
    assert set(rows(clinician_web.get(URL, {"q": "p-1"}))) == {"P-100"}


def test_deactivated_patients_are_hidden_unless_asked_for(clinician_web, clinician):
    PatientFactory(reference="P-OFF", clinicians=[clinician], is_active=False)
    assert "P-OFF" not in rows(clinician_web.get(URL))
    assert "P-OFF" in rows(clinician_web.get(URL, {"inactive": "1"}))


def test_mood_mix_valence_and_change_are_computed_over_the_last_two_weeks(clinician_web, patient):
    now = timezone.now()
    add_records(patient, now - timedelta(hours=1), "positive", 12)
    add_records(patient, now - timedelta(days=2), "negative", 4)
    add_records(patient, now - timedelta(days=2), "neutral", 4)
    add_records(patient, now - timedelta(days=9), "negative", 20)  # the previous 7 days: valence -1
    add_records(patient, now - timedelta(days=30), "positive", 50)  # outside both windows
    row = rows(clinician_web.get(URL))["P-ALPHA"]
    assert row.mood.counts == {"positive": 12, "negative": 4, "neutral": 4, "other": 0}
    assert row.mood.valence == pytest.approx(0.4)
    assert row.mood.previous_valence == pytest.approx(-1.0)
    assert row.mood.valence_change == pytest.approx(1.4)
    assert row.mood.days_without_data == 5


def test_the_change_is_left_blank_when_either_week_rests_on_too_few_records(clinician_web, patient):
    now = timezone.now()
    add_records(patient, now - timedelta(hours=1), "positive", VALENCE_CHANGE_MIN_RECORDS)
    add_records(patient, now - timedelta(days=9), "negative", VALENCE_CHANGE_MIN_RECORDS - 1)
    response = clinician_web.get(URL)
    row = rows(response)["P-ALPHA"]
    assert row.mood.valence == pytest.approx(1.0) and row.mood.previous_valence == pytest.approx(-1.0)
    assert row.mood.valence_change is None
    add_records(patient, now - timedelta(days=10), "negative", 1)
    assert rows(clinician_web.get(URL))["P-ALPHA"].mood.valence_change == pytest.approx(2.0)


def test_coverage_counts_frames_faces_and_the_last_upload(clinician_web, patient):
    now = timezone.now()
    add_records(patient, now - timedelta(hours=3), "neutral", 3, frame_count=10, frames_with_face=3)
    add_records(patient, now - timedelta(days=1), "neutral", 5, frame_count=10, frames_with_face=5)
    row = rows(clinician_web.get(URL))["P-ALPHA"]
    assert row.frames == 20
    assert row.face_share == pytest.approx(0.4)
    assert abs((row.last_upload - (now - timedelta(hours=3))).total_seconds()) < 1


def test_a_patient_without_data_shows_dashes_not_errors(clinician_web, patient):
    response = clinician_web.get(URL)
    row = rows(response)["P-ALPHA"]
    assert row.mood.valence is None and row.last_upload is None and row.mood.days_without_data == 7
    assert "no records" in response.content.decode()


def test_an_open_unacknowledged_alert_shows_a_badge(clinician_web, patient):
    now = timezone.now()
    Alert.objects.create(patient=patient, kind=Alert.Kind.NO_DATA, raised_at=now, evaluated_at=now)
    response = clinician_web.get(URL)
    assert rows(response)["P-ALPHA"].open_alerts == 1
    assert 'class="badge alert"' in response.content.decode()


def test_patients_sort_by_valence_in_both_directions(clinician_web, clinician):
    now = timezone.now()
    for reference, mood in [("P-HAPPY", "positive"), ("P-SAD", "negative"), ("P-CALM", "neutral")]:
        add_records(PatientFactory(reference=reference, clinicians=[clinician]), now - timedelta(hours=2), mood, 3)
    PatientFactory(reference="P-EMPTY", clinicians=[clinician])  # no data: last either way
    ascending = [r.patient.reference for r in clinician_web.get(URL, {"sort": "valence"}).context["rows"]]
    descending = [
        r.patient.reference for r in clinician_web.get(URL, {"sort": "valence", "dir": "desc"}).context["rows"]
    ]
    assert ascending == ["P-SAD", "P-CALM", "P-HAPPY", "P-EMPTY"]
    assert descending == ["P-HAPPY", "P-CALM", "P-SAD", "P-EMPTY"]


def test_by_default_patients_with_alerts_come_first(clinician_web, clinician):
    quiet = PatientFactory(reference="P-A-QUIET", clinicians=[clinician])
    loud = PatientFactory(reference="P-Z-LOUD", clinicians=[clinician])
    now = timezone.now()
    Alert.objects.create(patient=loud, kind=Alert.Kind.NO_DATA, raised_at=now, evaluated_at=now)
    order = [r.patient.reference for r in clinician_web.get(URL).context["rows"]]
    assert order.index("P-Z-LOUD") < order.index(quiet.reference)
