"""Repeated failed logins lock the account for a while (django-axes); every failure is logged."""
from datetime import timedelta

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.test import Client

from tests.support import PASSWORD


def attempt(password: str, *, address: str, path: str = "/login/", client: Client | None = None):
    return (client or Client()).post(path, {"username": "dr_house", "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def failed_five_times(clinician, settings):
    settings.AXES_FAILURE_LIMIT = 5
    answers = [attempt("wrong", address=f"198.51.100.{n}") for n in range(5)]
    return answers


def test_five_failed_logins_lock_the_account_even_for_the_right_password_from_elsewhere(failed_five_times):
    assert [a.status_code for a in failed_five_times] == [200] * 4 + [429]  # the form again, then locked
    client = Client()
    locked = attempt(PASSWORD, address="192.0.2.77", client=client)
    assert locked.status_code == 429
    assert locked.json()["code"] == "account_locked"
    assert int(locked["Retry-After"]) == 15 * 60
    assert "_auth_user_id" not in client.session  # the client that sent the right password is not logged in
    assert client.get("/patients/")["Location"].startswith("/login/")


def test_the_lockout_applies_to_the_admin_and_api_login_forms_too(failed_five_times):
    for path in ("/admin/login/", "/api/v1/auth/login/"):
        assert attempt(PASSWORD, address="192.0.2.78", path=path).status_code == 429


def test_every_failed_attempt_is_logged_with_its_address(failed_five_times):
    failures = AccessFailureLog.objects.filter(username="dr_house")
    assert failures.count() == 5
    assert {f.ip_address for f in failures} == {f"198.51.100.{n}" for n in range(5)}
    assert failures.filter(locked_out=True).exists()
    attempts = AccessAttempt.objects.filter(username="dr_house")  # one row per address
    assert sum(a.failures_since_start for a in attempts) == 5


def test_the_account_opens_again_after_the_cool_off(failed_five_times, settings):
    settings.AXES_COOLOFF_TIME = timedelta(seconds=0)
    client = Client()
    response = client.post("/login/", {"username": "dr_house", "password": PASSWORD}, REMOTE_ADDR="192.0.2.79")
    assert response.status_code == 302 and response["Location"] == "/patients/"


def test_a_few_typos_then_the_right_password_logs_in_and_resets_the_count(clinician):
    for _ in range(3):
        attempt("wrong", address="192.0.2.80")
    client = Client()
    assert client.post("/login/", {"username": "dr_house", "password": PASSWORD}).status_code == 302
    assert not AccessAttempt.objects.filter(username="dr_house", failures_since_start__gt=0).exists()


def test_successful_logins_from_one_shared_address_are_never_throttled(clinician, other_clinician, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
        **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login": "2/hour"}}
    from rest_framework import throttling

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(throttling.SimpleRateThrottle, "THROTTLE_RATES",
                      settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
        for username in ["dr_house", "dr_other"] * 2:  # four clinicians' logins behind one NAT address
            response = Client().post("/login/", {"username": username, "password": PASSWORD},
                                     REMOTE_ADDR="203.0.113.9")
            assert response.status_code == 302
        assert attempt("wrong", address="203.0.113.9").status_code == 200
        assert attempt("wrong", address="203.0.113.9").status_code == 200
        throttled = attempt(PASSWORD, address="203.0.113.9")
        assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
        assert int(throttled["Retry-After"]) > 0
        assert attempt(PASSWORD, address="203.0.113.10").status_code == 302, "another address is not affected"
