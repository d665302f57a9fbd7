"""GET /api/v1/patients/{id}/mood-summary/: SQL buckets in the patient's time zone."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from backend.audit.models import AuditAction, AuditChannel, AuditEvent
from tests.backend.conftest import clinician_client
from tests.backend.factories import add_records

UTC = ZoneInfo("UTC")


def url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/mood-summary/"


@pytest.fixture
def tokyo_patient(clinician):
    from tests.backend.factories import PatientFactory

    return PatientFactory(reference="P-TOKYO", clinicians=[clinician], timezone="Asia/Tokyo")


def add(patient, when: datetime, mood: str, n: int = 1):
    add_records(patient, when, mood, n)


def test_days_are_cut_at_the_patients_midnight_not_utc(clinician, tokyo_patient):
    # 14:30 UTC on 9 March is 23:30 on 9 March in Tokyo; 15:30 UTC is 00:30 on 10 March there.
    add(tokyo_patient, datetime(2026, 3, 9, 14, 30, tzinfo=UTC), "positive", 3)
    add(tokyo_patient, datetime(2026, 3, 9, 15, 30, tzinfo=UTC), "negative", 1)
    body = clinician_client(clinician).get(
        url(tokyo_patient), {"from": "2026-03-08", "to": "2026-03-11", "bucket": "day"}
    ).json()
    assert body["timezone"] == "Asia/Tokyo"
    assert [b["start"] for b in body["buckets"]] == ["2026-03-09T00:00:00+09:00", "2026-03-10T00:00:00+09:00"]
    assert [b["counts"]["positive"] for b in body["buckets"]] == [3, 0]
    assert [b["counts"]["negative"] for b in body["buckets"]] == [0, 1]


def test_each_bucket_has_counts_shares_records_and_valence(clinician, patient):
    when = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    add(patient, when, "positive", 5)
    add(patient, when, "negative", 2)
    add(patient, when, "neutral", 2)
    add(patient, when, "other", 1)
    body = clinician_client(clinician).get(url(patient), {"from": "2026-03-10", "to": "2026-03-10"}).json()
    (bucket,) = body["buckets"]
    assert bucket["records"] == 10
    assert bucket["counts"] == {"positive": 5, "negative": 2, "neutral": 2, "other": 1}
    assert bucket["shares"] == pytest.approx({"positive": 0.5, "negative": 0.2, "neutral": 0.2, "other": 0.1})
    assert bucket["valence"] == pytest.approx(0.3)


def test_hour_and_week_buckets(clinician, patient):
    add(patient, datetime(2026, 3, 10, 8, 10, tzinfo=UTC), "positive")
    add(patient, datetime(2026, 3, 10, 8, 50, tzinfo=UTC), "positive")
    add(patient, datetime(2026, 3, 17, 9, 5, tzinfo=UTC), "negative")
    client = clinician_client(clinician)
    hours = client.get(url(patient), {"from": "2026-03-10", "to": "2026-03-17", "bucket": "hour"}).json()
    assert [(b["start"], b["records"]) for b in hours["buckets"]] == [
        ("2026-03-10T09:00:00+01:00", 2), ("2026-03-17T10:00:00+01:00", 1)
    ]
    weeks = client.get(url(patient), {"from": "2026-03-01", "to": "2026-03-31", "bucket": "week"}).json()
    assert [(b["start"], b["records"]) for b in weeks["buckets"]] == [
        ("2026-03-09T00:00:00+01:00", 2), ("2026-03-16T00:00:00+01:00", 1)
    ]


def test_another_clinicians_patient_is_a_404(other_clinician, patient):
    assert clinician_client(other_clinician).get(url(patient)).status_code == 404


def test_an_unknown_bucket_is_a_400(clinician, patient):
    response = clinician_client(clinician).get(url(patient), {"bucket": "month"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "bucket"


def test_an_hourly_summary_over_a_year_is_refused(clinician, patient):
    response = clinician_client(clinician).get(
        url(patient), {"from": "2025-01-01", "to": "2026-01-01", "bucket": "hour"}
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "range_too_long"


def test_a_reversed_range_is_refused(clinician, patient):
    response = clinician_client(clinician).get(url(patient), {"from": "2026-03-10", "to": "2026-03-01"})
    assert response.status_code == 400


def test_a_summary_read_is_audited_with_its_range_and_bucket(clinician, patient):
    response = clinician_client(clinician).get(
        url(patient), {"from": "2026-03-01", "to": "2026-03-07", "bucket": "week"}
    )
    assert response.status_code == 200
    event = AuditEvent.objects.get()
    assert (event.action, event.channel, event.actor, event.patient) == (
        AuditAction.SUMMARY_READ, AuditChannel.API, clinician, patient)
    assert event.detail == {"start": "2026-03-01T00:00:00+01:00", "end": "2026-03-08T00:00:00+01:00", "bucket": "week"}
