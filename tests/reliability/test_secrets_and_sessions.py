"""Secrets are stored hashed and compared in constant time; passwords use Django's hasher; cookies
are HttpOnly, and Secure in production. (`check --deploy` is asserted in tests/backend/core/test_settings.py.)"""
import hashlib
import hmac
import json
import os
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.contrib.auth.hashers import identify_hasher
from django.db import connection
from django.test import Client

from backend.core.errors import ApplicationError
from backend.devices import services, tokens
from backend.devices.models import Device, EnrollmentCode

ROOT = Path(__file__).resolve().parents[2]
STRONG_SECRET = "k3J9-very-long-random-production-secret-vQ8pX2mZ7tR4wY6nB1cF5hL0sD3gA"


def all_text_in_database() -> str:
    """Every text value of the devices tables, as stored."""
    with connection.cursor() as cursor:
        dumps = []
        for table in (Device._meta.db_table, EnrollmentCode._meta.db_table):
            cursor.execute(f"SELECT row_to_json(t)::text FROM {table} t")
            dumps += [row[0] for row in cursor.fetchall()]
    return "\n".join(dumps)


def test_a_device_token_is_stored_only_as_its_sha256_digest(patient, clinician):
    _, code = services.enrollment_code_issue(patient=patient, actor=clinician)
    device, token = services.device_enroll(code=code, label="Pixel")
    device.refresh_from_db()
    assert device.token_digest == hashlib.sha256(token.encode()).hexdigest()
    secret = token.partition(".")[2]
    stored = all_text_in_database()
    assert token not in stored and secret not in stored


def test_an_enrollment_code_is_stored_only_as_a_keyed_hmac(patient, clinician, settings):
    row, code = services.enrollment_code_issue(patient=patient, actor=clinician)
    normalized = tokens.enrollment_code_normalize(code)
    expected = hmac.new(settings.SECRET_KEY.encode(), normalized.encode(), hashlib.sha256).hexdigest()
    assert row.code_digest == expected
    stored = all_text_in_database()
    assert code not in stored and normalized not in stored


def test_device_tokens_are_compared_in_constant_time(device):
    with mock.patch.object(tokens.hmac, "compare_digest", wraps=hmac.compare_digest) as compare:
        assert services.device_authenticate(token=device.token) == device
        with pytest.raises(ApplicationError) as refused:
            services.device_authenticate(token=device.token[:-1] + ("A" if device.token[-1] != "A" else "B"))
    assert (refused.value.code, refused.value.status_code) == ("device_token_invalid", 401)
    assert compare.call_count == 2, "both the right and a wrong token went through hmac.compare_digest"


def test_passwords_are_stored_with_djangos_pbkdf2_hasher(clinician, settings):
    assert settings.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.PBKDF2PasswordHasher"
    assert identify_hasher(clinician.password).algorithm == "pbkdf2_sha256"
    assert clinician.check_password("correct horse battery staple")


def test_session_and_csrf_cookies_are_http_only(clinician):
    client = Client()
    page = client.get("/login/")
    assert page.cookies["csrftoken"]["httponly"]
    response = client.post("/login/", {"username": "dr_house", "password": "correct horse battery staple"})
    assert response.status_code == 302
    assert response.cookies["sessionid"]["httponly"]
    assert response.cookies["sessionid"]["samesite"] == "Lax"


def test_in_production_the_session_and_csrf_cookies_are_secure_and_http_only():
    code = (
        "import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps({n: getattr(s, n) "
        "for n in ['SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'CSRF_COOKIE_SECURE', 'CSRF_COOKIE_HTTPONLY', "
        "'SECURE_SSL_REDIRECT', 'DEBUG']}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY"}}
    env.update(DJANGO_ENV="production", SECRET_KEY=STRONG_SECRET, ALLOWED_HOSTS="moodwatch.example.org",
               DJANGO_SETTINGS_MODULE="backend.settings")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    values = json.loads(result.stdout.strip().splitlines()[-1])
    assert values == {"SESSION_COOKIE_SECURE": True, "SESSION_COOKIE_HTTPONLY": True, "CSRF_COOKIE_SECURE": True,
                      "CSRF_COOKIE_HTTPONLY": True, "SECURE_SSL_REDIRECT": True, "DEBUG": False}
