"""The second factor is required in production and cannot be switched off there; elsewhere it is
off unless asked for (so `make run`'s DEMO login stays one step)."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PRODUCTION = {"DJANGO_ENV": "production", "SECRET_KEY": "k3J9-very-long-random-production-secret-vQ8pX2mZ7tR4wY6nB1cF",
              "ALLOWED_HOSTS": "moodwatch.example.org"}
SHOW = "from django.conf import settings; print(settings.MOODWATCH_REQUIRE_2FA)"


def shell(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items()
             if k not in {"SECRET_KEY", "DEBUG", "DJANGO_ENV", "ALLOWED_HOSTS", "MOODWATCH_REQUIRE_2FA"}}
    return subprocess.run([sys.executable, "manage.py", "shell", "-c", SHOW], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def last_line(result: subprocess.CompletedProcess) -> str:
    return result.stdout.strip().splitlines()[-1]  # after the shell's own "N objects imported" line


def test_production_requires_the_second_factor_by_default():
    result = shell(**PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert last_line(result) == "True"


def test_production_refuses_to_start_with_the_second_factor_switched_off():
    result = shell(**PRODUCTION, MOODWATCH_REQUIRE_2FA="false")
    assert result.returncode != 0
    assert "MOODWATCH_REQUIRE_2FA cannot be off" in result.stderr


def test_development_does_not_require_it_unless_asked():
    assert last_line(shell(DJANGO_ENV="development")) == "False"
    assert last_line(shell(DJANGO_ENV="development", MOODWATCH_REQUIRE_2FA="true")) == "True"
