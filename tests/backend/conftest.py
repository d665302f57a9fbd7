"""Personas and helpers for backend tests.

Personas: the patient's clinician, another clinician, an admin (superuser), the patient's device,
another patient's device, an unknown device and a revoked device; the people also as logged-in
browser sessions (`*_web`) for the dashboard and the admin.
"""
import io
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from tests.backend.factories import DeviceFactory, PatientFactory, UserFactory
from tests.support import wait_until as wait_for_condition


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle counters live in the cache: no test inherits another's."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def clinician(db):
    return UserFactory(username="dr_house")


@pytest.fixture
def other_clinician(db):
    return UserFactory(username="dr_other")


@pytest.fixture
def admin_user(db):
    return UserFactory(username="admin", is_staff=True, is_superuser=True)


@pytest.fixture
def patient(clinician):
    return PatientFactory(reference="P-ALPHA", clinicians=[clinician], timezone="Europe/Paris")


@pytest.fixture
def other_patient(other_clinician):
    return PatientFactory(reference="P-BRAVO", clinicians=[other_clinician])


@pytest.fixture
def device(patient):
    return DeviceFactory(patient=patient)


@pytest.fixture
def other_device(other_patient):
    return DeviceFactory(patient=other_patient)


def client_with_device_token(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Device {token}")
    return client


@pytest.fixture
def device_client(device) -> APIClient:
    return client_with_device_token(device.token)


@pytest.fixture
def other_device_client(other_device) -> APIClient:
    return client_with_device_token(other_device.token)


@pytest.fixture
def unknown_device_client(db) -> APIClient:
    return client_with_device_token("0123456789ab.this-token-was-never-issued-to-anyone-at-all")


@pytest.fixture
def revoked_device_client(patient) -> APIClient:
    device = DeviceFactory(patient=patient, revoked_at=timezone.now())
    return client_with_device_token(device.token)


def clinician_client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- the same personas in a browser session (dashboard and admin) -----------------------------------

def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def clinician_web(clinician) -> Client:
    return logged_in(clinician)


@pytest.fixture
def other_clinician_web(other_clinician) -> Client:
    return logged_in(other_clinician)


@pytest.fixture
def admin_web(admin_user) -> Client:
    return logged_in(admin_user)


@pytest.fixture
def anonymous_web() -> Client:
    return Client()


# --- frames ----------------------------------------------------------------------------------------

def jpeg_from(path: Path, *, width: int = 640, quality: int = 85) -> bytes:
    """A phone-sized JPEG made from a real photo."""
    image = Image.open(path).convert("RGB")
    height = round(image.height * width / image.width)
    out = io.BytesIO()
    image.resize((width, height)).save(out, format="JPEG", quality=quality)
    return out.getvalue()


@pytest.fixture(scope="session")
def face_jpeg(sample_images_dir) -> bytes:
    return jpeg_from(sample_images_dir / "obama1.jpg")


@pytest.fixture(scope="session")
def two_faces_jpeg(sample_images_dir) -> bytes:
    return jpeg_from(sample_images_dir / "two_people.jpg", width=960)


@pytest.fixture(scope="session")
def face_png(sample_images_dir) -> bytes:
    image = Image.open(sample_images_dir / "obama-480p.jpg").convert("RGB")
    out = io.BytesIO()
    image.resize((480, round(image.height * 480 / image.width))).save(out, format="PNG")
    return out.getvalue()


def recent(seconds_ago: int = 60) -> str:
    """An ISO-8601 timestamp with offset, `seconds_ago` in the past, as a phone would send it."""
    return (timezone.now() - timedelta(seconds=seconds_ago)).astimezone().isoformat()


def batch_payload(frames: list[bytes], *, batch_id=None, captured_at=None, names=None) -> dict:
    """A multipart body for POST /api/v1/frame-batches/."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    names = names or [f"frame{i}.jpg" for i in range(len(frames))]
    return {
        "batch_id": str(batch_id or uuid.uuid4()),
        "frames": [SimpleUploadedFile(name, data, content_type="image/jpeg") for name, data in zip(names, frames)],
        "captured_at": captured_at if captured_at is not None else [recent(60 - i) for i in range(len(frames))],
    }


# --- a real Celery worker process ------------------------------------------------------------------

@contextmanager
def celery_worker_running(*, log: Path, concurrency: int = 1, **extra_env: str):
    """`celery -A backend worker` as a separate process on the test database, listening on a private
    queue that this process publishes to until the block ends; yields the process (`log_path` set).

    The worker reaches the frames through PostgreSQL (where they are stored), exactly as a worker
    on another host would. `extra_env` adds to (or overrides) the worker's environment."""
    import os
    import subprocess
    import sys

    from django.conf import settings
    from django.db import connection

    from backend.celery import app

    if connection.vendor != "postgresql" or settings.CELERY_TASK_ALWAYS_EAGER:
        pytest.fail("worker tests need PostgreSQL and Redis: run them through `make test`")
    db = connection.settings_dict
    queue = f"moodwatch-test-{uuid.uuid4().hex[:8]}"
    before, app.conf.task_default_queue = app.conf.task_default_queue, queue
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "CELERY_QUEUE": queue,
        "DJANGO_ENV": os.environ.get("DJANGO_ENV", "test"),
        **extra_env,
    }
    command = [
        sys.executable, "-m", "celery", "-A", "backend", "worker", "--pool=prefork", f"--concurrency={concurrency}",
        "--queues", f"{queue},{queue}-inference",  # housekeeping, batches
        "--hostname", f"{queue}@%h", "--loglevel=INFO",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]
    with open(log, "w") as log_file:
        process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    try:
        wait_for_condition(
            lambda: process.poll() is not None or " ready." in log.read_text(),
            timeout=120, what="the Celery worker to start",
        )
        if process.poll() is not None:
            pytest.fail(f"Celery worker exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        process.log_path = log
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        app.conf.task_default_queue = before


@pytest.fixture(scope="session")
def celery_worker_process(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real Celery worker for the session (celery_worker_running). Tests using it need
    `transactional_db` so their rows are committed."""
    with celery_worker_running(log=tmp_path_factory.mktemp("worker") / "worker.log") as process:
        yield process


@pytest.fixture
def wait_for():
    return wait_for_condition


def ingest(device, frames: list[bytes], *, captured_at=None):
    """Store a batch through the real validation and service (processing is not enqueued in `db` tests)."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from backend.ingest.services import batch_ingest
    from backend.ingest.uploads import frame_batch_upload_validate

    upload = frame_batch_upload_validate(
        batch_id=str(uuid.uuid4()),
        frames=[SimpleUploadedFile(f"f{i}.jpg", data) for i, data in enumerate(frames)],
        captured_at=captured_at or [recent(60 - i) for i in range(len(frames))],
    )
    batch, created = batch_ingest(device=device, upload=upload)
    assert created
    return batch


@pytest.fixture(scope="session")
def faceless_jpeg() -> bytes:
    """A real, decodable photo-sized frame with no face in it (a blank wall)."""
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (181, 176, 170)).save(out, format="JPEG")
    return out.getvalue()
