"""GET /healthz: 200 when the database and the broker answer, 503 naming the one that does not.

Run through `make test`, the broker is the real Redis on this machine.
"""
import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def real_broker(settings):
    if settings.CELERY_TASK_ALWAYS_EAGER or not settings.CELERY_BROKER_URL.startswith("redis://"):
        pytest.fail("needs CELERY_BROKER_URL (Redis): run through `make test`")


@pytest.fixture
def dead_broker(settings):
    """The broker URL points at a port where nothing listens."""
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_TASK_ALWAYS_EAGER = False


def test_healthz_is_ok_when_the_database_and_the_broker_answer(client, real_broker):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] and body["checks"]["broker"]["ok"]
    assert "detail" not in body["checks"]["broker"], "a real broker was reached, not skipped"
    assert response["Cache-Control"] == "no-store"


def test_healthz_is_503_naming_the_broker_when_the_broker_is_down(client, dead_broker):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["broker"] == {"ok": False, "detail": "OperationalError", "ms": body["checks"]["broker"]["ms"]}
    assert "127.0.0.1:1" not in response.content.decode(), "no connection details leak"


def test_healthz_is_503_naming_the_database_when_the_database_is_down(client, real_broker, monkeypatch):
    from django.db import connections

    def refuse(*args, **kwargs):
        from django.db import OperationalError

        raise OperationalError("connection refused")

    # The connection object is what reaches PostgreSQL; make it fail as a dead server would.
    monkeypatch.setattr(connections["default"], "cursor", refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["database"]["ok"] is False
    assert response.json()["checks"]["broker"]["ok"] is True


def test_in_process_mode_reports_that_no_broker_is_used(client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"]["broker"]["detail"] == "no broker: tasks run in process"


@override_settings(ALLOWED_HOSTS=["moodwatch.hospital.example"], SECURE_SSL_REDIRECT=True)
def test_a_container_probe_gets_the_health_not_a_redirect_or_a_bad_host_error(client, real_broker):
    # Probes call http://127.0.0.1:8000/healthz: plain HTTP and a Host that is not in ALLOWED_HOSTS.
    response = client.get("/healthz", HTTP_HOST="127.0.0.1:8000")
    assert response.status_code == 200
    assert client.get("/api/v1/patients/", HTTP_HOST="127.0.0.1:8000").status_code == 400, \
        "every other path still validates the host"


def test_healthz_takes_no_writes(client):
    response = client.post("/healthz")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
