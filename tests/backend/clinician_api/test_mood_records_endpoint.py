"""GET /api/v1/patients/{id}/moods/?from=&to=: paginated records of the clinician's own patient."""
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from backend.audit.models import AuditAction, AuditChannel, AuditEvent
from tests.backend.conftest import clinician_client
from tests.backend.factories import FrameBatchFactory, MoodRecordFactory

PARIS = ZoneInfo("Europe/Paris")


def url(patient) -> str:
    return f"/api/v1/patients/{patient.pk}/moods/"


@pytest.fixture
def records(patient, device):
    batch = FrameBatchFactory(device=device)
    start = datetime(2026, 3, 10, 9, 0, tzinfo=PARIS)
    return [
        MoodRecordFactory(batch=batch, frame_index=i, captured_at=start + timedelta(hours=i), mood="positive")
        for i in range(30)
    ]


def test_the_patients_clinician_reads_records_in_a_time_range(clinician, patient, records):
    response = clinician_client(clinician).get(
        url(patient), {"from": "2026-03-10T10:00:00+01:00", "to": "2026-03-10T13:00:00+01:00"}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["captured_at"] for r in body["results"]] == [
        "2026-03-10T09:00:00Z", "2026-03-10T10:00:00Z", "2026-03-10T11:00:00Z"
    ]
    first = body["results"][0]
    assert set(first) >= {"captured_at", "mood", "probabilities", "box", "detection_score", "model_version"}
    assert set(first["probabilities"]) == {"positive", "negative", "neutral", "other"}


def test_dates_cover_whole_days_in_the_patients_time_zone(clinician, patient, records):
    body = clinician_client(clinician).get(url(patient), {"from": "2026-03-10", "to": "2026-03-10"}).json()
    assert len(body["results"]) == 15  # 09:00 .. 23:00 Paris time


def test_records_are_paginated_with_a_cursor(clinician, patient, records):
    client = clinician_client(clinician)
    query = {"from": "2026-03-01", "to": "2026-03-31", "page_size": 20}
    first = client.get(url(patient), query).json()
    assert len(first["results"]) == 20 and first["next"]
    second = client.get(first["next"]).json()
    assert len(second["results"]) == 10 and second["next"] is None
    ids = [r["id"] for r in first["results"] + second["results"]]
    assert len(set(ids)) == 30


def test_another_clinician_gets_a_404_for_a_patient_not_theirs(other_clinician, patient, records):
    response = clinician_client(other_clinician).get(url(patient))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_admin_reads_any_patient(admin_user, patient, records):
    assert clinician_client(admin_user).get(url(patient), {"from": "2026-03-01", "to": "2026-03-31"}).status_code == 200


def test_a_bad_range_is_a_400_naming_the_parameter(clinician, patient):
    response = clinician_client(clinician).get(url(patient), {"from": "last tuesday"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "from"


def test_a_datetime_without_offset_is_a_400(clinician, patient):
    response = clinician_client(clinician).get(url(patient), {"from": "2026-03-10T10:00:00"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "timestamp_without_offset"


def test_an_unknown_patient_id_is_a_404(clinician, db):
    assert clinician_client(clinician).get("/api/v1/patients/not-a-uuid/moods/").status_code == 404


def test_each_page_read_is_audited_with_its_range_and_count(clinician, patient, records):
    client = clinician_client(clinician)
    first = client.get(url(patient), {"from": "2026-03-01", "to": "2026-03-31", "page_size": 20}).json()
    client.get(first["next"])
    events = AuditEvent.objects.filter(action=AuditAction.RECORDS_READ).order_by("id")
    assert [(e.actor, e.patient, e.channel, e.detail["records"]) for e in events] == [
        (clinician, patient, AuditChannel.API, 20), (clinician, patient, AuditChannel.API, 10)]
    assert events[0].detail["start"] == "2026-03-01T00:00:00+01:00"
    assert events[0].detail["end"] == "2026-04-01T00:00:00+02:00"


def test_a_refused_read_leaves_no_audit_row(clinician, other_clinician, patient, records):
    assert clinician_client(clinician).get(url(patient), {"from": "last tuesday"}).status_code == 400
    assert clinician_client(other_clinician).get(url(patient)).status_code == 404
    assert clinician_client(clinician).get(url(patient), {"cursor": "cD1nYXJiYWdl"}).status_code == 404
    assert not AuditEvent.objects.exists()


def test_records_name_their_upload_by_its_uuid_not_a_global_counter(clinician, patient, device, records,
                                                                   other_patient, other_device):
    """A clinician must not learn how many batches the whole hospital uploaded between two of theirs."""
    FrameBatchFactory.create_batch(5, device=other_device)  # another team's uploads in between
    later = FrameBatchFactory(device=device)
    MoodRecordFactory(batch=later, frame_index=0, captured_at=datetime(2026, 3, 12, 9, 0, tzinfo=PARIS))
    body = clinician_client(clinician).get(url(patient), {"from": "2026-03-01", "to": "2026-03-31"}).json()
    uploads = {r["batch_id"] for r in body["results"]}
    assert uploads == {str(records[0].batch.batch_id), str(later.batch_id)}
    assert all("batch" not in r for r in body["results"])
    leaked = {str(records[0].batch.pk), str(later.pk)}
    assert not leaked & {str(v) for r in body["results"] for k, v in r.items() if k != "id"}
