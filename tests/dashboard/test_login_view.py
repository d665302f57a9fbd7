"""Login and logout: Django auth with CSRF, an idle session timeout, POST-only logout."""
from django.conf import settings
from django.test import Client

from tests.support import PASSWORD


def test_the_login_page_carries_a_csrf_token(db):
    response = Client().get("/login/")
    assert response.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()


def test_a_login_without_the_csrf_token_is_refused(clinician):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/login/", {"username": "dr_house", "password": PASSWORD})
    assert response.status_code == 403


def test_a_clinician_logs_in_and_lands_on_their_patients(clinician):
    client = Client()
    response = client.post("/login/", {"username": "dr_house", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/patients/"
    assert client.get("/patients/").status_code == 200


def test_a_wrong_password_is_refused_with_a_message(clinician):
    response = Client().post("/login/", {"username": "dr_house", "password": "nope"})
    assert response.status_code == 200
    assert "Please enter a correct username and password" in response.content.decode()


def test_login_returns_to_the_page_that_was_asked_for(clinician, patient):
    client = Client()
    response = client.post(
        f"/login/?next=/patients/{patient.pk}/",
        {"username": "dr_house", "password": PASSWORD, "next": f"/patients/{patient.pk}/"},
    )
    assert response["Location"] == f"/patients/{patient.pk}/"


def test_logout_is_a_post_and_ends_the_session(clinician_web):
    assert clinician_web.get("/logout/").status_code == 405
    response = clinician_web.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert clinician_web.get("/patients/").status_code == 302


def test_sessions_expire_after_30_idle_minutes_by_default_and_each_request_extends_them():
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is True


def test_the_idle_timeout_is_configurable():
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [
            sys.executable, "manage.py", "shell", "-c",
            "from django.conf import settings; print(settings.SESSION_COOKIE_AGE)",
        ],
        cwd=root, env={**os.environ, "SESSION_IDLE_TIMEOUT_MINUTES": "10"}, capture_output=True, text=True, timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1] == "600", result.stderr


def test_an_expired_session_is_sent_back_to_login(clinician_web, clinician):
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    Session.objects.update(expire_date=timezone.now())
    response = clinician_web.get("/patients/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
