"""Issue 29 part 3: each clinician chooses the time zone the inbox (and every page outside a
patient's) shows times in; a patient's pages keep the patient's zone and name it. The change is
audited; a wrong zone is a form error in words. The alert e-mail links to MOODWATCH_PUBLIC_URL."""
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from backend.alerts.models import Alert
from backend.alerts.services import alert_notify
from backend.audit.models import AuditAction, AuditEvent
from backend.patients.models import ClinicianPreferences
from backend.patients.selectors import clinician_timezone
from backend.patients.services import clinician_timezone_set
from dashboard.middleware import ClinicianTimezoneMiddleware

RAISED = datetime(2026, 7, 1, 12, 30, tzinfo=UTC)


@pytest.fixture
def alert(patient):
    return Alert.objects.create(patient=patient, kind=Alert.Kind.NO_DATA, raised_at=RAISED, evaluated_at=RAISED)


def stamp(zone: str) -> str:
    local = RAISED.astimezone(ZoneInfo(zone))
    return f"raised {local:%Y-%m-%d %H:%M} {local.tzname()}"


def test_the_header_leads_to_the_settings_page(clinician_web):
    page = clinician_web.get("/patients/").content.decode()
    assert '<a class="settings-link" href="/settings/">Settings</a>' in page
    assert clinician_web.get("/settings/").status_code == 200


def test_the_inbox_shows_times_in_the_clinicians_zone_and_names_it(clinician_web, clinician, alert):
    inbox = clinician_web.get("/alerts/").content.decode()
    assert stamp("UTC") in inbox and "Times in your time zone, UTC" in inbox  # nothing chosen: settings' UTC
    response = clinician_web.post("/settings/", {"timezone": "America/New_York"})
    assert response.status_code == 302 and response["Location"] == "/settings/"
    inbox = clinician_web.get("/alerts/").content.decode()
    assert stamp("America/New_York") in inbox and "Times in your time zone, America/New_York" in inbox
    assert stamp("UTC") not in inbox


def test_a_patients_page_keeps_the_patients_zone_and_names_it(clinician_web, clinician, patient, alert):
    clinician_timezone_set(user=clinician, timezone_name="America/New_York")
    page = clinician_web.get(f"/patients/{patient.pk}/").content.decode()
    assert stamp(patient.timezone) in page and stamp("America/New_York") not in page
    assert f"time zone <strong>{patient.timezone}</strong>" in page


@pytest.mark.parametrize("path, zone", [("/alerts/", "Asia/Tokyo"), ("/admin/", "Asia/Tokyo"),
                                        ("/api/v1/patients/", "UTC")])
def test_the_zone_is_active_for_pages_but_not_the_api(rf, clinician, path, zone):
    clinician_timezone_set(user=clinician, timezone_name="Asia/Tokyo")
    seen = []
    middleware = ClinicianTimezoneMiddleware(lambda request: seen.append(timezone.get_current_timezone_name()))
    request = rf.get(path)
    request.user = clinician
    middleware(request)
    assert seen == [zone]
    assert timezone.get_current_timezone_name() == "UTC"  # deactivated after the request


def test_a_change_is_audited_once_with_before_and_after(clinician_web, clinician):
    clinician_web.post("/settings/", {"timezone": "Europe/Paris"})
    clinician_web.post("/settings/", {"timezone": "Europe/Paris"})  # the same again: nothing to record
    clinician_web.post("/settings/", {"timezone": "Asia/Kolkata"})
    events = AuditEvent.objects.filter(action=AuditAction.CLINICIAN_TIMEZONE).order_by("id")
    assert [e.detail for e in events] == [{"before": None, "after": "Europe/Paris"},
                                          {"before": "Europe/Paris", "after": "Asia/Kolkata"}]
    assert {e.actor_id for e in events} == {clinician.pk}
    assert clinician_timezone(user=clinician) == "Asia/Kolkata"


@pytest.mark.parametrize("value", ["Mars/Olympus_Mons", "Europe/Paris" + "x" * 288, "Europe/\x00Paris", "\x00",
                                   "", "   ", "europe/paris", "../../etc/passwd", "UTC; DROP TABLE", "+02:00"])
def test_a_wrong_zone_is_a_form_error_in_words_and_changes_nothing(clinician_web, clinician, value):
    clinician_timezone_set(user=clinician, timezone_name="Europe/Paris")
    response = clinician_web.post("/settings/", {"timezone": value})
    assert response.status_code == 400
    page = response.content.decode()
    error = re.search(r'<p class="error" id="id_timezone_error" role="alert">(.*?)</p>', page)
    assert error and error.group(1).startswith("Choose a time zone from the list"), page
    assert "IANA time zone name" not in page and "Null characters" not in page and "at most" not in page
    assert 'aria-invalid="true"' in page
    assert clinician_timezone(user=clinician) == "Europe/Paris"
    assert AuditEvent.objects.filter(action=AuditAction.CLINICIAN_TIMEZONE).count() == 1


def test_the_service_refuses_what_the_form_refuses(clinician):
    with pytest.raises(ValidationError):
        clinician_timezone_set(user=clinician, timezone_name="Nowhere/Atlantis")
    assert not ClinicianPreferences.objects.exists()


def test_the_alert_email_links_to_the_configured_site_url(alert, clinician, mailoutbox, settings):
    settings.MOODWATCH_PUBLIC_URL = "https://moodwatch.hospital.example"
    alert.raised_at = alert.evaluated_at = timezone.now() - timedelta(minutes=1)
    alert.save()
    assert alert_notify(alert_pk=alert.pk) is True
    links = re.findall(r"https?://\S+", mailoutbox[0].body)
    assert links == ["https://moodwatch.hospital.example/alerts/"], mailoutbox[0].body
    assert ":8000" not in mailoutbox[0].body
