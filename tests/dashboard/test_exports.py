"""Exports of the selected range: records CSV and summary CSV (streamed), FHIR R4 Bundle; all audited."""
import csv
import io
import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.http import StreamingHttpResponse
from fhir.resources.R4B.bundle import Bundle

from backend.audit.models import AuditAction, AuditEvent
from tests.backend.factories import add_records

UTC = ZoneInfo("UTC")
RANGE = {"range": "custom", "start": "2026-03-09", "end": "2026-03-10", "bucket": "day"}


@pytest.fixture
def two_days(patient):
    add_records(patient, datetime(2026, 3, 9, 8, 0, tzinfo=UTC), "positive", 3)
    add_records(patient, datetime(2026, 3, 9, 9, 0, tzinfo=UTC), "negative", 1)
    add_records(patient, datetime(2026, 3, 10, 23, 30, tzinfo=UTC), "neutral", 2)  # 11 March 00:30 in Paris: outside
    add_records(patient, datetime(2026, 3, 10, 12, 0, tzinfo=UTC), "other", 2)
    return patient


def read_csv(response) -> list[dict]:
    assert isinstance(response, StreamingHttpResponse)
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_records_csv_streams_every_record_of_the_range_in_local_time(clinician_web, two_days):
    response = clinician_web.get(f"/patients/{two_days.pk}/export/records.csv", RANGE)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'attachment; filename="P-ALPHA_records_20260309-20260311.csv"' == response["Content-Disposition"]
    rows = read_csv(response)
    assert [r["mood"] for r in rows] == ["positive"] * 3 + ["negative", "other", "other"]
    assert rows[0]["captured_at"] == "2026-03-09T09:00:00+01:00"
    assert float(rows[0]["p_positive"]) == pytest.approx(0.7)
    # probabilities as the model can claim them (PROBABILITY_DECIMALS), not 0.699999988079071
    assert [rows[0][f"p_{m}"] for m in ("positive", "neutral", "other", "negative")] == ["0.70", "0.10", "0.10", "0.10"]
    assert rows[0]["detection_score"] == "0.90"
    assert set(rows[0]) == {
        "captured_at", "mood", "p_positive", "p_neutral", "p_other", "p_negative", "detection_score", "model_version",
    }


def test_summary_csv_has_one_row_per_bucket_with_counts_shares_and_valence(clinician_web, two_days):
    rows = read_csv(clinician_web.get(f"/patients/{two_days.pk}/export/summary.csv", RANGE))
    assert [(r["bucket_start"], r["records"]) for r in rows] == [
        ("2026-03-09T00:00:00+01:00", "4"), ("2026-03-10T00:00:00+01:00", "2"),
    ]
    assert (rows[0]["count_positive"], rows[0]["share_positive"], rows[0]["valence"]) == ("3", "0.7500", "0.5000")


def test_fhir_export_is_a_valid_r4_bundle_of_one_observation_per_bucket(clinician_web, two_days):
    response = clinician_web.get(f"/patients/{two_days.pk}/export/fhir.json", RANGE)
    assert response["Content-Type"] == "application/fhir+json"
    body = json.loads(response.content)
    Bundle.model_validate(body)  # the official R4B models: raises on any structural error
    assert body["resourceType"] == "Bundle" and body["type"] == "collection"
    observations = [e["resource"] for e in body["entry"]]
    assert [o["resourceType"] for o in observations] == ["Observation", "Observation"]
    first = observations[0]
    assert first["status"] == "final"
    assert first["code"]["coding"][0]["code"] == "facial-expression-mood-shares" and first["code"]["text"]
    assert first["subject"] == {"identifier": {"system": "urn:moodwatch:patient-reference", "value": "P-ALPHA"}}
    assert first["effectivePeriod"] == {"start": "2026-03-09T00:00:00+01:00", "end": "2026-03-10T00:00:00+01:00"}
    values = {c["code"]["coding"][0]["code"]: c["valueQuantity"] for c in first["component"]}
    assert values["mood-share-positive"] == {
        "value": 75.0, "unit": "%", "system": "http://unitsofmeasure.org", "code": "%",
    }
    assert values["mood-share-negative"]["value"] == 25.0
    assert values["valence-index"]["value"] == 0.5
    assert values["record-count"]["value"] == 4
    assert all(e["fullUrl"] == f"urn:uuid:{e['resource']['id']}" for e in body["entry"])


def test_fhir_export_never_contains_the_display_name(clinician_web, two_days):
    two_days.display_name = "Jane Realname"
    two_days.save()
    assert "Realname" not in clinician_web.get(f"/patients/{two_days.pk}/export/fhir.json", RANGE).content.decode()


@pytest.mark.parametrize("path, action", [
    ("records.csv", AuditAction.EXPORT_RECORDS_CSV),
    ("summary.csv", AuditAction.EXPORT_SUMMARY_CSV),
    ("fhir.json", AuditAction.EXPORT_FHIR),
])
def test_every_export_is_audited(clinician_web, clinician, two_days, path, action):
    clinician_web.get(f"/patients/{two_days.pk}/export/{path}", RANGE, REMOTE_ADDR="192.0.2.7")
    event = AuditEvent.objects.get(action=action)
    assert (event.actor, event.patient, event.ip_address) == (clinician, two_days, "192.0.2.7")
    assert event.detail["start"] == "2026-03-09T00:00:00+01:00"


@pytest.mark.parametrize("path", ["records.csv", "summary.csv", "fhir.json"])
def test_another_clinician_cannot_export_and_nothing_is_audited(other_clinician_web, two_days, path):
    assert other_clinician_web.get(f"/patients/{two_days.pk}/export/{path}", RANGE).status_code == 404
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize("path", ["records.csv", "summary.csv", "fhir.json"])
def test_anonymous_cannot_export(anonymous_web, two_days, path):
    assert anonymous_web.get(f"/patients/{two_days.pk}/export/{path}").status_code == 302


def test_records_csv_rounds_every_probability_and_score_to_two_decimals(clinician_web, patient):
    from datetime import UTC, datetime

    from backend.moods.models import MoodRecord
    from tests.backend.factories import add_records

    add_records(patient, datetime(2026, 3, 9, 12, tzinfo=UTC), "positive", 1)
    MoodRecord.objects.filter(patient=patient).update(p_positive=0.123456789, p_neutral=1e-12, p_other=0.995,
                                                      p_negative=0.87654321, detection_score=1.0)
    rows = read_csv(clinician_web.get(f"/patients/{patient.pk}/export/records.csv", RANGE))
    assert [rows[0][k] for k in ("p_positive", "p_neutral", "p_other", "p_negative", "detection_score")] == [
        "0.12", "0.00", "0.99", "0.88", "1.00"]
