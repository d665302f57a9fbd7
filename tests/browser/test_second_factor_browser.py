"""The second factor in a real browser, with it required (as in production): a clinician's first
login sets up an authenticator app from the page's key (the code computed as an app would), gets
the recovery codes, sees the dashboard; after logging out, the next login asks for a code. The
enrolment page is screenshot to var/screenshots/second-factor-enrol.png."""
import time
from base64 import b32decode

from django_otp.oath import TOTP

from tests.backend.factories import PatientFactory, UserFactory
from tests.browser.conftest import SCREENSHOTS
from tests.support import PASSWORD


def app_code(secret: str, *, steps_ahead: int = 0) -> str:
    """What an authenticator app shows for the typed key (RFC 6238: SHA-1, 6 digits, 30 s)."""
    totp = TOTP(b32decode(secret.replace(" ", "")))
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def password_step(page, live_server):
    page.goto(f"{live_server.url}/patients/")
    page.wait_for_url("**/login/?next=/patients/")
    page.get_by_label("Username").fill("dr_totp")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_a_clinician_enrols_an_app_then_logs_in_with_its_code(live_server, transactional_db, settings, page):
    settings.MOODWATCH_REQUIRE_2FA = True
    clinician = UserFactory(username="dr_totp")
    PatientFactory(reference="P-TOTP", display_name="Robin Lee", clinicians=[clinician])

    password_step(page, live_server)
    page.wait_for_url("**/login/second-factor/enrol/?next=%2Fpatients%2F")
    assert page.get_by_role("heading", level=1).inner_text() == "Set up your authenticator app"
    assert page.locator(".topbar nav").count() == 0, "no way into the dashboard before the code"
    qr = page.get_by_role("img", name="QR code that adds MoodWatch to an authenticator app", exact=False)
    assert qr.locator("svg").count() == 1 and qr.bounding_box()["width"] >= 200
    secret = page.locator("#totp-secret").inner_text()
    assert len(secret.replace(" ", "")) == 32  # 20 random bytes, base32
    code_box = page.get_by_label("Code from the app")
    assert code_box.get_attribute("autocomplete") == "one-time-code"
    assert code_box.get_attribute("aria-describedby") == "code-help"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "second-factor-enrol.png"), full_page=True)

    code_box.fill("000000" if app_code(secret) != "000000" else "111111")
    page.get_by_role("button", name="Confirm").click()
    assert "That code is not right." in page.get_by_role("alert").inner_text()
    page.wait_for_timeout(1100)  # one wrong code shuts the device for 1 s (django-otp's throttle)

    page.get_by_label("Code from the app").fill(app_code(secret))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector("text=Your authenticator app is set up")
    codes = page.get_by_role("list", name="Recovery codes").locator("li").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    page.screenshot(path=str(SCREENSHOTS / "second-factor-recovery-codes.png"), full_page=True)
    page.get_by_role("link", name="Continue to MoodWatch").click()
    page.wait_for_url(f"{live_server.url}/patients/")
    assert "P-TOTP" in page.inner_text("main")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")
    password_step(page, live_server)
    page.wait_for_url("**/login/second-factor/?next=%2Fpatients%2F")
    page.get_by_label("Code").fill(app_code(secret, steps_ahead=1))  # a new step: a code is never taken twice
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(f"{live_server.url}/patients/")
    assert "P-TOTP" in page.inner_text("main")
    assert page.locator(".topbar nav").count() == 1
