"""GET /patients/<id>/: the patient page, its charts, empty states, range handling and permissions."""
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from backend.audit.models import AuditAction, AuditEvent
from dashboard.staticfiles import STATIC_PATH
from tests.backend.factories import add_records


def url(patient) -> str:
    return f"/patients/{patient.pk}/"


def figures(response) -> dict:
    html = response.content.decode()
    found = re.findall(r'<script id="figure-([a-z-]+)" type="application/json">(.*?)</script>', html, re.S)
    return {key: json.loads(body) for key, body in found}


@pytest.fixture
def week_of_records(patient):
    now = timezone.now()
    for days_ago, mood, n in [(1, "positive", 6), (1, "negative", 2), (2, "neutral", 4), (3, "negative", 5)]:
        add_records(patient, now - timedelta(days=days_ago), mood, n)
    return now


def test_the_patients_clinician_sees_all_four_charts_with_the_records(clinician_web, patient, week_of_records):
    response = clinician_web.get(url(patient))
    assert response.status_code == 200
    charts = figures(response)
    assert set(charts) == {"mood-share", "valence", "timeline", "coverage"}
    timeline_points = sum(len(trace["x"]) for trace in charts["timeline"]["data"])
    assert timeline_points == 17
    share_counts = [sum(c[0] for c in trace["customdata"]) for trace in charts["mood-share"]["data"]]
    assert sum(share_counts) == 17


def test_the_page_names_the_patients_time_zone(clinician_web, patient, week_of_records):
    response = clinician_web.get(url(patient))
    assert "Europe/Paris" in response.content.decode()


def test_another_clinician_gets_404_not_a_leak(other_clinician_web, patient, week_of_records):
    response = other_clinician_web.get(url(patient))
    assert response.status_code == 404
    assert patient.reference not in response.content.decode()


def test_an_unknown_or_malformed_id_is_404(clinician_web):
    assert clinician_web.get("/patients/not-a-uuid/").status_code == 404
    assert clinician_web.get("/patients/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_an_admin_sees_any_patient(admin_web, patient, week_of_records):
    assert admin_web.get(url(patient)).status_code == 200


def test_anonymous_is_sent_to_login(anonymous_web, patient):
    response = anonymous_web.get(url(patient))
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_an_empty_range_shows_an_explanation_not_a_chart(clinician_web, patient):
    response = clinician_web.get(url(patient), {"range": "24h"})
    html = response.content.decode()
    assert response.status_code == 200
    assert figures(response) == {}
    assert "No data in this range" in html
    assert STATIC_PATH not in html


def test_every_view_is_audited_with_who_which_patient_and_ip(clinician_web, clinician, patient):
    clinician_web.get(url(patient), REMOTE_ADDR="10.1.2.3")
    event = AuditEvent.objects.get(action=AuditAction.PATIENT_VIEW)
    assert (event.actor, event.patient, event.patient_reference, event.ip_address) == (
        clinician, patient, "P-ALPHA", "10.1.2.3"
    )


def test_a_refused_view_is_not_audited_as_a_view(other_clinician_web, patient):
    other_clinician_web.get(url(patient))
    assert not AuditEvent.objects.filter(action=AuditAction.PATIENT_VIEW).exists()


@pytest.mark.parametrize("preset, bucket", [("24h", "hour"), ("7d", "day"), ("30d", "day"), ("90d", "day")])
def test_each_preset_has_a_sensible_default_bucket(clinician_web, patient, preset, bucket):
    response = clinician_web.get(url(patient), {"range": preset})
    assert response.context["period"].bucket == bucket


def test_a_custom_range_covers_whole_local_days(clinician_web, patient):
    response = clinician_web.get(
        url(patient), {"range": "custom", "start": "2026-03-01", "end": "2026-03-02", "bucket": "hour"}
    )
    period = response.context["period"]
    assert period.start.isoformat() == "2026-03-01T00:00:00+01:00"
    assert period.end.isoformat() == "2026-03-03T00:00:00+01:00"
    assert period.bucket == "hour"
    assert "Sun 1 Mar 2026, 00:00 – Tue 3 Mar 2026, 00:00" in response.content.decode()  # shown in local time


def test_hour_buckets_over_a_long_range_fall_back_to_days_with_a_note(clinician_web, patient):
    response = clinician_web.get(url(patient), {"range": "90d", "bucket": "hour"})
    assert response.context["period"].bucket == "day"
    assert "Hour buckets do not fit a range of this length; showing day buckets." in response.content.decode()


def test_a_reversed_custom_range_is_refused_with_a_message_on_the_default_page(clinician_web, patient):
    response = clinician_web.get(url(patient), {"range": "custom", "start": "2026-03-05", "end": "2026-03-01"})
    assert response.status_code == 400
    assert "must not be after" in response.content.decode()
    assert response.context["period"].preset == "7d"


def test_plotly_is_served_locally_never_from_a_cdn(clinician_web, patient, week_of_records):
    html = clinician_web.get(url(patient)).content.decode()
    assert f'<script src="/static/{STATIC_PATH}">' in html
    assert "cdn" not in html.lower()
