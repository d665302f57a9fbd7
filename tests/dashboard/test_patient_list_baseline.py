"""The list shows each patient's negative share against their own baseline, with the interval of the
change, and says when the baseline is still building."""
from datetime import timedelta

from django.utils import timezone

from backend.alerts.selectors import alert_rule_for
from backend.audit.models import AuditAction, AuditEvent
from tests.backend.factories import PatientFactory, add_records

URL = "/patients/"


def test_the_list_shows_the_change_from_the_patients_own_baseline_with_its_interval(clinician_web, clinician):
    now = timezone.now()
    rising = PatientFactory(reference="P-RISE", clinicians=[clinician], timezone="UTC")
    for back in range(6, 16):  # the baseline (days 3-4 before today: the guard band)
        add_records(rising, now - timedelta(days=back), "negative", 2)
        add_records(rising, now - timedelta(days=back), "neutral", 8)
    for back in range(3):
        add_records(rising, now - timedelta(days=back, minutes=1), "negative", 16)
        add_records(rising, now - timedelta(days=back, minutes=1), "neutral", 4)
    newcomer = PatientFactory(reference="P-NEW", clinicians=[clinician])
    add_records(newcomer, now - timedelta(minutes=5), "neutral", 3)

    response = clinician_web.get(URL + "?sort=baseline&dir=desc")
    assert response.status_code == 200
    rows = {row.patient.reference: row for row in response.context["rows"]}
    assert rows["P-RISE"].baseline_text == "negative 80% vs baseline 20%"
    assert rows["P-RISE"].baseline_note.startswith("+60 points (±") and "95% interval" in rows["P-RISE"].baseline_note
    assert rows["P-RISE"].baseline_class == "neg"
    assert (rows["P-NEW"].baseline_text, rows["P-NEW"].baseline_note) == (
        "baseline building", "0 of 70 records, 0 of 7 days")
    page = response.content.decode()
    assert "Vs baseline" in page and "negative 80% vs baseline 20%" in page
    assert [row.patient.reference for row in response.context["rows"]][0] == "P-RISE"


def test_the_patient_page_says_the_baseline_is_building_and_which_rule_alerts(clinician_web, patient):
    add_records(patient, timezone.now() - timedelta(days=7), "neutral", 3)  # before window and guard: baseline
    add_records(patient, timezone.now() - timedelta(days=4), "neutral", 4)  # the guard band: neither
    add_records(patient, timezone.now() - timedelta(minutes=5), "neutral", 2)  # in the window: not baseline
    page = clinician_web.get(f"/patients/{patient.pk}/").content.decode()
    assert "Own baseline building: 3 of 70 records, 1 of 7 days (no change alert until then)." in page
    assert "above this patient's own baseline (28 days, ending 2 days before the window)" in page


def test_the_mood_share_chart_draws_the_own_baseline_as_a_band_once_it_is_ready(clinician_web, patient):
    now = timezone.now()
    for back in range(6, 14):
        add_records(patient, now - timedelta(days=back), "negative", 3)
        add_records(patient, now - timedelta(days=back), "neutral", 12)
    add_records(patient, now - timedelta(minutes=5), "neutral", 2)
    figures = clinician_web.get(f"/patients/{patient.pk}/?range=30d").context["figures"]
    layout = figures["mood-share"]["figure"]["layout"]
    band, line = layout["shapes"]
    assert line["y0"] == line["y1"] == 80.0, "negative is stacked on top: 20% negative starts at 80%"
    assert band["y0"] < 80.0 < band["y1"] <= 100.0
    assert "own baseline: negative 20% (usual day" in layout["annotations"][0]["text"]


def test_no_band_while_the_baseline_is_building(clinician_web, patient):
    add_records(patient, timezone.now() - timedelta(minutes=5), "neutral", 2)
    layout = clinician_web.get(f"/patients/{patient.pk}/").context["figures"]["mood-share"]["figure"]["layout"]
    assert "shapes" not in layout and "annotations" not in layout


def test_the_manage_page_sets_the_negative_mood_rule_per_patient_and_audits_it(clinician_web, patient):
    page = clinician_web.get(f"/patients/{patient.pk}/manage/").content.decode()
    assert "Negative-mood rule" in page and "default change from the patient&#x27;s own baseline" in page
    response = clinician_web.post(f"/patients/{patient.pk}/thresholds/", {"rule": "absolute"})
    assert response.status_code == 302
    assert alert_rule_for(patient=patient) == "absolute"
    event = AuditEvent.objects.filter(action=AuditAction.ALERT_THRESHOLDS_CHANGE).latest("id")
    assert event.detail["after"]["rule"] == "absolute"
    clinician_web.post(f"/patients/{patient.pk}/thresholds/", {"rule": ""})
    assert alert_rule_for(patient=patient) == "baseline", "empty: the default again"
    clinician_web.post(f"/patients/{patient.pk}/thresholds/", {"rule": "sometimes"})
    assert alert_rule_for(patient=patient) == "baseline", "an unknown rule is refused"
