"""A refused alert step (a missing reason, an "Other" with no note, a bad snooze time, an empty note)
answers the page the clinician came from, 400, with the message beside that alert, the step's form
open and what was typed kept; not a separate page that loses the form."""
import re

import pytest

from tests.backend.alerts.test_alert_workflow import raise_alert, step_url, unchanged


@pytest.fixture
def alert(patient):
    return raise_alert(patient)


def article(response, alert) -> str:
    found = re.search(rf'<article [^>]*id="alert-{alert.pk}".*?</article>', response.content.decode(), re.S)
    assert found, "the alert is on the re-rendered page"
    return found.group(0)


def open_steps(html: str) -> list[str]:
    return re.findall(r'<details class="alert-step" open>\s*<summary>([^<]+)</summary>', html)


@pytest.mark.parametrize("next_page, heading", [
    ("/alerts/?state=open", "<h1>Alerts</h1>"), (None, "<h1>{patient}</h1>"),
])
def test_other_without_a_note_is_shown_on_the_page_it_came_from(clinician_web, alert, patient, next_page, heading):
    data = {"reason": "other", "note": "", **({"next": next_page} if next_page else {})}
    response = clinician_web.post(step_url(alert, "resolve"), data)
    assert response.status_code == 400
    assert heading.format(patient=patient.display_name or patient.reference) in response.content.decode()
    html = article(response, alert)
    assert re.search(r'class="alert-refused" role="alert".*Write a note saying why the alert is resolved\.', html, re.S)
    assert open_steps(html) == ["Resolve"]
    assert '<option value="other" selected>' in html
    assert unchanged(alert)


@pytest.mark.parametrize("step, data, kept, problem", [
    ("resolve", {"reason": "", "note": "called the patient"}, ">called the patient</textarea>", "Choose why"),
    ("snooze", {"until": "next tuesday", "tz": "Europe/Paris"}, 'value="next tuesday"', "YYYY-MM-DD HH:MM"),
    ("notes", {"text": "   "}, "", "This field is required"),
])
def test_what_was_typed_is_kept_in_the_open_form(clinician_web, alert, step, data, kept, problem):
    response = clinician_web.post(step_url(alert, step), data)
    assert response.status_code == 400
    html = article(response, alert)
    assert problem in html.split('class="alert-refused"')[1].split("</div>")[0]
    assert open_steps(html) == [{"resolve": "Resolve", "snooze": "Snooze", "notes": "Add a note"}[step]]
    assert kept in html
    assert unchanged(alert)


def test_another_page_as_next_still_gets_the_refusal_page(clinician_web, alert):
    response = clinician_web.post(step_url(alert, "resolve"), {"reason": "", "next": "/settings/"})
    assert response.status_code == 400
    assert "The alert was not changed" in response.content.decode()
    assert 'href="/settings/"' in response.content.decode()


@pytest.mark.parametrize("next_page", ["/alerts/?state=nonsense", "/alerts/?assignee=%00", "/patients/not-a-patient/",
                                       "/patients/{other}/", "/patients/{patient}/?range=custom&start=9999-99-99",
                                       "//evil.example/alerts/", "/alerts/%FF"])
def test_a_hostile_next_never_gets_a_5xx(clinician_web, alert, patient, other_patient, next_page):
    data = {"reason": "", "next": next_page.format(other=other_patient.pk, patient=patient.pk)}
    response = clinician_web.post(step_url(alert, "resolve"), data)
    assert 400 <= response.status_code < 500, (next_page, response.status_code)
    assert unchanged(alert)
