"""Issue 29 part 4 in the page: one enrollment code at a time (a new one cancels the earlier ones), a
reload shows the same code and never issues another (Post/Redirect/Get), no code without consent,
the patient app's enrollment link and its QR code, the site address, and the device revocation's
confirmation page. Personas: the patient's clinician, another clinician (404), an admin."""
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.core import mail
from django.core.checks import run_checks
from django.utils import timezone

from backend.alerts.models import Alert
from backend.alerts.services import _alert_email
from backend.audit.models import AuditAction, AuditEvent
from backend.core.errors import ApplicationError
from backend.devices.models import EnrollmentCode
from backend.devices.services import device_enroll, enrollment_code_issue
from backend.patients.models import Patient
from dashboard.qr import qr_svg
from tests.backend.conftest import clinician_client
from tests.backend.factories import DeviceFactory, PatientFactory

TEMPLATES = Path(__file__).resolve().parents[2] / "dashboard" / "templates"


def page_url(patient) -> str:
    return f"/patients/{patient.pk}/enrollment-code/"


def issue(web, patient) -> str:
    """Issue a code from the dashboard and read it from the page the POST redirects to."""
    response = web.post(page_url(patient))
    assert response.status_code == 302 and response["Location"] == page_url(patient)
    return web.get(page_url(patient)).context["code"]


def issue_audits(patient) -> list[dict]:
    return list(AuditEvent.objects.filter(patient=patient, action=AuditAction.ENROLLMENT_CODE_ISSUE)
                .order_by("id").values_list("detail", flat=True))


# --- one code at a time ------------------------------------------------------------------------


def test_reloading_the_code_page_shows_the_same_code_and_issues_none(clinician_web, patient):
    code = issue(clinician_web, patient)
    for _ in range(3):
        again = clinician_web.get(page_url(patient))
        assert again.status_code == 200 and again.context["code"] == code
    assert EnrollmentCode.objects.filter(patient=patient).count() == 1
    assert len(issue_audits(patient)) == 1


def test_a_new_code_cancels_the_earlier_one_which_then_answers_cancelled(clinician_web, client, patient):
    first = issue(clinician_web, patient)
    second = issue(clinician_web, patient)
    assert first != second
    old, new = EnrollmentCode.objects.filter(patient=patient).order_by("issued_at")
    assert old.cancelled_at is not None and new.cancelled_at is None
    assert issue_audits(patient)[-1]["cancelled_enrollment_code_ids"] == [old.pk]
    refused = client.post("/api/v1/devices/enroll/", {"code": first}, content_type="application/json")
    assert refused.status_code == 400 and refused.json()["code"] == "enrollment_code_cancelled"
    assert "newer" in refused.json()["detail"]
    enrolled = client.post("/api/v1/devices/enroll/", {"code": second}, content_type="application/json")
    assert enrolled.status_code == 201


def test_used_and_expired_codes_are_not_touched_by_a_new_one(patient, clinician):
    used_row, used = enrollment_code_issue(patient=patient, actor=clinician)
    device_enroll(code=used)
    expired_row, _ = enrollment_code_issue(patient=patient, actor=clinician, ttl=timedelta(seconds=1))
    EnrollmentCode.objects.filter(pk=expired_row.pk).update(expires_at=timezone.now() - timedelta(days=1))
    enrollment_code_issue(patient=patient, actor=clinician)
    used_row.refresh_from_db()
    expired_row.refresh_from_db()
    assert used_row.cancelled_at is None and expired_row.cancelled_at is None
    assert issue_audits(patient)[-1]["cancelled_enrollment_code_ids"] == []
    with pytest.raises(ApplicationError) as again:
        device_enroll(code=used)
    assert again.value.code == "enrollment_code_used"  # used before it could be cancelled: says so


def test_the_api_cancels_earlier_codes_too(clinician, patient, client):
    api = clinician_client(clinician)
    first = api.post(f"/api/v1/patients/{patient.pk}/enrollment-codes/").json()["code"]
    api.post(f"/api/v1/patients/{patient.pk}/enrollment-codes/")
    refused = client.post("/api/v1/devices/enroll/", {"code": first}, content_type="application/json")
    assert refused.json()["code"] == "enrollment_code_cancelled"


def test_a_code_once_used_is_no_longer_shown(clinician_web, patient):
    code = issue(clinician_web, patient)
    device_enroll(code=code)
    html = clinician_web.get(page_url(patient)).content.decode()
    assert code not in html and "No enrollment code of this patient can be used now." in html
    assert EnrollmentCode.objects.filter(patient=patient).count() == 1


def test_a_code_cancelled_from_another_door_is_no_longer_shown(clinician_web, clinician, patient):
    code = issue(clinician_web, patient)
    enrollment_code_issue(patient=patient, actor=clinician)  # e.g. from the API or the admin
    response = clinician_web.get(page_url(patient))
    html = response.content.decode()
    assert response.context["code"] is None and code not in html
    assert "Issue a new code (cancels the current one)" in html


def test_a_colleague_sees_that_a_code_is_pending_but_not_the_code(clinician_web, admin_web, patient):
    code = issue(clinician_web, patient)
    response = admin_web.get(page_url(patient))
    html = response.content.decode()
    assert response.status_code == 200 and code not in html and response.context["code"] is None
    assert "is valid until" in html and "by dr_house" in html


def test_another_clinician_gets_404_and_issues_nothing(other_clinician_web, patient):
    assert other_clinician_web.get(page_url(patient)).status_code == 404
    assert other_clinician_web.post(page_url(patient)).status_code == 404
    assert not EnrollmentCode.objects.exists()


def test_an_admin_issues_a_code(admin_web, patient):
    assert issue(admin_web, patient)


# --- consent -----------------------------------------------------------------------------------


@pytest.fixture
def patient_without_consent(patient):
    Patient.objects.filter(pk=patient.pk).update(consent_recorded_at=None, consent_recorded_by=None)
    patient.refresh_from_db()
    return patient


def test_no_code_without_consent_from_the_dashboard(clinician_web, patient_without_consent):
    patient = patient_without_consent
    manage = clinician_web.get(f"/patients/{patient.pk}/manage/").content.decode()
    assert "No consent recorded: no enrollment code can be issued." in manage
    assert f'action="{page_url(patient)}"' not in manage
    response = clinician_web.post(page_url(patient), follow=True)
    assert "No consent to camera-based monitoring is recorded" in response.content.decode()
    assert not EnrollmentCode.objects.exists() and not issue_audits(patient)
    page = clinician_web.get(page_url(patient)).content.decode()
    assert "No consent is recorded for this patient" in page and "<button" not in page.split("</header>")[1]


def test_no_code_without_consent_from_the_api_the_admin_or_the_command(clinician, patient_without_consent):
    patient = patient_without_consent
    response = clinician_client(clinician).post(f"/api/v1/patients/{patient.pk}/enrollment-codes/")
    assert response.status_code == 403 and response.json()["code"] == "consent_missing"
    with pytest.raises(ApplicationError) as refused:
        enrollment_code_issue(patient=patient, actor=clinician)
    assert refused.value.code == "consent_missing"
    assert not EnrollmentCode.objects.exists()


def test_consent_withdrawn_by_another_request_is_seen_by_the_issue(clinician, patient):
    stale = Patient.objects.get(pk=patient.pk)  # read before the withdrawal
    Patient.objects.filter(pk=patient.pk).update(consent_recorded_at=None)
    with pytest.raises(ApplicationError) as refused:
        enrollment_code_issue(patient=stale, actor=clinician)
    assert refused.value.code == "consent_missing"


# --- the enrollment link, its QR code and the site address ---------------------------------------


def test_the_page_shows_the_apps_enrollment_link_as_text_and_as_qr_code(clinician_web, patient, settings):
    settings.MOODWATCH_PUBLIC_URL = "https://moodwatch.hospital.example"
    code = issue(clinician_web, patient)
    response = clinician_web.get(page_url(patient))
    html = response.content.decode()
    link = f"https://moodwatch.hospital.example/app/#enroll={code}"
    assert response.context["link"] == link
    assert f'value="{link}"' in html and "readonly" in html
    assert qr_svg(link) in html, "the QR code encodes the link (qr_svg is deterministic)"
    assert "scan this QR code" in html


def test_without_a_configured_address_the_link_uses_the_address_of_the_page(clinician_web, patient, settings):
    settings.MOODWATCH_PUBLIC_URL = ""
    code = issue(clinician_web, patient)
    response = clinician_web.get(page_url(patient), HTTP_HOST="127.0.0.1:8123")
    assert response.context["link"] == f"http://127.0.0.1:8123/app/#enroll={code}"


def test_the_alert_email_links_to_the_configured_address_or_gives_the_path_only(db, settings):
    alert = Alert(patient=PatientFactory(reference="P-MAIL"), kind=Alert.Kind.NO_DATA, raised_at=timezone.now())
    settings.MOODWATCH_PUBLIC_URL = "https://moodwatch.hospital.example"
    assert "in MoodWatch: https://moodwatch.hospital.example/alerts/" in _alert_email(alert)[1]
    settings.MOODWATCH_PUBLIC_URL = ""
    body = _alert_email(alert)[1]
    assert "in MoodWatch: /alerts/" in body and "8000" not in body
    assert not mail.outbox


def test_the_deploy_check_warns_when_the_site_address_is_not_set(settings):
    settings.MOODWATCH_PUBLIC_URL = ""
    assert "moodwatch.W002" in {m.id for m in run_checks(include_deployment_checks=True)}
    settings.MOODWATCH_PUBLIC_URL = "https://moodwatch.hospital.example"
    assert "moodwatch.W002" not in {m.id for m in run_checks(include_deployment_checks=True)}


# --- revoking a device: a confirmation page, no inline handlers ----------------------------------


def revoke_url(patient, device) -> str:
    return f"/patients/{patient.pk}/devices/{device.pk}/revoke/"


def test_revoke_asks_on_a_page_of_its_own_and_the_page_changes_nothing(clinician_web, patient):
    device = DeviceFactory(patient=patient, label="Pixel 7")
    manage = clinician_web.get(f"/patients/{patient.pk}/manage/").content.decode()
    assert f'href="{revoke_url(patient, device)}"' in manage
    response = clinician_web.get(revoke_url(patient, device))
    html = response.content.decode()
    assert response.status_code == 200 and "Revoke “Pixel 7”?" in html
    assert "Revoke the device" in html and "Cancel, keep it active" in html
    device.refresh_from_db()
    assert not device.is_revoked
    assert not AuditEvent.objects.filter(action=AuditAction.DEVICE_REVOKE).exists()


def test_the_revoke_page_of_a_revoked_device_offers_no_button(clinician_web, patient):
    device = DeviceFactory(patient=patient, revoked_at=timezone.now())
    html = clinician_web.get(revoke_url(patient, device)).content.decode()
    assert "already revoked" in html and "Revoke the device" not in html


def test_another_clinician_gets_404_on_the_revoke_page(other_clinician_web, patient):
    device = DeviceFactory(patient=patient)
    assert other_clinician_web.get(revoke_url(patient, device)).status_code == 404


INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|action|src)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def test_no_template_has_an_inline_handler_or_an_inline_script():
    """The CSP (script-src 'self') blocks them: a confirm() in onsubmit never runs, so a
    destructive button would act on one click. json_script's data blocks are not scripts."""
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) > 10
    found = [
        f"{path.relative_to(TEMPLATES)}: {match.group(0)!r}"
        for path in templates for pattern in (INLINE_HANDLER, INLINE_SCRIPT, JAVASCRIPT_URL)
        for match in pattern.finditer(path.read_text())
    ]
    assert not found


def test_the_inline_handler_check_finds_what_it_looks_for():
    assert INLINE_HANDLER.search('<form onsubmit="return confirm(1)">')
    assert INLINE_HANDLER.search("<button ONCLICK='x()'>")
    assert not INLINE_HANDLER.search('<input name="confirm" data-confirm="sure?">')
    assert INLINE_SCRIPT.search("<script>alert(1)</script>")
    assert not INLINE_SCRIPT.search('<script src="/static/x.js"></script>')
    assert JAVASCRIPT_URL.search('<a href="javascript:void(0)">')
