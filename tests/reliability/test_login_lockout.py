"""Failed logins lock a (username, client address) pair for a while (django-axes), a failing address
is throttled, and a browser that has logged in before (a device cookie) is kept out by neither.

Written as the attacker: "bob" is attacked from another address, or from his own hospital's NAT
address, and must still get in; the attacker must not get more guesses for it.
"""
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client

from tests.support import PASSWORD

DOORS = ["/login/", "/api/v1/auth/login/", "/admin/login/"]  # dashboard, API (session), admin
ATTACKER = "198.51.100.66"
HOSPITAL_NAT = "203.0.113.9"


def attempt(password: str, *, address: str, path: str = "/login/", client: Client | None = None,
            username: str = "dr_house"):
    return (client or Client()).post(path, {"username": username, "password": password}, REMOTE_ADDR=address)


def logged_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def lock(settings, *, username: str = "dr_house", address: str = ATTACKER, path: str = "/login/"):
    answers = [attempt("wrong", address=address, path=path, username=username)
               for _ in range(settings.AXES_FAILURE_LIMIT)]
    assert answers[-1].status_code == 429, answers[-1].status_code
    return answers


@pytest.fixture
def login_rate(settings):
    """A small LOGIN_THROTTLE_RATE (failures per address) for this test."""
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "3/hour"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    from rest_framework import throttling

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(throttling.SimpleRateThrottle, "THROTTLE_RATES", rates)
        yield 3


def test_failed_logins_lock_the_pair_even_for_the_right_password_on_every_door(clinician, settings):
    answers = lock(settings)
    assert [a.status_code for a in answers] == [200] * (settings.AXES_FAILURE_LIMIT - 1) + [429]
    for path in DOORS:
        client = Client()
        locked = attempt(PASSWORD, address=ATTACKER, path=path, client=client)
        assert locked.status_code == 429, path
        assert locked.json()["code"] == "login_locked"
        assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
        assert not logged_in(client)


def test_the_lock_answer_says_nothing_about_the_account(clinician, settings):
    locked = lock(settings)[-1]
    for unknown in lock(settings, username="nobody_at_all")[-1], locked:
        body = unknown.json()
        assert set(body) == {"code", "detail"}
        assert "dr_house" not in body["detail"] and "account" not in body["detail"].lower()
    assert lock(settings, username="nobody_at_all")[-1].json() == locked.json(), "an unknown name reads the same"


@pytest.mark.parametrize("path", DOORS)
def test_an_attacker_elsewhere_cannot_lock_a_clinician_out_of_his_own_address(admin_user, settings, path):
    lock(settings, username="admin", path=path)
    assert attempt("wrong", address=ATTACKER, path=path, username="admin").status_code == 429
    client = Client()
    response = attempt(PASSWORD, address="192.0.2.77", path=path, client=client, username="admin")
    assert response.status_code == 302 and logged_in(client)


def test_attempts_during_the_lock_do_not_extend_it(clinician, settings):
    lock(settings)
    cool_off = settings.AXES_COOLOFF_TIME

    def time_passes(delta: timedelta):
        for row in AccessAttempt.objects.all():
            row.attempt_time -= delta
            row.save(update_fields=["attempt_time"])

    time_passes(cool_off - timedelta(minutes=1))  # the lock has a minute to run
    for password in ("wrong", PASSWORD):  # the attacker keeps knocking, and so does the clinician
        assert attempt(password, address=ATTACKER).status_code == 429
    time_passes(timedelta(minutes=2))  # the lock began more than a cool-off ago; the knocks 2 minutes ago
    client = Client()
    assert attempt(PASSWORD, address=ATTACKER, client=client).status_code == 302 and logged_in(client)


def test_every_failed_attempt_is_logged_with_its_address(clinician, settings):
    for n in range(3):
        attempt("wrong", address=f"198.51.100.{n}")
    lock(settings)
    failures = AccessFailureLog.objects.filter(username="dr_house")
    assert failures.count() == 3 + settings.AXES_FAILURE_LIMIT
    assert {f.ip_address for f in failures} == {f"198.51.100.{n}" for n in range(3)} | {ATTACKER}
    assert failures.filter(locked_out=True, ip_address=ATTACKER).exists()
    assert not failures.filter(locked_out=True).exclude(ip_address=ATTACKER).exists()


def test_the_pair_opens_again_after_the_cool_off(clinician, settings):
    lock(settings)
    settings.AXES_COOLOFF_TIME = timedelta(seconds=0)
    response = attempt(PASSWORD, address=ATTACKER)
    assert response.status_code == 302 and response["Location"] == "/patients/"


def test_a_few_typos_then_the_right_password_logs_in_and_resets_the_count(clinician):
    for _ in range(3):
        attempt("wrong", address="192.0.2.80")
    assert attempt(PASSWORD, address="192.0.2.80").status_code == 302
    assert not AccessAttempt.objects.filter(username="dr_house", failures_since_start__gt=0).exists()


# --- one hospital NAT address, shared by clinicians and whoever else is behind it ------------------

def browser_that_logged_in(username: str, *, path: str = "/login/") -> Client:
    """A browser in which `username` logged in once (and whose session has ended): it keeps its
    device cookie. (Client.logout would drop every cookie.)"""
    from django.conf import settings

    browser = Client()
    assert attempt(PASSWORD, address=HOSPITAL_NAT, path=path, client=browser, username=username).status_code == 302
    del browser.cookies[settings.SESSION_COOKIE_NAME]
    assert not logged_in(browser) and settings.LOGIN_DEVICE_COOKIE_NAME in browser.cookies
    return browser


@pytest.mark.parametrize("path", DOORS)
def test_others_failures_on_the_shared_address_never_keep_out_a_clinician_whose_browser_logged_in_before(
        admin_user, login_rate, settings, path):
    browser = browser_that_logged_in("admin", path=path)
    for n in range(login_rate + 2):  # password spraying from the NAT address: it gets throttled
        attempt("wrong", address=HOSPITAL_NAT, path=path, username=f"nobody{n}")
    sprayed = attempt(PASSWORD, address=HOSPITAL_NAT, path=path, username="admin")  # no cookie, right password
    assert sprayed.status_code == 429 and sprayed.json()["code"] == "throttled"
    assert int(sprayed["Retry-After"]) > 0

    assert attempt(PASSWORD, address=HOSPITAL_NAT, path=path, client=browser, username="admin").status_code == 302
    assert logged_in(browser)
    elsewhere = attempt(PASSWORD, address="203.0.113.10", path=path, username="admin")
    assert elsewhere.status_code == 302, "another address is not affected"


def test_a_pair_locked_from_the_shared_address_does_not_keep_out_the_clinicians_own_browser(clinician, settings):
    browser = browser_that_logged_in("dr_house")
    lock(settings, address=HOSPITAL_NAT)  # someone else at the hospital, typing dr_house
    assert attempt(PASSWORD, address=HOSPITAL_NAT).status_code == 429, "a browser without the cookie waits"
    assert attempt(PASSWORD, address=HOSPITAL_NAT, client=browser).status_code == 302 and logged_in(browser)


def test_a_device_cookie_opens_only_its_own_username(clinician, other_clinician, login_rate, settings):
    browser = browser_that_logged_in("dr_other")
    lock(settings, address=HOSPITAL_NAT)
    for n in range(login_rate):
        attempt("wrong", address=HOSPITAL_NAT, username=f"nobody{n}")
    assert attempt(PASSWORD, address=HOSPITAL_NAT, client=browser).status_code == 429
    assert not logged_in(browser)
    assert attempt(PASSWORD, address=HOSPITAL_NAT, client=browser, username="dr_other").status_code == 302


def test_a_forged_or_tampered_device_cookie_is_ignored(clinician, settings):
    browser = browser_that_logged_in("dr_house")
    cookie = browser.cookies[settings.LOGIN_DEVICE_COOKIE_NAME].value
    lock(settings, address=HOSPITAL_NAT)
    for forged in (cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"), "dr_house", ""):
        client = Client()
        client.cookies[settings.LOGIN_DEVICE_COOKIE_NAME] = forged
        assert attempt(PASSWORD, address=HOSPITAL_NAT, client=client).status_code == 429


def test_a_stolen_device_cookie_buys_only_as_many_guesses_as_a_pair(clinician, settings):
    browser = browser_that_logged_in("dr_house")
    answers = [attempt("wrong", address=f"198.51.100.{n}", client=browser).status_code
               for n in range(settings.AXES_FAILURE_LIMIT + 1)]  # a new address each time does not help
    assert answers[:settings.AXES_FAILURE_LIMIT] == [200] * settings.AXES_FAILURE_LIMIT
    assert answers[-1] == 429
    refused = attempt(PASSWORD, address=HOSPITAL_NAT, client=browser)
    assert refused.status_code == 429 and refused.json()["code"] == "login_locked"
    assert attempt(PASSWORD, address=HOSPITAL_NAT).status_code == 302, "the pair itself was never locked"
    logged = AccessFailureLog.objects.filter(username="dr_house")
    assert logged.count() == settings.AXES_FAILURE_LIMIT, "a trusted device's failures are logged too"


@pytest.mark.parametrize("secure", [False, True])
def test_the_device_cookie_is_http_only_and_secure_where_sessions_are(clinician, settings, secure):
    settings.SESSION_COOKIE_SECURE = secure
    response = attempt(PASSWORD, address=HOSPITAL_NAT)
    cookie = response.cookies[settings.LOGIN_DEVICE_COOKIE_NAME]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert bool(cookie["secure"]) is secure
    assert int(cookie["max-age"]) == settings.LOGIN_DEVICE_COOKIE_AGE
    assert "dr_house" not in cookie.value
    assert settings.LOGIN_DEVICE_COOKIE_NAME not in attempt("wrong", address=HOSPITAL_NAT).cookies
