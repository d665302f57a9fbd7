"""The second factor, as an attacker who knows a clinician's password would try it: every door
(dashboard, admin, API session, API token) stays shut until the authenticator app's code or a
recovery code is given; wrong codes are audited and throttled; a recovery code works once; an
admin's reset is audited and sends the user back to enrolment."""
import io
import re
import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from backend.audit.models import AuditAction, AuditChannel, AuditEvent
from backend.clinician_api.models import ApiToken as Token
from backend.twofactor.services import totp_enrolment_confirm, totp_enrolment_start
from tests.support import PASSWORD


@pytest.fixture(autouse=True)
def required(settings):
    settings.MOODWATCH_REQUIRE_2FA = True  # as in production


def code_for(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    """The app's code now (or at the next 30-second step: the server accepts one step of drift and
    never the same step twice, so a second login within 30 s needs the next one)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():06d}"


def wrong_code(device: TOTPDevice) -> str:
    valid = {code_for(device, steps_ahead=n) for n in (-1, 0, 1)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def password_login(username: str = "dr_house") -> Client:
    client = Client()
    response = client.post("/login/", {"username": username, "password": PASSWORD})
    assert response.status_code == 302, "the password step itself still works"
    return client


@pytest.fixture
def enrolled(clinician):
    """dr_house with a confirmed authenticator app and recovery codes."""
    device = totp_enrolment_start(user=clinician)
    device, codes = totp_enrolment_confirm(user=clinician, code=code_for(device))
    return device, codes


# --- the gate ------------------------------------------------------------------------------------

def test_a_password_alone_reaches_no_dashboard_page_no_admin_page_and_no_api(enrolled, patient, admin_user):
    client = password_login()
    for path in ("/patients/", f"/patients/{patient.pk}/", f"/patients/{patient.pk}/export/records.csv",
                 "/alerts/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/login/second-factor/?next="), path
    api = client.get("/api/v1/patients/")
    assert api.status_code == 403 and api.json()["code"] == "otp_required"
    posted = client.post(f"/patients/{patient.pk}/consent/", {"consent": "withdraw"})
    assert posted.status_code == 302 and posted["Location"].startswith("/login/second-factor/")
    patient.refresh_from_db()
    assert patient.consent_recorded_at is not None, "nothing was changed behind the gate"
    assert not AuditEvent.objects.filter(action__in=[AuditAction.PATIENT_LIST, AuditAction.PATIENT_VIEW,
                                                     AuditAction.CONSENT_WITHDRAW]).exists()


def test_the_code_page_shows_no_navigation_or_alert_count(enrolled):
    page = password_login().get("/login/second-factor/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "My patients" not in html and "nav-alerts" not in html
    assert 'autocomplete="one-time-code"' in html


def test_login_with_the_app_code_opens_the_dashboard_and_keeps_the_next_page(enrolled, patient):
    device, _ = enrolled
    client = password_login()
    before = client.session.session_key
    response = client.post("/login/second-factor/", {"code": code_for(device, steps_ahead=1),
                                                      "next": f"/patients/{patient.pk}/"})
    assert response.status_code == 302 and response["Location"] == f"/patients/{patient.pk}/"
    assert client.session.session_key != before, "a new session id once the login is complete"
    assert client.get(f"/patients/{patient.pk}/").status_code == 200
    assert client.get("/api/v1/patients/").status_code == 200


def test_the_next_page_cannot_send_the_user_to_another_site(enrolled):
    device, _ = enrolled
    client = password_login()
    response = client.post("/login/second-factor/", {"code": code_for(device, steps_ahead=1),
                                                      "next": "https://evil.example/phish"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_code_is_accepted_once_only(enrolled):
    device, _ = enrolled
    code = code_for(device, steps_ahead=1)
    assert password_login().post("/login/second-factor/", {"code": code}).status_code == 302
    replay = password_login()
    response = replay.post("/login/second-factor/", {"code": code})
    assert response.status_code == 200 and "That code is not right." in response.content.decode()
    assert replay.get("/patients/").status_code == 302


def test_a_wrong_code_is_refused_audited_and_then_throttled(enrolled, clinician):
    device, _ = enrolled
    client = password_login()
    first = client.post("/login/second-factor/", {"code": wrong_code(device)}, REMOTE_ADDR="198.51.100.7")
    assert first.status_code == 200 and "That code is not right." in first.content.decode()
    assert client.get("/patients/").status_code == 302
    event = AuditEvent.objects.get(action=AuditAction.OTP_FAILURE)
    assert (event.actor, event.channel, event.ip_address) == (clinician, AuditChannel.DASHBOARD, "198.51.100.7")
    assert event.detail == {"user": "dr_house", "device": "totp", "reason": "invalid", "failures_in_a_row": 1}
    # Right after a failure even the right code is refused for a while: guessing is bounded.
    throttled = client.post("/login/second-factor/", {"code": code_for(device, steps_ahead=1)})
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) >= 1
    assert "Too many wrong codes" in throttled.content.decode()
    assert client.get("/patients/").status_code == 302


def test_guessing_is_bounded_by_a_doubling_delay(enrolled, clinician):
    """n failures in a row shut the device for 2^(n-1) s: 20 guesses cost about 6 days of waiting."""
    device, _ = enrolled
    for n in range(1, 6):
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=timezone.now() - timedelta(
            days=30))  # as if the attacker had waited out the delay
        client = password_login()
        assert client.post("/login/second-factor/", {"code": wrong_code(device)}).status_code == 200
        device.refresh_from_db()
        allowed, why = device.verify_is_allowed()
        assert not allowed and device.throttling_failure_count == n
        assert why["locked_until"] - device.throttling_failure_timestamp == timedelta(seconds=2 ** (n - 1))
    assert AuditEvent.objects.filter(action=AuditAction.OTP_FAILURE, actor=clinician).count() == 5


def test_a_recovery_code_works_once_and_only_once(enrolled):
    _, codes = enrolled
    assert len(codes) == 10 and len(set(codes)) == 10
    client = password_login()
    assert client.post("/login/second-factor/", {"code": f" {codes[0].upper()} "}).status_code == 302
    assert client.get("/patients/").status_code == 200
    again = password_login()
    refused = again.post("/login/second-factor/", {"code": codes[0]})
    assert refused.status_code == 200 and "That code is not right." in refused.content.decode()
    assert StaticToken.objects.count() == 9


def test_a_wrong_app_code_does_not_throttle_the_recovery_codes(enrolled):
    device, codes = enrolled
    client = password_login()
    client.post("/login/second-factor/", {"code": wrong_code(device)})
    assert client.post("/login/second-factor/", {"code": codes[1]}).status_code == 302


# --- enrolment -------------------------------------------------------------------------------------

def test_first_login_enrols_the_app_and_shows_recovery_codes_once(clinician):
    client = password_login()
    gate = client.get("/patients/")
    assert gate["Location"] == "/login/second-factor/?next=%2Fpatients%2F"
    to_enrol = client.get(gate["Location"])
    assert to_enrol.status_code == 302 and to_enrol["Location"] == "/login/second-factor/enrol/?next=%2Fpatients%2F"
    page = client.get(to_enrol["Location"])
    assert page.status_code == 200 and page["Cache-Control"] == "no-store"
    html = page.content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', html).group(1).replace(" ", "")
    device = TOTPDevice.objects.get(user=clinician, confirmed=False)
    from base64 import b32encode
    assert secret == b32encode(device.bin_key).decode(), "the key typed by hand is the device's"
    assert "<svg" in html and 'role="img"' in html and "<script" not in html
    reloaded = client.get(to_enrol["Location"]).content.decode()
    assert re.search(r'id="totp-secret">([A-Z2-7 ]+)<', reloaded).group(1).replace(" ", "") == secret, (
        "a reload keeps the secret the user may already have scanned")
    assert TOTPDevice.objects.filter(user=clinician).count() == 1

    wrong = client.post("/login/second-factor/enrol/", {"code": wrong_code(device), "next": "/patients/"})
    assert wrong.status_code == 200 and not TOTPDevice.objects.filter(user=clinician, confirmed=True).exists()
    TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=None, throttling_failure_count=0)

    done = client.post("/login/second-factor/enrol/", {"code": code_for(device), "next": "/patients/"})
    assert done.status_code == 200 and done["Cache-Control"] == "no-store"
    shown = re.findall(r"<li><code>([a-z2-7]{8})</code></li>", done.content.decode())
    assert sorted(shown) == sorted(StaticToken.objects.filter(device__user=clinician).values_list("token", flat=True))
    assert len(shown) == 10
    assert client.get("/patients/").status_code == 200, "enrolment completes the login"
    event = AuditEvent.objects.get(action=AuditAction.OTP_ENROL)
    assert (event.actor, event.channel) == (clinician, AuditChannel.DASHBOARD)
    # Once enrolled, the page will not show a new secret to someone holding only the password.
    intruder = password_login()
    assert intruder.get("/login/second-factor/enrol/")["Location"] == "/"
    assert intruder.get("/patients/").status_code == 302
    assert TOTPDevice.objects.filter(user=clinician).count() == 1


def test_without_the_requirement_a_user_with_no_app_logs_in_with_the_password_alone(settings, clinician):
    settings.MOODWATCH_REQUIRE_2FA = False  # development: `make run`'s DEMO login stays one step
    assert password_login().get("/patients/").status_code == 200


def test_without_the_requirement_a_user_who_enrolled_still_gives_the_code(settings, enrolled):
    settings.MOODWATCH_REQUIRE_2FA = False
    assert password_login().get("/patients/").status_code == 302


# --- the admin ---------------------------------------------------------------------------------------

def test_the_admin_login_needs_the_second_factor_too(admin_user):
    device = totp_enrolment_start(user=admin_user)
    totp_enrolment_confirm(user=admin_user, code=code_for(device))
    client = Client()
    response = client.post("/admin/login/?next=/admin/", {"username": "admin", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/admin/")["Location"] == "/login/second-factor/?next=%2Fadmin%2F"
    assert client.get("/admin/audit/auditevent/").status_code == 302
    assert client.post("/login/second-factor/", {"code": code_for(device, steps_ahead=1), "next": "/admin/"}
                       )["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_an_admin_reset_removes_the_devices_is_audited_and_sends_the_user_to_enrolment(enrolled, clinician,
                                                                                      admin_user):
    admin = Client()
    admin.force_login(admin_user)
    admin_device = totp_enrolment_start(user=admin_user)
    totp_enrolment_confirm(user=admin_user, code=code_for(admin_device))
    assert admin.post("/login/second-factor/", {"code": code_for(admin_device, steps_ahead=1)}).status_code == 302
    verified_session = password_login()
    verified_session.post("/login/second-factor/", {"code": code_for(enrolled[0], steps_ahead=1)})
    assert verified_session.get("/patients/").status_code == 200

    response = admin.post("/admin/auth/user/", {"action": "reset_second_factor",
                                                "_selected_action": [str(clinician.pk)]},
                          REMOTE_ADDR="192.0.2.5")
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=clinician).exists()
    assert not StaticDevice.objects.filter(user=clinician).exists()
    assert TOTPDevice.objects.filter(user=admin_user).exists(), "only the selected user is reset"
    event = AuditEvent.objects.get(action=AuditAction.OTP_RESET)
    assert (event.actor, event.channel, event.ip_address) == (admin_user, AuditChannel.ADMIN, "192.0.2.5")
    assert event.detail == {"user": "dr_house", "totp_devices": 1, "recovery_devices": 1}
    # The session verified by the removed device is verified no more, and the next login enrols again.
    assert verified_session.get("/patients/").status_code == 302
    client = password_login()
    assert client.get("/login/second-factor/")["Location"].startswith("/login/second-factor/enrol/")


def test_the_devices_cannot_be_read_or_deleted_in_the_admin_outside_the_audited_reset(enrolled, admin_user):
    admin = Client()
    admin.force_login(admin_user)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("django.conf.settings.MOODWATCH_REQUIRE_2FA", False)
        assert admin.get("/admin/otp_totp/totpdevice/").status_code == 404
        assert admin.get("/admin/otp_static/staticdevice/").status_code == 404


def test_the_reset_command_is_audited_with_its_actor(enrolled, clinician, admin_user):
    out = io.StringIO()
    call_command("second_factor_reset", "--user", "dr_house", "--actor", "admin", stdout=out)
    assert "1 authenticator app(s)" in out.getvalue()
    event = AuditEvent.objects.get(action=AuditAction.OTP_RESET)
    assert (event.actor, event.channel) == (admin_user, AuditChannel.COMMAND)
    assert not TOTPDevice.objects.filter(user=clinician).exists()


# --- the API token --------------------------------------------------------------------------------

def token_request(**body):
    from rest_framework.test import APIClient

    return APIClient().post("/api/v1/auth/token/", {"username": "dr_house", "password": PASSWORD, **body},
                            format="json")


def test_no_api_token_on_the_password_alone(enrolled):
    response = token_request()
    assert response.status_code == 401 and response.json()["code"] == "otp_required"
    assert not Token.objects.exists()


def test_no_api_token_with_a_wrong_code_and_the_failure_is_audited(enrolled, clinician):
    device, _ = enrolled
    response = token_request(otp_token=wrong_code(device))
    assert response.status_code == 401 and response.json()["code"] == "otp_invalid"
    assert not Token.objects.exists()
    event = AuditEvent.objects.get(action=AuditAction.OTP_FAILURE)
    assert (event.actor, event.channel) == (clinician, AuditChannel.API)
    throttled = token_request(otp_token=code_for(device, steps_ahead=1))
    assert throttled.status_code == 429 and throttled.json()["code"] == "otp_throttled"
    assert int(throttled["Retry-After"]) >= 1 and not Token.objects.exists()


def test_an_api_token_after_the_second_factor_reads_the_api(enrolled, clinician):
    device, _ = enrolled
    response = token_request(otp_token=code_for(device, steps_ahead=1))
    assert response.status_code == 200
    key = response.json()["token"]
    assert Token.objects.filter(user=clinician).count() == 1 and key not in str(Token.objects.values().get())
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get("/api/v1/patients/").status_code == 200


def test_an_api_token_with_a_recovery_code(enrolled):
    _, codes = enrolled
    assert token_request(otp_token=codes[2]).status_code == 200
    assert token_request(otp_token=codes[2]).json()["code"] == "otp_invalid", "used once only"


def test_no_api_token_for_an_account_that_never_enrolled(clinician):
    response = token_request(otp_token="123456")
    assert response.status_code == 403 and response.json()["code"] == "otp_enrolment_required"
    assert not Token.objects.exists()


def test_a_wrong_password_gets_no_token_and_no_hint_about_the_second_factor(enrolled):
    response = token_request(password="wrong", otp_token="123456")
    assert response.status_code == 401 and response.json()["code"] == "credentials_invalid"


def test_the_api_token_needs_no_code_where_none_is_required(settings, clinician):
    settings.MOODWATCH_REQUIRE_2FA = False
    assert token_request().status_code == 200


def test_the_api_token_door_is_locked_with_the_account(enrolled, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        token_request(password="wrong")
    locked = token_request(otp_token=code_for(enrolled[0], steps_ahead=1))
    assert locked.status_code == 429 and locked.json()["code"] == "login_locked"
    assert not Token.objects.exists()


def test_the_schema_documents_otp_token_and_its_refusals():
    from rest_framework.test import APIClient

    schema = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()
    operation = schema["paths"]["/api/v1/auth/token/"]["post"]
    assert {"200", "400", "401", "403", "429"} <= set(operation["responses"])
    reference = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][reference.rsplit("/", 1)[1]]
    assert "otp_token" in body["properties"] and "otp_token" not in body.get("required", [])


# --- hostile input ----------------------------------------------------------------------------------

@pytest.mark.parametrize("body", [{"username": "u" * 300}, {"username": "dr\x00house"}, {"otp_token": "1\x0023456"},
                                  {"otp_token": "9" * 5000}, {"password": ["a", "b"]}])
def test_the_token_door_refuses_hostile_fields_with_a_400(enrolled, body):
    response = token_request(**body)
    assert response.status_code == 400 and response.json()["code"] == "validation_error"
    assert not Token.objects.exists()


@pytest.mark.parametrize("code", ["12\x003456", "9" * 5000, "' OR 1=1 --", "1234567", ""])
def test_the_code_page_refuses_hostile_codes_without_an_error_page(enrolled, code):
    client = password_login()
    response = client.post("/login/second-factor/", {"code": code})
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert client.get("/patients/").status_code == 302
