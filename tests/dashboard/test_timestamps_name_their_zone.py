"""Issue 29 part 3: every timestamp on the pages names its zone (the inbox is in UTC, a patient's
pages in the patient's zone), and the timeline's hover gives the time and the zone in every range."""
import re
from datetime import timedelta

from django.utils import timezone

from backend.alerts.models import Alert
from tests.backend.factories import DeviceFactory, add_records

STAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}(?! ?[A-Z+(-])")  # a date and time with no zone after it


def visible(html: str) -> str:
    body = html.split("<main", 1)[1]
    body = re.sub(r"<script.*?</script>", "", body, flags=re.S)
    # a data table names the zone once, in its first column's header
    charts = re.findall(r'<details class="chart-table">.*?</details>', body, flags=re.S)
    for table in charts:
        assert re.search(r"<th scope=\"col\">\w+ starting \([\w/+-]+\)</th>", table), table[:300]
    body = re.sub(r'<details class="chart-table">.*?</details>', "", body, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def test_inbox_patient_and_manage_pages_name_the_zone_of_every_time(clinician_web, patient):
    patient.timezone = "Europe/Paris"
    patient.save()
    now = timezone.now()
    add_records(patient, now - timedelta(hours=2), "negative", 3)
    DeviceFactory(patient=patient, label="Pixel 7")
    Alert.objects.create(patient=patient, kind=Alert.Kind.NO_DATA, raised_at=now - timedelta(hours=1),
                         evaluated_at=now, resolved_at=None)
    inbox = visible(clinician_web.get("/alerts/").content.decode())
    assert re.search(r"raised \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC", inbox), inbox
    for url in (f"/patients/{patient.pk}/", f"/patients/{patient.pk}/manage/", "/alerts/"):
        text = visible(clinician_web.get(url).content.decode())
        assert not STAMP.findall(text), (url, STAMP.findall(text))
    manage = visible(clinician_web.get(f"/patients/{patient.pk}/manage/").content.decode())
    assert re.search(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2} CES?T", manage), manage


def test_the_timeline_hover_carries_the_time_and_the_zone(clinician_web, patient):
    import json

    add_records(patient, timezone.now() - timedelta(days=3), "neutral", 1)
    html = clinician_web.get(f"/patients/{patient.pk}/", {"range": "30d"}).content.decode()
    timeline = json.loads(re.search(r'<script id="figure-timeline" type="application/json">(.*?)</script>',
                                    html, re.S).group(1))
    for trace in timeline["data"]:
        assert trace["hovertemplate"].startswith("%{x|%a %-d %b %Y, %H:%M:%S} " + patient.timezone + "<br>")


def test_the_data_tables_give_the_records_behind_each_bucket(clinician_web, patient):
    now = timezone.now()
    add_records(patient, now - timedelta(days=2), "positive", 5)
    add_records(patient, now - timedelta(days=1), "negative", 1)
    response = clinician_web.get(f"/patients/{patient.pk}/", {"range": "7d"})
    figures = response.context["figures"]
    for key in ("mood-share", "valence"):
        table = figures[key]["table"]
        assert table["columns"][-1] == "records"
        counts = [row[-1] for row in table["rows"]]
        assert sorted(counts, key=int)[-2:] == ["1", "5"] and counts.count("0") == len(counts) - 2, counts
    html = response.content.decode()
    assert '<th scope="col">records</th>' in html
