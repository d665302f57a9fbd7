"""Production settings fail closed; the deploy check is clean with a real configuration."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
STRONG_SECRET = "k3J9-very-long-random-production-secret-vQ8pX2mZ7tR4wY6nB1cF5hL0sD3gA"


def manage(*args, **env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG", "DJANGO_ENV", "ALLOWED_HOSTS"}}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True,
        timeout=120,
    )


def test_production_without_a_secret_key_refuses_to_start():
    result = manage("check", DJANGO_ENV="production", ALLOWED_HOSTS="moodwatch.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_debug_off_without_a_secret_key_refuses_to_start():
    result = manage("check", DEBUG="false", ALLOWED_HOSTS="moodwatch.example.org")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_without_allowed_hosts_refuses_to_start():
    result = manage("check", DJANGO_ENV="production", SECRET_KEY=STRONG_SECRET)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_production_refuses_debug_on():
    result = manage("check", DJANGO_ENV="production", DEBUG="true", SECRET_KEY=STRONG_SECRET, ALLOWED_HOSTS="x.org")
    assert result.returncode != 0


def test_the_deploy_check_is_clean_in_production():
    result = manage(
        "check", "--deploy", "--fail-level", "DEBUG",
        DJANGO_ENV="production", SECRET_KEY=STRONG_SECRET, ALLOWED_HOSTS="moodwatch.example.org",
        CACHE_URL="redis://127.0.0.1:6379/1", MOODWATCH_PUBLIC_URL="https://moodwatch.example.org",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_the_deploy_check_warns_when_the_sites_address_is_not_set():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_ENV="production", SECRET_KEY=STRONG_SECRET, ALLOWED_HOSTS="moodwatch.example.org",
        CACHE_URL="redis://127.0.0.1:6379/1",
    )
    assert result.returncode != 0
    assert "moodwatch.W002" in result.stderr + result.stdout


def test_the_deploy_check_warns_when_rate_limits_are_not_shared_between_processes():
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        DJANGO_ENV="production", SECRET_KEY=STRONG_SECRET, ALLOWED_HOSTS="moodwatch.example.org",
        CACHE_URL="locmemcache://moodwatch",
    )
    assert result.returncode != 0
    assert "moodwatch.W001" in result.stderr + result.stdout


@pytest.mark.parametrize("name", ["MAX_FRAMES_PER_BATCH", "MAX_FRAME_BYTES", "MAX_FRAME_PIXELS",
                                  "MAX_JPEG_SCANS", "MAX_PNG_PIXELS", "MAX_PNG_DECODED_BYTES"])
def test_upload_limits_come_from_the_environment(name):
    code = f"from django.conf import settings; print(settings.MOODWATCH['{name}'])"
    result = subprocess.run(
        [
            sys.executable, "-c",
            "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'backend.settings'); django.setup(); "
            f"{code}",
        ],
        cwd=ROOT, env={**os.environ, name: "12345"}, capture_output=True, text=True, timeout=120,
    )
    assert result.stdout.strip() == "12345", result.stderr


@pytest.mark.parametrize("name, value", [("ALERT_NEGATIVE_SHARE", "0"), ("ALERT_MIN_RECORDS", "999999999999"),
                                         ("ALERT_WINDOW_DAYS", "0"), ("ALERT_NEGATIVE_SHARE", "1.5")])
def test_default_alert_thresholds_out_of_bounds_refuse_to_start(name, value):
    result = manage("check", DJANGO_ENV="test", **{name: value})
    assert result.returncode != 0
    assert "ALERT_<NAME> out of bounds" in result.stderr and name.removeprefix("ALERT_").lower() in result.stderr
